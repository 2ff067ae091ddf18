using System;
using System.Collections.Generic;
using System.Data;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace ValidCode;

/// <summary>Connections given back on every path in ways a team writes without thinking twice.</summary>
public sealed class CarefulReleases
{
    private readonly string _cs;
    private readonly TenantPool _pool;
    private readonly TenantDatabase _database;

    public CarefulReleases(string cs, TenantPool pool, TenantDatabase database)
    {
        _cs = cs;
        _pool = pool;
        _database = database;
    }

    public async Task<int> ReleasedInEverySwitchSectionAsync(int kind, CancellationToken token)
    {
        var conn = await _pool.GetConnectionAsync(token);
        switch (kind)
        {
            case 0:
                conn.Release();
                return 0;
            case 1 when token.CanBeCanceled:
                try
                {
                    return await conn.ExecuteAsync("DELETE FROM sessions", cancellationToken: token);
                }
                finally
                {
                    conn.Release();
                }

            default:
                conn.Release();
                return -1;
        }
    }

    public async Task<long> ReleasedBeforeEachEarlyReturnAsync(string? filter, CancellationToken token)
    {
        var conn = await _pool.GetConnectionAsync(token);
        if (filter is null)
        {
            conn.Release();
            return 0;
        }

        IReadOnlyList<long> ids;
        try
        {
            ids = await conn.QueryAsync<long>("SELECT id FROM customers WHERE name LIKE @f", new { f = filter }, token);
        }
        catch
        {
            conn.Release();
            throw;
        }

        conn.Release();
        return ids.Count;
    }

    public int ReleasedAtALabel(bool skip)
    {
        var lease = _database.GetConnection("acme");
        var n = 0;
        if (skip)
        {
            goto done;
        }

        try
        {
            n = lease.Connection.ExecuteScalar<int>("SELECT COUNT(*) FROM orders");
        }
        catch (Exception)
        {
            n = -1;
        }

    done:
        lease.Dispose();
        return n;
    }

    public async Task<int> ConditionalAcquisitionDisposedInFinallyAsync(bool needed, CancellationToken token)
    {
        MySqlConnection? conn = null;
        try
        {
            if (needed)
            {
                conn = new MySqlConnection(_cs);
                await conn.OpenAsync(token);
                return await conn.ExecuteScalarAsync<int>(new CommandDefinition("SELECT 1", cancellationToken: token));
            }

            return 0;
        }
        finally
        {
            if (conn is not null)
            {
                await conn.DisposeAsync();
            }
        }
    }

