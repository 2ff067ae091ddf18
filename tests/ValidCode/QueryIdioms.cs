using System;
using System.Collections.Generic;
using System.Data;
using System.Data.Common;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace ValidCode;

public enum ReadKind { Primary, Replica }

public sealed class QueryIdioms
{
    private readonly TenantDataSources _sources;
    private readonly TenantPools _pools;
    private readonly TenantDatabase _db;
    private readonly TenantConnectionFactory _factory;

    public QueryIdioms(TenantDataSources sources, TenantPools pools, TenantDatabase db, TenantConnectionFactory factory)
    {
        _sources = sources;
        _pools = pools;
        _db = db;
        _factory = factory;
    }

    // A switch expression picks the data source; the using releases whichever it opened.
    public async Task<long> CountBySwitchAsync(string tenant, ReadKind kind, CancellationToken ct)
    {
        await using var connection = kind switch
        {
            ReadKind.Primary => await _sources.GetDataSource(tenant).OpenConnectionAsync(ct),
            _ => await _sources.Master.OpenConnectionAsync(ct),
        };
        return await connection.ExecuteScalarAsync<long>(new CommandDefinition("SELECT COUNT(*) FROM orders", cancellationToken: ct));
    }

    // A conditional operator picks the pool; the finally gives back the lease it took.
    public async Task<int> TouchAsync(string tenant, bool useMaster, CancellationToken ct)
    {
        var pooled = useMaster ? await _pools.For("master").GetConnectionAsync(ct) : await _pools.For(tenant).GetConnectionAsync(ct);
        try
        {
            return await pooled.ExecuteAsync("UPDATE heartbeat SET at = NOW()", cancellationToken: ct);
        }
        finally
        {
            pooled.Release();
        }
    }

    // A factory that opens, and on failure of its setup disposes before rethrowing: the caller owns the result.
    public async Task<MySqlConnection> OpenWithTimeZoneAsync(string tenant, string zone, CancellationToken ct)
    {
        var connection = await _sources.GetDataSource(tenant).OpenConnectionAsync(ct);
        try
        {
            await connection.ExecuteAsync(new CommandDefinition("SET time_zone = @zone", new { zone }, cancellationToken: ct));
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    // The caller of that factory.
    public async Task<DateTime> NowAsync(string tenant, CancellationToken ct)
    {
        await using var connection = await OpenWithTimeZoneAsync(tenant, "+00:00", ct);
        return await connection.ExecuteScalarAsync<DateTime>(new CommandDefinition("SELECT NOW()", cancellationToken: ct));
    }

    // An async iterator streams rows while the using holds the connection; the caller's await foreach disposes it.
    public async IAsyncEnumerable<long> StreamIdsAsync(string tenant, [EnumeratorCancellation] CancellationToken ct = default)
    {
        await using var connection = await _sources.GetDataSource(tenant).OpenConnectionAsync(ct);
        await using var command = new MySqlCommand("SELECT id FROM orders ORDER BY id", connection);
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            yield return reader.GetInt64(0);
        }
    }

    // ConfigureAwait on the using.
    public async Task<int> CountConfiguredAsync(string tenant, CancellationToken ct)
    {
        var connection = await _sources.GetDataSource(tenant).OpenConnectionAsync(ct).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            return await connection.ExecuteScalarAsync<int>(new CommandDefinition("SELECT 1", cancellationToken: ct)).ConfigureAwait(false);
        }
    }

    // A foreach with continue and break inside the using's scope.
    public async Task<int> FirstNonEmptyAsync(IEnumerable<string> tenants, CancellationToken ct)
    {
        foreach (var tenant in tenants)
        {
            await using var connection = await _sources.GetDataSource(tenant).OpenConnectionAsync(ct);
            var n = await connection.ExecuteScalarAsync<int>(new CommandDefinition("SELECT COUNT(*) FROM orders", cancellationToken: ct));
            if (n == 0)
            {
                continue;
            }

            if (n > 0)
            {
                return n;
            }
        }

        return 0;
    }

    // Tasks in parallel, each with its own using inside the lambda.
    public async Task<long[]> CountAllAsync(IReadOnlyList<string> tenants, CancellationToken ct)
    {
        var tasks = tenants.Select(async tenant =>
        {
            await using var lease = await _db.GetConnectionAsync(tenant, ct);
            return await lease.Connection.ExecuteScalarAsync<long>(new CommandDefinition("SELECT COUNT(*) FROM orders", cancellationToken: ct));
        });
        return await Task.WhenAll(tasks);
    }

