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

public static class Log
{
    public static void Info(string message) => ExecutionRun.Current?.Record("log: " + message);
}
