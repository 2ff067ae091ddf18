using System;
using System.Collections.Concurrent;
using System.Data.Common;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace ValidCode;

/// <summary>A reader of a tenant's orders that owns its connection and gives it back when disposed.</summary>
public sealed class OwnedOrderReader : IAsyncDisposable
{
    private readonly MySqlConnection _connection;

    public OwnedOrderReader(MySqlConnection connection) => _connection = connection;

    public Task<int> CountAsync() => _connection.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM orders");

    public ValueTask DisposeAsync() => _connection.DisposeAsync();
}

/// <summary>Connections whose ownership moves on purpose, with the flag and hand-off patterns libraries use.</summary>
public sealed class OwnershipHandOffs : IAsyncDisposable
{
    private readonly string _cs;
    private readonly ConcurrentDictionary<string, MySqlConnection> _pinned = new();

    public OwnershipHandOffs(string cs) => _cs = cs;

    public async Task<MySqlConnection> OpenOwnedAsync(CancellationToken token)
    {
        var conn = new MySqlConnection(_cs);
        var owned = true;
        try
        {
            await conn.OpenAsync(token).ConfigureAwait(false);
            await conn.ExecuteAsync("SET time_zone = '+00:00'").ConfigureAwait(false);
            owned = false;
            return conn;
        }
        finally
        {
            if (owned)
            {
                await conn.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    public async Task<OwnedOrderReader> OpenReaderAsync(CancellationToken token)
    {
        var conn = await OpenOwnedAsync(token).ConfigureAwait(false);
        return new OwnedOrderReader(conn);
    }

    public async Task<int> UsesReaderAsync(CancellationToken token)
    {
        await using var reader = await OpenReaderAsync(token);
        return await reader.CountAsync();
    }

    public async Task PinAsync(string tenant, CancellationToken token)
    {
        var conn = new MySqlConnection(_cs);
        try
        {
            await conn.OpenAsync(token);
        }
        catch
        {
            await conn.DisposeAsync();
            throw;
        }

        if (!_pinned.TryAdd(tenant, conn))
        {
            await conn.DisposeAsync();
        }
    }

    public async Task<int> ReleasedByALocalFunctionInFinallyAsync(CancellationToken token)
    {
        var conn = new MySqlConnection(_cs);
        try
        {
            await conn.OpenAsync(token);
            return await conn.ExecuteScalarAsync<int>("SELECT 1");
        }
        finally
        {
            await CloseQuietlyAsync();
        }

        async Task CloseQuietlyAsync()
        {
            try
            {
                await conn.DisposeAsync();
            }
            catch (MySqlException)
            {
                // Already broken: nothing to give back.
            }
        }
    }

    public int TwoInOneUsing()
    {
        using MySqlConnection a = new(_cs), b = new(_cs);
        a.Open();
        b.Open();
        return a.ExecuteScalar<int>("SELECT 1") + b.ExecuteScalar<int>("SELECT 2");
    }

    public async Task<int> NestedTriesAsync(CancellationToken token)
    {
        var conn = new MySqlConnection(_cs);
        try
        {
            await conn.OpenAsync(token);
            try
            {
                return await conn.ExecuteAsync("UPDATE counters SET n = n + 1");
            }
            catch (MySqlException ex) when (ex.ErrorCode == MySqlErrorCode.LockWaitTimeout)
            {
                return 0;
            }
        }
        finally
        {
            await conn.DisposeAsync();
        }
    }

    public async Task<int> ReadsAGridAsync(CancellationToken token)
    {
        await using var conn = new MySqlConnection(_cs);
        await conn.OpenAsync(token);
        using var grid = await conn.QueryMultipleAsync("SELECT 1; SELECT 2");
        return await grid.ReadSingleAsync<int>() + await grid.ReadSingleAsync<int>();
    }

    public async Task<int> DoWhileAsync(int rounds, CancellationToken token)
    {
        var done = 0;
        do
        {
            var conn = new MySqlConnection(_cs);
            try
            {
                await conn.OpenAsync(token);
                done += await conn.ExecuteAsync("DELETE FROM queue LIMIT 100");
            }
            finally
            {
                await conn.DisposeAsync();
            }
        }
        while (--rounds > 0);
        return done;
    }

    public async ValueTask<int> SwitchExpressionAfterTheReleaseAsync(int kind, CancellationToken token)
    {
        int count;
        await using (var conn = new MySqlConnection(_cs))
        {
            await conn.OpenAsync(token);
            count = await conn.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM orders");
        }

        return kind switch
        {
            0 => count,
            1 => count * 2,
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
    }

    public DbConnection OpenForCaller()
    {
        var conn = new MySqlConnection(_cs);
        try
        {
            conn.Open();
        }
        catch
        {
            conn.Dispose();
            throw;
        }

        return conn;
    }

    public int CallerOfOpenForCaller()
    {
        using var conn = OpenForCaller();
        return conn.ExecuteScalar<int>("SELECT 1");
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var conn in _pinned.Values)
        {
            await conn.DisposeAsync();
        }

        _pinned.Clear();
    }
}