    // An exception filter that logs and does not catch.
    public async Task<int> ExecuteLoggedAsync(string tenant, string sql, CancellationToken ct)
    {
        var pooled = await _pools.For(tenant).GetConnectionAsync(ct);
        try
        {
            return await pooled.ExecuteAsync(sql, cancellationToken: ct);
        }
        catch (MySqlException e) when (Log(e))
        {
            throw;
        }
        finally
        {
            pooled.Release();
        }
    }

    private static bool Log(Exception e)
    {
        Console.Error.WriteLine(e.Message);
        return false;
    }

    // A switch statement with a using in each case block.
    public async Task<long> CountSectionsAsync(string tenant, int which, CancellationToken ct)
    {
        switch (which)
        {
            case 0:
            {
                await using var connection = await _sources.GetDataSource(tenant).OpenConnectionAsync(ct);
                return await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM orders");
            }
            case 1:
            {
                using var connection = _factory.Open(tenant);
                return connection.ExecuteScalar<long>("SELECT COUNT(*) FROM customers");
            }
            default:
                return -1;
        }
    }

    // A goto-based retry that releases before every jump back.
    public int ExecuteWithRetry(string tenant, string sql)
    {
        var attempts = 0;
    again:
        var connection = _factory.Open(tenant);
        try
        {
            return connection.Execute(sql);
        }
        catch (MySqlException e) when (e.IsTransient && attempts++ < 3)
        {
            // The finally disposes this connection on the way out of the try, goto included.
            goto again;
        }
        finally
        {
            connection.Dispose();
        }
    }

    // A tuple of connection and transaction returned by a helper; both disposed by the caller.
    private async Task<(MySqlConnection Connection, MySqlTransaction Transaction)> BeginAsync(string tenant, CancellationToken ct)
    {
        var connection = await _sources.GetDataSource(tenant).OpenConnectionAsync(ct);
        try
        {
            var transaction = await connection.BeginTransactionAsync(ct);
            return (connection, transaction);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    public async Task TransferAsync(string tenant, long from, long to, decimal amount, CancellationToken ct)
    {
        var (connection, transaction) = await BeginAsync(tenant, ct);
        await using (connection)
        await using (transaction)
        {
            await connection.ExecuteAsync("UPDATE accounts SET balance = balance - @amount WHERE id = @from", new { amount, from }, transaction);
            await connection.ExecuteAsync("UPDATE accounts SET balance = balance + @amount WHERE id = @to", new { amount, to }, transaction);
            await transaction.CommitAsync(ct);
        }
    }

    // Dapper on an unopened connection that it opens and closes; the using disposes it.
    public async Task<IReadOnlyList<string>> NamesAsync(string connectionString)
    {
        using var connection = new MySqlConnection(connectionString);
        return (await connection.QueryAsync<string>("SELECT name FROM customers")).AsList();
    }

    // Nested usings in one statement list, the second from the first's data source.
    public async Task CopyAsync(string from, string to, CancellationToken ct)
    {
        await using var source = await _sources.GetDataSource(from).OpenConnectionAsync(ct);
        await using var target = await _sources.GetDataSource(to).OpenConnectionAsync(ct);
        var rows = await source.QueryAsync<(long Id, string Name)>("SELECT id, name FROM customers");
        foreach (var row in rows)
        {
            await target.ExecuteAsync("INSERT INTO customers (id, name) VALUES (@Id, @Name)", new { row.Id, row.Name });
        }
    }

    // The lease given back in a finally through a null-conditional, taken in the try.
    public async Task<int> MaybeAsync(string tenant, CancellationToken ct)
    {
        PooledConnection? pooled = null;
        try
        {
            pooled = await _pools.For(tenant).GetConnectionAsync(ct);
            return await pooled.ExecuteAsync("DELETE FROM sessions WHERE expires < NOW()", cancellationToken: ct);
        }
        finally
        {
            pooled?.Release();
        }
    }

    // A using on a lease from a ternary with a null side.
    public async Task<int> OptionalAsync(string? tenant, CancellationToken ct)
    {
        await using var lease = tenant is null ? null : await _db.GetConnectionAsync(tenant, ct);
        if (lease is null)
        {
            return 0;
        }

        return await lease.Connection.ExecuteAsync("SELECT 1");
    }

    // A static helper that takes a function; the lambda uses, the helper owns.
    public Task<long> CountWithHelperAsync(string tenant, CancellationToken ct) =>
        WithConnectionAsync(_sources.GetDataSource(tenant), c => c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM orders"), ct);

    private static async Task<T> WithConnectionAsync<T>(MySqlDataSource source, Func<MySqlConnection, Task<T>> work, CancellationToken ct)
    {
        await using var connection = await source.OpenConnectionAsync(ct);
        return await work(connection);
    }
}
