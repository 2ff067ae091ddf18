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

/// <summary>Data access written with newer C# idioms: each shape was read as a leak or a misuse once.</summary>
public sealed class UnseenIdioms(MySqlDataSource dataSource, MySqlDataSource replica)
{
    private static void OnStateChange(object? sender, StateChangeEventArgs e) => Console.WriteLine(e.CurrentState);

    // The connection's settings in a log line after its using: Dispose keeps them.
    public int LogDatabaseAfterUsing()
    {
        var connection = dataSource.OpenConnection();
        int rows;
        using (connection)
        {
            rows = connection.Execute("UPDATE orders SET seen = 1");
        }

        Console.WriteLine($"{rows} rows in {connection.Database} on {connection.DataSource}");
        return rows;
    }

    // A handler removed in the finally, after the release.
    public int UnsubscribeAfterDispose()
    {
        var connection = dataSource.OpenConnection();
        connection.StateChange += OnStateChange;
        try
        {
            return connection.Execute("UPDATE orders SET seen = 1");
        }
        finally
        {
            connection.Dispose();
            connection.StateChange -= OnStateChange;
        }
    }

    public async Task<long> MaxIdAsync(CancellationToken ct)
    {
        await using var configured = (await dataSource.OpenConnectionAsync(ct).ConfigureAwait(false)).ConfigureAwait(false);
        return 1;
    }

    private async ValueTask<MySqlConnection> OpenOnAsync(string database, CancellationToken ct)
    {
        var connection = new MySqlConnection($"Server=db;Database={database}");
        try
        {
            await connection.OpenAsync(ct);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    public async IAsyncEnumerable<long> IdsAsync(string database, [EnumeratorCancellation] CancellationToken ct = default)
    {
        await using var connection = await OpenOnAsync(database, ct);
        await using var reader = await connection.ExecuteReaderAsync("SELECT id FROM orders");
        while (await reader.ReadAsync(ct))
        {
            yield return reader.GetInt64(0);
        }
    }

    public async Task<List<long>> FirstTenAsync(string database, CancellationToken ct)
    {
        var ids = new List<long>();
        await foreach (var id in IdsAsync(database, ct).WithCancellation(ct).ConfigureAwait(false))
        {
            ids.Add(id);
            if (ids.Count == 10)
            {
                break;
            }
        }

        return ids;
    }

    public Task TouchAllAsync(IEnumerable<string> databases, CancellationToken ct) =>
        Parallel.ForEachAsync(databases, ct, async (database, token) =>
        {
            await using var connection = await OpenOnAsync(database, token);
            await connection.ExecuteAsync("UPDATE meta SET touched = NOW()");
        });

    // One connection per worker: opened by localInit, released by localFinally.
    public long SumPerWorker(IEnumerable<int> ids)
    {
        long total = 0;
        Parallel.ForEach(
            ids,
            () => dataSource.OpenConnection(),
            (id, state, connection) =>
            {
                Interlocked.Add(ref total, connection.ExecuteScalar<long>("SELECT @id", new { id }));
                return connection;
            },
            connection => connection.Dispose());
        return total;
    }

    public async Task<int> ReplicaOnFailureAsync()
    {
        MySqlConnection connection;
        try
        {
            connection = await dataSource.OpenConnectionAsync();
        }
        catch (MySqlException)
        {
            connection = await replica.OpenConnectionAsync();
        }

        await using (connection)
        {
            return await connection.ExecuteScalarAsync<int>("SELECT 1");
        }
    }

    public async Task<int> WhenAllReleaseAsync()
    {
        var first = await dataSource.OpenConnectionAsync();
        MySqlConnection? second = null;
        try
        {
            second = await replica.OpenConnectionAsync();
            return await first.ExecuteAsync("SELECT 1") + await second.ExecuteAsync("SELECT 2");
        }
        finally
        {
            await Task.WhenAll(first.DisposeAsync().AsTask(), second?.DisposeAsync().AsTask() ?? Task.CompletedTask);
        }
    }

    public int WhichSource(int kind)
    {
        using var connection = kind switch
        {
            0 => dataSource.OpenConnection(),
            1 => replica.OpenConnection(),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        return connection.Execute("SELECT 1");
    }

    public static async Task<T> WithOpenAsync<TConnection, T>(Func<TConnection> create, Func<TConnection, Task<T>> work)
        where TConnection : DbConnection
    {
        await using var connection = create();
        await connection.OpenAsync();
        return await work(connection);
    }
}

/// <summary>A base type whose Dispose calls a hook the derived owner overrides.</summary>
public abstract class HookedSessionBase : IDisposable
{
    public void Dispose()
    {
        ReleaseResources();
        GC.SuppressFinalize(this);
    }

    protected abstract void ReleaseResources();
}

public sealed class HookReleasedSession(MySqlDataSource dataSource) : HookedSessionBase
{
    private readonly MySqlConnection _connection = dataSource.OpenConnection();

    public int Count() => _connection.ExecuteScalar<int>("SELECT COUNT(*) FROM reports");

    protected override void ReleaseResources() => _connection.Dispose();
}

/// <summary>Owners guarded against a second Dispose by an Interlocked counter.</summary>
public sealed class CounterGuardedSession(MySqlDataSource dataSource) : IAsyncDisposable
{
    private readonly MySqlConnection _connection = dataSource.OpenConnection();
    private int _disposeCount;

    public Task<int> TouchAsync() => _connection.ExecuteAsync("UPDATE sessions SET seen = NOW()");

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Increment(ref _disposeCount) > 1)
        {
            return;
        }

        await _connection.DisposeAsync();
    }
}

public sealed class PatternGuardedSession(MySqlDataSource dataSource) : IDisposable
{
    private readonly MySqlConnection _connection = dataSource.OpenConnection();
    private int _disposed;

    public int Touch() => _connection.Execute("UPDATE sessions SET seen = NOW()");

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) is 0)
        {
            _connection.Dispose();
        }
    }
}
