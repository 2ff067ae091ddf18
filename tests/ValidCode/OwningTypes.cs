using System;
using System.Collections.Generic;
using System.Data;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace ValidCode;

// The classic dispose pattern with a finalizer-free base.
public class OwnedReportSession : IDisposable
{
    private readonly MySqlConnection _connection;
    private bool _disposed;

    public OwnedReportSession(MySqlDataSource source) => _connection = source.OpenConnection();

    public int Count(string table)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _connection.ExecuteScalar<int>($"SELECT COUNT(*) FROM `{table}`");
    }

    protected virtual void Dispose(bool disposing)
    {
        if (!_disposed)
        {
            if (disposing)
            {
                _connection.Dispose();
            }

            _disposed = true;
        }
    }

    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }
}

// Both disposable interfaces; each releases.
public sealed class OwnedDualSession : IDisposable, IAsyncDisposable
{
    private MySqlConnection? _connection;

    public async Task<MySqlConnection> ConnectionAsync(MySqlDataSource source, CancellationToken ct) =>
        _connection ??= await source.OpenConnectionAsync(ct);

    public void Dispose()
    {
        _connection?.Dispose();
        _connection = null;
    }

    public async ValueTask DisposeAsync()
    {
        if (_connection is not null)
        {
            await _connection.DisposeAsync().ConfigureAwait(false);
            _connection = null;
        }
    }
}

// A connection opened lazily and closed by Close, which Dispose calls.
public sealed class OwnedLazySession : IDisposable
{
    private readonly MySqlDataSource _source;
    private MySqlConnection? _connection;

    public OwnedLazySession(MySqlDataSource source) => _source = source;

    public MySqlConnection Connection
    {
        get
        {
            if (_connection is null)
            {
                _connection = _source.OpenConnection();
            }

            return _connection;
        }
    }

    public void Close()
    {
        var connection = _connection;
        _connection = null;
        connection?.Dispose();
    }

    public void Dispose() => Close();
}

// An injected connection is not owned: nothing to release.
public sealed class BorrowingRepository
{
    private readonly MySqlConnection _connection;

    public BorrowingRepository(MySqlConnection connection) => _connection = connection;

    public Task<IEnumerable<string>> NamesAsync() => _connection.QueryAsync<string>("SELECT name FROM customers");
}

// A unit of work whose transaction is disposed in a try and the connection in the finally.
public sealed class OwnedUnitOfWork : IAsyncDisposable
{
    private readonly MySqlConnection _connection;
    private readonly MySqlTransaction _transaction;

    private OwnedUnitOfWork(MySqlConnection connection, MySqlTransaction transaction)
    {
        _connection = connection;
        _transaction = transaction;
    }

    public MySqlConnection Connection => _connection;

    public MySqlTransaction Transaction => _transaction;

    public static async Task<OwnedUnitOfWork> BeginAsync(MySqlDataSource source, CancellationToken ct)
    {
        var connection = await source.OpenConnectionAsync(ct);
        try
        {
            var transaction = await connection.BeginTransactionAsync(ct);
            return new OwnedUnitOfWork(connection, transaction);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    public Task CommitAsync(CancellationToken ct) => _transaction.CommitAsync(ct);

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _transaction.DisposeAsync();
        }
        finally
        {
            await _connection.DisposeAsync();
        }
    }
}

// A Lazy<T> connection, disposed only if it was created.
public sealed class OwnedLazyValueSession : IDisposable
{
    private readonly Lazy<MySqlConnection> _connection;

    public OwnedLazyValueSession(MySqlDataSource source) =>
        _connection = new Lazy<MySqlConnection>(() => source.OpenConnection(), LazyThreadSafetyMode.ExecutionAndPublication);

    public int Ping() => _connection.Value.ExecuteScalar<int>("SELECT 1");

    public void Dispose()
    {
        if (_connection.IsValueCreated)
        {
            _connection.Value.Dispose();
        }
    }
}

// A semaphore-guarded async owner.
public sealed class OwnedGuardedSession : IAsyncDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly MySqlDataSource _source;
    private MySqlConnection? _connection;

    public OwnedGuardedSession(MySqlDataSource source) => _source = source;

    public async Task<int> ExecuteAsync(string sql, CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            _connection ??= await _source.OpenConnectionAsync(ct);
            return await _connection.ExecuteAsync(new CommandDefinition(sql, cancellationToken: ct));
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        var connection = Interlocked.Exchange(ref _connection, null);
        if (connection is not null)
        {
            await connection.DisposeAsync();
        }

        _gate.Dispose();
    }
}

// A connection created unopened in the constructor and opened on demand.
public sealed class OwnedOnDemandSession : IDisposable
{
    private readonly MySqlConnection _connection;

    public OwnedOnDemandSession(string connectionString) => _connection = new MySqlConnection(connectionString);

    public int Execute(string sql)
    {
        if (_connection.State != ConnectionState.Open)
        {
            _connection.Open();
        }

        return _connection.Execute(sql);
    }

    public void Dispose() => _connection.Dispose();
}

// A record owning its connection.
public sealed record OwnedTenantHandle(string Tenant, MySqlConnection Connection) : IAsyncDisposable
{
    public ValueTask DisposeAsync() => Connection.DisposeAsync();
}

public static class OwnedTenantHandles
{
    public static async Task<OwnedTenantHandle> OpenAsync(TenantDataSources sources, string tenant, CancellationToken ct) =>
        new OwnedTenantHandle(tenant, await sources.GetDataSource(tenant).OpenConnectionAsync(ct));

    public static async Task<int> UseAsync(TenantDataSources sources, string tenant, CancellationToken ct)
    {
        await using var handle = await OpenAsync(sources, tenant, ct);
        return await handle.Connection.ExecuteAsync("SELECT 1");
    }
}
