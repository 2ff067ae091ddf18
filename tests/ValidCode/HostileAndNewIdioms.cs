// Correct data-access code in idioms the other files do not use: aliases (a global one too), System.Threading.Lock,
// iterators, switch and throw expressions, holders, pools, events, partial methods, '#nullable disable', suppressions,
// and the Dispose guards and Task.Run shapes the analyzers once misread.
global using TenantConnection = MySqlConnector.MySqlConnection;
#nullable enable
using System;
using System.Collections.Generic;
using System.Data;
using System.Diagnostics.CodeAnalysis;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;
using Conn = MySqlConnector.MySqlConnection;
using Source = MySqlConnector.MySqlDataSource;
using Cmd = MySqlConnector.MySqlCommand;

namespace ValidCode.HostileAndNewIdioms;

public static class AliasedQueries
{
    public static int CountTenants(Source source)
    {
        using Conn connection = source.OpenConnection();
        using var command = new Cmd("select count(*) from tenants", connection);
        return Convert.ToInt32(command.ExecuteScalar());
    }

    public static async Task<long> CountAsync(Source source, CancellationToken ct)
    {
        await using Conn connection = await source.OpenConnectionAsync(ct).ConfigureAwait(false);
        await using var command = new Cmd("select count(*) from orders", connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(ct).ConfigureAwait(false));
    }

    public static async Task PingAsync(Source source)
    {
        var connection = await source.OpenConnectionAsync();
        try
        {
            await connection.PingAsync();
        }
        finally
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    public static int ThroughGlobalAlias(Source source)
    {
        using TenantConnection connection = source.OpenConnection();
        return connection.ServerThread;
    }

    public static Task CloseAsTaskAsync(Source source)
    {
        var connection = source.OpenConnection();
        return connection.DisposeAsync().AsTask();
    }
}

public sealed class LockGuardedSession : IDisposable
{
    private readonly Lock _gate = new();
    private readonly Source _source;
    private Conn? _connection;

    public LockGuardedSession(Source source) => _source = source;

    public int Run(string sql)
    {
        lock (_gate)
        {
            _connection ??= _source.OpenConnection();
            using var command = new Cmd(sql, _connection);
            return command.ExecuteNonQuery();
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _connection?.Dispose();
            _connection = null;
        }
    }
}

public sealed class ScopedLockSession : IDisposable
{
    private readonly Lock _gate = new();
    private Conn? _connection;

    public void Attach(Source source)
    {
        using (_gate.EnterScope())
        {
            _connection ??= source.OpenConnection();
        }
    }

    public void Dispose()
    {
        using (_gate.EnterScope())
        {
            _connection?.Dispose();
        }
    }
}

public static class Iterators
{
    public static IEnumerable<string> TenantNames(Source source)
    {
        using var connection = source.OpenConnection();
        using var command = new Cmd("select name from tenants", connection);
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            yield return reader.GetString(0);
        }
    }

    public static async IAsyncEnumerable<int> IdsAsync(Source source, [EnumeratorCancellation] CancellationToken ct = default)
    {
        await using var connection = await source.OpenConnectionAsync(ct);
        await using var command = new Cmd("select id from tenants", connection);
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            yield return reader.GetInt32(0);
        }
    }

    public static IEnumerable<Conn> OpenEach(IEnumerable<Source> sources)
    {
        foreach (var source in sources)
        {
            yield return source.OpenConnection();
        }
    }

    public static int CountOpened(IEnumerable<Source> sources)
    {
        var count = 0;
        foreach (var connection in OpenEach(sources))
        {
            using (connection)
            {
                count++;
            }
        }

        return count;
    }

    public static int FirstNameLength(Source source)
    {
        foreach (var name in TenantNames(source))
        {
            return name.Length;
        }

        return 0;
    }
}

public enum Role { Primary, Replica }

public sealed class SwitchedConnections
{
    private readonly Source _primary;
    private readonly Source _replica;

    public SwitchedConnections(Source primary, Source replica) => (_primary, _replica) = (primary, replica);

    public Conn Open(Role role) => role switch
    {
        Role.Primary => _primary.OpenConnection(),
        Role.Replica => _replica.OpenConnection(),
        _ => throw new ArgumentOutOfRangeException(nameof(role)),
    };

    public Conn OpenOrThrow(Source? source) => source?.OpenConnection() ?? throw new InvalidOperationException("no source");

    public int Count(Role role)
    {
        using var connection = Open(role);
        using var command = new Cmd("select 1", connection);
        return Convert.ToInt32(command.ExecuteScalar());
    }

    public int CountOrThrow(Source? source)
    {
        using var connection = OpenOrThrow(source);
        return connection.ServerThread;
    }
}

public sealed class LazyHolder : IDisposable
{
    private readonly Lazy<Conn> _connection;

    public LazyHolder(Source source) => _connection = new Lazy<Conn>(() => source.OpenConnection());

    public int Thread => _connection.Value.ServerThread;

    public void Dispose()
    {
        if (_connection.IsValueCreated)
        {
            _connection.Value.Dispose();
        }
    }
}

