using System;
using System.Collections.Generic;
using System.Data;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace ValidCode;

public static class QuietDisposal
{
    public static void DisposeQuietly(this MySqlConnection? connection)
    {
        try
        {
            connection?.Dispose();
        }
        catch (MySqlException)
        {
        }
    }
}

public sealed class CleanupFlows
{
    private readonly TenantDataSources _sources;
    private readonly TenantPools _pools;
    private readonly TenantConnectionFactory _factory;

    public CleanupFlows(TenantDataSources sources, TenantPools pools, TenantConnectionFactory factory)
    {
        _sources = sources;
        _pools = pools;
        _factory = factory;
    }

    public int DiscardUsing(string tenant)
    {
        var connection = _factory.Open(tenant);
        using var _ = connection;
        return connection.Execute("SELECT 1");
    }

    private async Task<(bool Ok, MySqlConnection? Connection)> TryOpenAsync(string tenant, CancellationToken ct)
    {
        try
        {
            return (true, await _sources.GetDataSource(tenant).OpenConnectionAsync(ct));
        }
        catch (MySqlException)
        {
            return (false, null);
        }
    }

    public async Task<int> TupleTryAsync(string tenant, CancellationToken ct)
    {
        var (ok, connection) = await TryOpenAsync(tenant, ct);
        if (!ok || connection is null)
        {
            return 0;
        }

        await using (connection)
        {
            return await connection.ExecuteAsync("SELECT 1");
        }
    }

    public void CloseByState(string tenant)
    {
        var connection = _factory.Open(tenant);
        try
        {
            connection.Execute("SELECT 1");
        }
        finally
        {
            switch (connection.State)
            {
                case ConnectionState.Closed:
                    break;
                default:
                    connection.Close();
                    break;
            }

            connection.Dispose();
        }
    }

    public int Quiet(string tenant)
    {
        var connection = _factory.Open(tenant);
        try
        {
            return connection.Execute("SELECT 1");
        }
        finally
        {
            connection.DisposeQuietly();
        }
    }

    public async Task<int> DelegateCleanupAsync(string tenant, CancellationToken ct)
    {
        var connection = await _sources.GetDataSource(tenant).OpenConnectionAsync(ct);
        Func<ValueTask> cleanup = () => connection.DisposeAsync();
        try
        {
            return await connection.ExecuteAsync("SELECT 1");
        }
        finally
        {
            await cleanup();
        }
    }

    public async Task<int> LocalFunctionCleanupAsync(string tenant, CancellationToken ct)
    {
        var pooled = await _pools.For(tenant).GetConnectionAsync(ct);
        try
        {
            return await pooled.ExecuteAsync("SELECT 1", cancellationToken: ct);
        }
        finally
        {
            await GiveBackAsync();
        }

        Task GiveBackAsync()
        {
            pooled.Release();
            return Task.CompletedTask;
        }
    }

    public int WhileTrueBreak(string tenant)
    {
        var connection = _factory.Open(tenant);
        var n = 0;
        try
        {
            while (true)
            {
                n += connection.Execute("DELETE FROM queue LIMIT 100");
                if (n == 0 || n > 10_000)
                {
                    break;
                }
            }
        }
        finally
        {
            connection.Dispose();
        }

        return n;
    }

    public async Task ParallelAsync(IEnumerable<string> tenants, CancellationToken ct)
    {
        await Parallel.ForEachAsync(tenants, ct, async (tenant, token) =>
        {
            await using var connection = await _sources.GetDataSource(tenant).OpenConnectionAsync(token);
            await connection.ExecuteAsync(new CommandDefinition("UPDATE heartbeat SET at = NOW()", cancellationToken: token));
        });
    }

    public Task<int> AfterADelay(string tenant, TimeSpan delay)
    {
        var wait = Task.Delay(delay);
        var connection = _factory.Open(tenant);
        return wait.ContinueWith(_ =>
        {
            using (connection)
            {
                return connection.Execute("DELETE FROM sessions WHERE expires < NOW()");
            }
        }, TaskScheduler.Default);
    }

    public int CheckedBlock(string tenant, int a, int b)
    {
        using var connection = _factory.Open(tenant);
        checked
        {
            return connection.Execute("UPDATE t SET x = @x", new { x = a * b });
        }
    }

    public long TransactionConnection(string tenant)
    {
        using var connection = _factory.Open(tenant);
        using var transaction = connection.BeginTransaction();
        var n = connection.ExecuteScalar<long>("SELECT COUNT(*) FROM orders", transaction: transaction);
        transaction.Commit();
        return n;
    }

    public async Task<int> NestedTryAsync(string tenant, CancellationToken ct)
    {
        var pooled = await _pools.For(tenant).GetConnectionAsync(ct);
        try
        {
            try
            {
                return await pooled.ExecuteAsync("SELECT 1", cancellationToken: ct);
            }
            catch (MySqlException) when (!ct.IsCancellationRequested)
            {
                return await pooled.ExecuteAsync("SELECT 2", cancellationToken: ct);
            }
        }
        finally
        {
            pooled.Release();
        }
    }
}
