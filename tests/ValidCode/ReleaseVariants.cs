using System;
using System.Data;
using System.Runtime.ExceptionServices;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace ValidCode;

/// <summary>A connection wrapped in a record struct; disposing the lease disposes the connection.</summary>
public readonly record struct ConnectionLeaseRecord(MySqlConnection Connection) : IDisposable
{
    public void Dispose() => Connection.Dispose();
}

/// <summary>Releases written in the many ways real services write them.</summary>
public sealed class ReleaseVariants(TenantDataSources sources, MySqlDataSource replica)
{
    public MySqlConnection NewPrimaryConnection => sources.Master.OpenConnection();

    public int ChosenByCondition(string tenant, bool useReplica)
    {
        var connection = useReplica ? replica.OpenConnection() : sources.GetDataSource(tenant).OpenConnection();
        using (connection)
        {
            return connection.ExecuteScalar<int>("SELECT COUNT(*) FROM orders");
        }
    }

    public async Task<int> MaybeOpenedAsync(string tenant, bool needed, CancellationToken ct)
    {
        MySqlConnection? connection = null;
        try
        {
            if (needed)
            {
                connection = await sources.GetDataSource(tenant).OpenConnectionAsync(ct).ConfigureAwait(false);
                return await connection.ExecuteAsync("UPDATE stats SET hits = hits + 1").ConfigureAwait(false);
            }

            return 0;
        }
        finally
        {
            if (connection is not null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    public void CloseWhenOpenThenDispose(string tenant)
    {
        var connection = sources.GetDataSource(tenant).OpenConnection();
        try
        {
            connection.Execute("UPDATE stats SET hits = hits + 1");
        }
        finally
        {
            if (connection.State != ConnectionState.Closed)
            {
                connection.Close();
            }

            connection.Dispose();
        }
    }

    public async Task ThroughInterfacesAsync(string tenant, CancellationToken ct)
    {
        var first = sources.GetDataSource(tenant).OpenConnection();
        try
        {
            first.Execute("SELECT 1");
        }
        finally
        {
            ((IDisposable)first).Dispose();
        }

        var second = await sources.GetDataSource(tenant).OpenConnectionAsync(ct).ConfigureAwait(false);
        try
        {
            await second.ExecuteAsync("SELECT 1").ConfigureAwait(false);
        }
        finally
        {
            await ((IAsyncDisposable)second).DisposeAsync().ConfigureAwait(false);
        }
    }

    public int ReleasedByLocalFunction(string tenant)
    {
        var connection = sources.GetDataSource(tenant).OpenConnection();
        try
        {
            return connection.ExecuteScalar<int>("SELECT 1");
        }
        finally
        {
            Release();
        }

        void Release() => connection.Dispose();
    }

    public int ReleasedByDelegate(string tenant)
    {
        var connection = sources.GetDataSource(tenant).OpenConnection();
        Action cleanup = () => connection.Dispose();
        try
        {
            return connection.ExecuteScalar<int>("SELECT 1");
        }
        finally
        {
            cleanup();
        }
    }

    public int ReleasedInCatchAndAfter(string tenant)
    {
        var connection = sources.GetDataSource(tenant).OpenConnection();
        int rows;
        try
        {
            rows = connection.Execute("DELETE FROM sessions WHERE expired = 1");
        }
        catch (Exception e)
        {
            connection.Dispose();
            ExceptionDispatchInfo.Capture(e).Throw();
            throw;
        }

        connection.Dispose();
        return rows;
    }

    public async Task<int> DeconstructedAsync(string tenant, CancellationToken ct)
    {
        var (connection, transaction) = await BeginAsync(tenant, ct).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        await using (transaction.ConfigureAwait(false))
        {
            var rows = await connection.ExecuteAsync("UPDATE stats SET hits = 0", transaction: transaction)
                .ConfigureAwait(false);
            await transaction.CommitAsync(ct).ConfigureAwait(false);
            return rows;
        }
    }

    public int ThroughRecordLease(string tenant)
    {
        using var lease = new ConnectionLeaseRecord(sources.GetDataSource(tenant).OpenConnection());
        return lease.Connection.ExecuteScalar<int>("SELECT 1");
    }

    public string FromProperty()
    {
        using var connection = NewPrimaryConnection;
        return connection.ServerVersion;
    }

    public int OwnedOrBorrowed(MySqlConnection? existing, string tenant)
    {
        var owns = existing is null;
        var connection = existing ?? sources.GetDataSource(tenant).OpenConnection();
        try
        {
            return connection.ExecuteScalar<int>("SELECT 1");
        }
        finally
        {
            if (owns)
            {
                connection.Dispose();
            }
        }
    }

    public async Task<int> PatternMatchedAsync(string tenant, CancellationToken ct)
    {
        if (await TryOpenAsync(tenant, ct).ConfigureAwait(false) is not { } connection)
        {
            return -1;
        }

        await using (connection.ConfigureAwait(false))
        {
            return await connection.ExecuteScalarAsync<int>("SELECT 1").ConfigureAwait(false);
        }
    }

    public int ReopenedInLoop(string tenant, string[] statements)
    {
        using var connection = new MySqlConnection(sources.GetDataSource(tenant).ConnectionString);
        var total = 0;
        foreach (var sql in statements)
        {
            connection.Open();
            total += connection.Execute(sql);
            connection.Close();
        }

        return total;
    }

    private async Task<(MySqlConnection Connection, MySqlTransaction Transaction)> BeginAsync(
        string tenant, CancellationToken ct)
    {
        var connection = await sources.GetDataSource(tenant).OpenConnectionAsync(ct).ConfigureAwait(false);
        try
        {
            var transaction = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
            return (connection, transaction);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task<MySqlConnection?> TryOpenAsync(string tenant, CancellationToken ct)
    {
        try
        {
            return await sources.GetDataSource(tenant).OpenConnectionAsync(ct).ConfigureAwait(false);
        }
        catch (MySqlException)
        {
            return null;
        }
    }
}
