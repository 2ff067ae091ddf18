using MySqlConnector;
using TenantDbGuard.Analyzers.Tests.FixExecution;

namespace Prelude;

// The runnable twin of Verifiers/TestPrelude: the same public surface (PreludeParityTests checks it), backed by the
// current ExecutionRun, which counts the leases, injects the faults and, against MariaDB, holds real connections.
// The analyzer tests reference TestPrelude compiled as a library of its own; the execution check compiles the same
// test code against this one instead.

/// <summary>A pooled connection that goes back with <see cref="Release"/>; releasing it twice is counted.</summary>
public sealed class PooledConnection
{
    internal PooledConnection(Lease lease) => Lease = lease;

    public MySqlConnection Inner => Lease.Connection;

    internal Lease Lease { get; }

    public int Execute(string sql) => Lease.Command(sql);

    public async Task<int> ExecuteAsync(string sql, CancellationToken cancellationToken = default)
    {
        await Task.Yield();
        return Lease.Command(sql, cancellationToken);
    }

    public async Task<T> QueryFirstAsync<T>(string sql)
    {
        await Task.Yield();
        Lease.Command(sql);
        return default!;
    }

    public void Release() => Lease.Release(idempotent: false);
}

/// <summary>A lease that is disposable both ways; disposing it again does nothing.</summary>
public sealed class ConnectionLease : IDisposable, IAsyncDisposable
{
    internal ConnectionLease(Lease lease) => Lease = lease;

    public MySqlConnection Connection => Lease.Connection;

    public string TenantKey { get; } = "t1";

    internal Lease Lease { get; }

    public int Execute(string sql) => Lease.Command(sql);

    public async Task<int> ExecuteAsync(string sql)
    {
        await Task.Yield();
        return Lease.Command(sql);
    }

    public void Dispose() => Lease.Release(idempotent: true);

    public ValueTask DisposeAsync()
    {
        Lease.Release(idempotent: true);
        return default;
    }
}

public sealed record ConnectionInfo(string Host, int Port);

public sealed class Pool
{
    public PooledConnection GetConnection() => new(Lease.Acquire());

    public async Task<PooledConnection> GetConnectionAsync(CancellationToken cancellationToken = default)
    {
        await Task.Yield();
        cancellationToken.ThrowIfCancellationRequested();
        return new PooledConnection(Lease.Acquire());
    }

    public string GetConnectionString() => ExecutionRun.Require().ConnectionString ?? string.Empty;
}

public sealed class LeasePool
{
    public ConnectionLease GetConnection() => new(Lease.Acquire());

    public async ValueTask<ConnectionLease> GetConnectionAsync(string tenant)
    {
        await Task.Yield();
        return new ConnectionLease(Lease.Acquire());
    }
}

/// <summary>A factory whose connections come closed, as MySqlConnector's do: the code under test opens them.</summary>
public sealed class ConnectionFactory
{
    public MySqlConnection GetConnection() =>
        new(ExecutionRun.Require().ConnectionString ?? throw new NeedsDatabaseException(nameof(ConnectionFactory)));
}

public sealed class Settings
{
    public ConnectionInfo GetConnection() => new("localhost", 3306);
}

/// <summary>A library helper that gives back what it is passed under another name (an out parameter).</summary>
public static class Handoff
{
    public static void Pass(PooledConnection connection, out PooledConnection passed) => passed = connection;
}

/// <summary>A library's helpers: one that opens a connection it is given, one that never returns.</summary>
public static class ConnectionHelpers
{
    public static void EnsureOpen(System.Data.Common.DbConnection connection)
    {
        if (connection.State != System.Data.ConnectionState.Open)
        {
            connection.Open();
        }
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    public static void Fail(string message) => throw new System.InvalidOperationException(message);
}

public static class Log
{
    public static void Info(string message) => ExecutionRun.Current?.Record("log: " + message);
}

/// <summary>A library whose methods are named as ones that keep what they are given; each call is recorded, nothing is kept.</summary>
public sealed class Sink
{
    public void Add(object value) => Record(nameof(Add));

    public bool TryAdd(object value) => Record(nameof(TryAdd));

    public void Insert(int index, object value) => Record(nameof(Insert));

    public void Enqueue(object value) => Record(nameof(Enqueue));

    public bool TryEnqueue(object value) => Record(nameof(TryEnqueue));

    public void Push(object value) => Record(nameof(Push));

    public void Set(string key, object value) => Record(nameof(Set));

    public void SetResult(object value) => Record(nameof(SetResult));

    public bool TrySetResult(object value) => Record(nameof(TrySetResult));

    public object GetOrAdd(string key, object value)
    {
        Record(nameof(GetOrAdd));
        return value;
    }

    public object AddOrUpdate(string key, object value)
    {
        Record(nameof(AddOrUpdate));
        return value;
    }

    public bool TryUpdate(string key, object value) => Record(nameof(TryUpdate));

    public void Write(object value) => Record(nameof(Write));

    public Task WriteAsync(object value) => Task.FromResult(Record(nameof(WriteAsync)));

    public bool TryWrite(object value) => Record(nameof(TryWrite));

    public bool Post(object value) => Record(nameof(Post));

    public Task<bool> SendAsync(object value) => Task.FromResult(Record(nameof(SendAsync)));

    public void Register(object value) => Record(nameof(Register));

    public void Subscribe(object value) => Record(nameof(Subscribe));

    public void Attach(object value) => Record(nameof(Attach));

    public void Track(object value) => Record(nameof(Track));

    public void Put(object value) => Record(nameof(Put));

    public void Store(object value) => Record(nameof(Store));

    public void Cache(object value) => Record(nameof(Cache));

    private static bool Record(string method)
    {
        ExecutionRun.Current?.Record("sink: " + method);
        return true;
    }
}
