using System;
using System.Collections.Generic;
using System.Data;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace ValidCode;

// A wrapper with a primary constructor that owns the connection it is given.
public sealed class OwnedSession(MySqlConnection connection, string tenant) : IAsyncDisposable
{
    public string Tenant { get; } = tenant;

    public Task<int> ExecuteAsync(string sql) => connection.ExecuteAsync(sql);

    public ValueTask DisposeAsync() => connection.DisposeAsync();
}

public sealed class PinnedAndHandedOff : IDisposable
{
    private readonly TenantDataSources _sources;
    private readonly TenantPools _pools;
    private readonly TenantConnectionFactory _factory;
    private readonly object _gate = new();
    private MySqlConnection? _pinned;

    public PinnedAndHandedOff(TenantDataSources sources, TenantPools pools, TenantConnectionFactory factory)
    {
        _sources = sources;
        _pools = pools;
        _factory = factory;
    }

    // Handed to a wrapper that owns it; the wrapper is disposed by the using.
    public async Task<int> ViaSessionAsync(string tenant, CancellationToken ct)
    {
        await using var session = new OwnedSession(await _sources.GetDataSource(tenant).OpenConnectionAsync(ct), tenant);
        return await session.ExecuteAsync("SELECT 1");
    }

    // The session as the factory's result: the caller owns it.
    public async Task<OwnedSession> OpenSessionAsync(string tenant, CancellationToken ct) =>
        new OwnedSession(await _sources.GetDataSource(tenant).OpenConnectionAsync(ct), tenant);

    // A connection pinned in a field under a lock, replaced and disposed by the class.
    public MySqlConnection Pinned(string tenant)
    {
        lock (_gate)
        {
            if (_pinned is { State: ConnectionState.Open })
            {
                return _pinned;
            }

            _pinned?.Dispose();
            _pinned = _factory.Open(tenant);
            return _pinned;
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _pinned?.Dispose();
            _pinned = null;
        }
    }

    // Released through Interlocked.Exchange in a finally.
    public async Task<int> ExchangeAsync(string tenant, CancellationToken ct)
    {
        MySqlConnection? connection = await _sources.GetDataSource(tenant).OpenConnectionAsync(ct);
        try
        {
            return await connection.ExecuteAsync("SELECT 1");
        }
        finally
        {
            Interlocked.Exchange(ref connection, null)?.Dispose();
        }
    }

    // A Task.Run whose lambda owns its connection.
    public Task<int> InBackground(string tenant) => Task.Run(() =>
    {
        using var connection = _factory.Open(tenant);
        return connection.Execute("DELETE FROM sessions WHERE expires < NOW()");
    });

    // An early return before the acquisition, a using after.
    public async Task<int?> FindAsync(string? tenant, long id, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(tenant))
        {
            return null;
        }

        await using var connection = await _sources.GetDataSource(tenant).OpenConnectionAsync(ct);
        return await connection.QuerySingleOrDefaultAsync<int?>("SELECT qty FROM stock WHERE id = @id", new { id });
    }

    // A catch that returns a default value; the using releases on both.
    public async Task<long> CountOrZeroAsync(string tenant, CancellationToken ct)
    {
        try
        {
            await using var connection = await _sources.GetDataSource(tenant).OpenConnectionAsync(ct);
            return await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM orders");
        }
        catch (MySqlException)
        {
            return 0;
        }
    }

    // A lease released in the finally, with a catch that returns and one that wraps.
    public async Task<int> ArchiveAsync(string tenant, CancellationToken ct)
    {
        var pooled = await _pools.For(tenant).GetConnectionAsync(ct);
        try
        {
            return await pooled.ExecuteAsync("INSERT INTO archive SELECT * FROM orders WHERE done = 1", cancellationToken: ct);
        }
        catch (OperationCanceledException)
        {
            return 0;
        }
        catch (MySqlException e)
        {
            throw new InvalidOperationException($"Archiving for {tenant} failed.", e);
        }
        finally
        {
            pooled.Release();
        }
    }

    // The connection reached through a property of a lease in a using.
    public async Task<IReadOnlyList<string>> TablesAsync(TenantDatabase db, string tenant, CancellationToken ct)
    {
        await using var lease = await db.GetConnectionAsync(tenant, ct);
        var connection = lease.Connection;
        return (await connection.QueryAsync<string>("SHOW TABLES")).AsList();
    }

    // A loop that takes and releases a lease per item, with a continue before the release.
    public async Task<int> TouchAllAsync(IEnumerable<string> tenants, CancellationToken ct)
    {
        var total = 0;
        foreach (var tenant in tenants)
        {
            var pooled = await _pools.For(tenant).GetConnectionAsync(ct);
            try
            {
                var n = await pooled.ExecuteAsync("UPDATE heartbeat SET at = NOW()", cancellationToken: ct);
                if (n == 0)
                {
                    continue;
                }

                total += n;
            }
            finally
            {
                pooled.Release();
            }
        }

        return total;
    }

    // A while loop reading with a using reader and an early break.
    public async Task<List<string>> FirstNamesAsync(string tenant, int max, CancellationToken ct)
    {
        var names = new List<string>();
        await using var connection = await _sources.GetDataSource(tenant).OpenConnectionAsync(ct);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT name FROM customers";
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            if (names.Count >= max)
            {
                break;
            }

            names.Add(reader.GetString(0));
        }

        return names;
    }

    // A nullable local assigned in one branch only, disposed when set.
    public int MaybeCleanup(string tenant, bool enabled)
    {
        MySqlConnection? connection = null;
        if (enabled)
        {
            connection = _factory.Open(tenant);
        }

        try
        {
            return connection?.Execute("DELETE FROM tmp") ?? 0;
        }
        finally
        {
            connection?.Dispose();
        }
    }

    // Opened, then handed to a list that the caller disposes; every element disposed in the finally.
    public async Task<int> FanOutAsync(IReadOnlyList<string> tenants, CancellationToken ct)
    {
        var open = new List<MySqlConnection>();
        try
        {
            foreach (var tenant in tenants)
            {
                open.Add(await _sources.GetDataSource(tenant).OpenConnectionAsync(ct));
            }

            var results = await Task.WhenAll(open.Select(c => c.ExecuteAsync("SELECT 1")));
            return results.Sum();
        }
        finally
        {
            foreach (var connection in open)
            {
                await connection.DisposeAsync();
            }
        }
    }

    // Local function that releases, called in the finally.
    public async Task<int> WithLocalReleaseAsync(string tenant, CancellationToken ct)
    {
        var pooled = await _pools.For(tenant).GetConnectionAsync(ct);
        try
        {
            return await pooled.ExecuteAsync("SELECT 1", cancellationToken: ct);
        }
        finally
        {
            GiveBack();
        }

        void GiveBack() => pooled.Release();
    }
}