public sealed class ThreadLocalHolder : IDisposable
{
    private readonly ThreadLocal<Conn> _connections;

    public ThreadLocalHolder(Source source) => _connections = new ThreadLocal<Conn>(() => source.OpenConnection(), trackAllValues: true);

    public int Thread => _connections.Value!.ServerThread;

    public void Dispose()
    {
        foreach (var connection in _connections.Values)
        {
            connection.Dispose();
        }

        _connections.Dispose();
    }
}

public static class AmbientConnection
{
    private static readonly AsyncLocal<Conn?> Current = new();

    public static async Task RunAsync(Source source, Func<Task> work)
    {
        await using var connection = await source.OpenConnectionAsync();
        Current.Value = connection;
        try
        {
            await work();
        }
        finally
        {
            Current.Value = null;
        }
    }
}

public sealed class SimpleConnectionPool : IDisposable
{
    private readonly Stack<Conn> _idle = new();
    private readonly Source _source;

    public SimpleConnectionPool(Source source) => _source = source;

    public Conn Get() => _idle.TryPop(out var connection) ? connection : _source.OpenConnection();

    public void Return(Conn connection) => _idle.Push(connection);

    public int Run(string sql)
    {
        var connection = Get();
        try
        {
            using var command = new Cmd(sql, connection);
            return command.ExecuteNonQuery();
        }
        finally
        {
            Return(connection);
        }
    }

    public void Dispose()
    {
        while (_idle.TryPop(out var connection))
        {
            connection.Dispose();
        }
    }
}

public static class LinqQueries
{
    public static List<int> ServerThreads(IEnumerable<Source> sources)
    {
        var threads = new List<int>();
        foreach (var source in from s in sources where s is not null select s)
        {
            using var connection = source.OpenConnection();
            threads.Add(connection.ServerThread);
        }

        return threads;
    }

    public static int[] Lengths(Source source) =>
        (from name in Iterators.TenantNames(source) where name.Length > 2 orderby name select name.Length).ToArray();
}

public sealed class ConnectionEvents
{
    public event Action<Conn>? Opened;

    public event EventHandler<Conn>? Closing;

    public int Run(Source source)
    {
        using var connection = source.OpenConnection();
        Opened?.Invoke(connection);
        try
        {
            return connection.ServerThread;
        }
        finally
        {
            Closing?.Invoke(this, connection);
        }
    }

    public static int WithCallback(Source source, Func<Conn, int> work)
    {
        using var connection = source.OpenConnection();
        return work(connection);
    }

    public static int Use(Source source) => WithCallback(source, c => c.ServerThread);
}

public partial class GeneratedLikeRepository
{
    partial void OnOpened(Conn connection);

    public int Count(Source source)
    {
        using var connection = source.OpenConnection();
        OnOpened(connection);
        return connection.ServerThread;
    }
}

public partial class GeneratedLikeRepository
{
    partial void OnOpened(Conn connection) => _ = connection.State;
}

#nullable disable
public static class NullableDisabled
{
    public static int Count(Source source)
    {
        Conn connection = null;
        try
        {
            connection = source.OpenConnection();
            return connection.ServerThread;
        }
        finally
        {
            if (connection != null)
            {
                connection.Dispose();
            }
        }
    }
}
#nullable restore

public static class Suppressed
{
    [SuppressMessage("Reliability", "TDG001:Connection is not released on all paths", Justification = "Handed to a pool that closes it.")]
    public static Conn Keep(Source source)
    {
        var connection = source.OpenConnection();
        _ = connection.ServerThread;
        GC.KeepAlive(connection);
        return null!;
    }

    public static void KeepWithPragma(Source source)
    {
#pragma warning disable TDG001 // Kept open for the life of the process on purpose.
        var connection = source.OpenConnection();
#pragma warning restore TDG001
        GC.KeepAlive(connection);
    }
}

public sealed class DisposeGuards : IDisposable
{
    private readonly Conn _connection;
    private int _disposed;

    public DisposeGuards(Source source) => _connection = source.OpenConnection();

    public void Dispose()
    {
        switch (Interlocked.Exchange(ref _disposed, 1))
        {
            case 0:
                _connection.Dispose();
                break;
        }
    }
}

public sealed class TupleConnections
{
    public static int Both(Source a, Source b)
    {
        using var first = a.OpenConnection();
        using var second = b.OpenConnection();
        var (x, y) = (first, second);
        return x.ServerThread + y.ServerThread;
    }
}

public static class TaskRunQueries
{
    public static async Task<int> OffThreadAsync(Source source)
    {
        using var connection = await Task.Run(() => source.OpenConnection());
        return connection.ServerThread;
    }

    public static void ParallelWithLocalState(Source source, IEnumerable<int> ids)
    {
        Parallel.ForEach(
            ids,
            () => source.OpenConnection(),
            (id, state, connection) =>
            {
                using var command = new Cmd("select @id", connection);
                command.Parameters.AddWithValue("@id", id);
                command.ExecuteNonQuery();
                return connection;
            },
            connection => connection.Dispose());
    }
}