    public async Task<int> ReleasedInABreakOutOfALoopAsync(IReadOnlyList<string> tenants, CancellationToken token)
    {
        var done = 0;
        foreach (var tenant in tenants)
        {
            var lease = await _database.GetConnectionAsync(tenant, token);
            try
            {
                if (await lease.Connection.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM jobs") == 0)
                {
                    break;
                }

                done++;
            }
            finally
            {
                await lease.DisposeAsync();
            }
        }

        return done;
    }

    public bool TryOpen(out MySqlConnection? connection)
    {
        var conn = new MySqlConnection(_cs);
        try
        {
            conn.Open();
        }
        catch (MySqlException)
        {
            conn.Dispose();
            connection = null;
            return false;
        }

        connection = conn;
        return true;
    }

    public int UsesTryOpen()
    {
        if (!TryOpen(out var conn) || conn is null)
        {
            return -1;
        }

        using (conn)
        {
            return conn.ExecuteScalar<int>("SELECT 1");
        }
    }

    public async IAsyncEnumerable<long> StreamIdsAsync([EnumeratorCancellation] CancellationToken token = default)
    {
        await using var conn = new MySqlConnection(_cs);
        await conn.OpenAsync(token);
        await using var cmd = new MySqlCommand("SELECT id FROM orders", conn);
        await using var reader = await cmd.ExecuteReaderAsync(token);
        while (await reader.ReadAsync(token))
        {
            yield return reader.GetInt64(0);
        }
    }

    public IEnumerable<string> NamesIterator()
    {
        var conn = new MySqlConnection(_cs);
        try
        {
            conn.Open();
            foreach (var name in conn.Query<string>("SELECT name FROM customers", buffered: false))
            {
                yield return name;
            }
        }
        finally
        {
            conn.Dispose();
        }
    }

    public async Task<(MySqlConnection Connection, MySqlTransaction Transaction)> BeginAsync(CancellationToken token)
    {
        var conn = new MySqlConnection(_cs);
        try
        {
            await conn.OpenAsync(token);
            var tx = await conn.BeginTransactionAsync(IsolationLevel.ReadCommitted, token);
            return (conn, tx);
        }
        catch
        {
            await conn.DisposeAsync();
            throw;
        }
    }

    public async Task<int> UsesBeginAsync(CancellationToken token)
    {
        var (conn, tx) = await BeginAsync(token);
        await using (conn)
        await using (tx)
        {
            var n = await conn.ExecuteAsync("UPDATE counters SET n = n + 1", transaction: tx);
            await tx.CommitAsync(token);
            return n;
        }
    }

    public async Task<int> ReleasedWhateverTheFilterSaysAsync(CancellationToken token)
    {
        var conn = await _pool.GetConnectionAsync(token);
        try
        {
            return await conn.ExecuteAsync("UPDATE counters SET n = 0", cancellationToken: token);
        }
        catch (MySqlException ex) when (ex.ErrorCode == MySqlErrorCode.LockDeadlock)
        {
            return -1;
        }
        finally
        {
            conn.Release();
        }
    }

    public int DisposedThroughIDisposableCast()
    {
        IDbConnection conn = new MySqlConnection(_cs);
        using ((IDisposable)conn)
        {
            conn.Open();
            return conn.ExecuteScalar<int>("SELECT 1");
        }
    }

    public async Task<int> ReleasedOnBothSidesOfATernaryAsync(bool quick, CancellationToken token)
    {
        var conn = await _pool.GetConnectionAsync(token);
        int n;
        try
        {
            n = quick ? 1 : await conn.ExecuteAsync("SELECT 1", cancellationToken: token);
        }
        finally
        {
            conn.Release();
        }

        return n;
    }

    public async Task<int> WithRetryAsync(CancellationToken token)
    {
        for (var attempt = 1; ; attempt++)
        {
            await using var conn = new MySqlConnection(_cs);
            try
            {
                await conn.OpenAsync(token);
                return await conn.ExecuteAsync("UPDATE counters SET n = n + 1");
            }
            catch (MySqlException) when (attempt < 3)
            {
                await Task.Delay(10 * attempt, token);
            }
        }
    }

    public async Task<int> PerTenantWithContinueAsync(IEnumerable<string> tenants, CancellationToken token)
    {
        var total = 0;
        foreach (var tenant in tenants)
        {
            if (tenant.Length == 0)
            {
                continue;
            }

            await using var lease = await _database.GetConnectionAsync(tenant, token);
            if (tenant.StartsWith("test", StringComparison.Ordinal))
            {
                continue;
            }

            total += await lease.Connection.ExecuteAsync("UPDATE tenants SET seen = NOW()");
        }

        return total;
    }

    public async Task<int> HandedToATaskThatIsAwaitedAsync(CancellationToken token)
    {
        var conn = await _pool.GetConnectionAsync(token);
        try
        {
            var work = Task.Run(() => conn.ExecuteAsync("SELECT SLEEP(0)", cancellationToken: token), token);
            return await work;
        }
        finally
        {
            conn.Release();
        }
    }

    public int ReleasedThroughNullConditionalInFinally(bool open)
    {
        PooledConnection? conn = null;
        try
        {
            if (open)
            {
                conn = _pool.GetConnectionAsync().GetAwaiter().GetResult();
            }

            return conn is null ? 0 : conn.ExecuteAsync("SELECT 1").GetAwaiter().GetResult();
        }
        finally
        {
            conn?.Release();
        }
    }
}
