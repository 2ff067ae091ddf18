using System;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace ValidCode;

/// <summary>The classic Dispose(bool) pattern around an open connection.</summary>
public class ReportSession : IDisposable
{
    private readonly MySqlConnection _connection;
    private bool _disposed;

    public ReportSession(MySqlDataSource dataSource) => _connection = dataSource.OpenConnection();

    public int Count(string table) => _connection.ExecuteScalar<int>("SELECT COUNT(*) FROM " + table);

    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (_disposed)
        {
            return;
        }

        if (disposing)
        {
            _connection.Dispose();
        }

        _disposed = true;
    }
}

/// <summary>A primary constructor that opens the connection into a field; DisposeAsync gives it back.</summary>
public sealed class TenantSession(MySqlDataSource dataSource) : IAsyncDisposable, IDisposable
{
    private readonly MySqlConnection _connection = dataSource.OpenConnection();

    public Task<int> TouchAsync(long id) =>
        _connection.ExecuteAsync("UPDATE sessions SET touched = NOW() WHERE id = @id", new { id });

    public ValueTask DisposeAsync() => _connection.DisposeAsync();

    public void Dispose() => _connection.Dispose();
}

/// <summary>A partial type: one part opens the connection, the other releases it.</summary>
public sealed partial class SplitSession : IDisposable
{
    private MySqlConnection? _connection;

    public void Open(MySqlDataSource dataSource)
    {
        if (_connection is not null)
        {
            return;
        }

        _connection = dataSource.OpenConnection();
    }

    public int Ping() => _connection is { } connection && connection.Ping() ? 1 : 0;
}

public sealed partial class SplitSession
{
    public void Dispose()
    {
        _connection?.Dispose();
        _connection = null;
    }
}

/// <summary>Two sessions composed: disposing the outer one disposes both, even when the first throws.</summary>
public sealed class CompositeSession : IAsyncDisposable
{
    private readonly TenantSession _primary;
    private readonly TenantSession _secondary;

    public CompositeSession(MySqlDataSource primary, MySqlDataSource secondary)
    {
        _primary = new TenantSession(primary);
        try
        {
            _secondary = new TenantSession(secondary);
        }
        catch
        {
            _primary.Dispose();
            throw;
        }
    }

    public async Task TouchAsync(long id)
    {
        await _primary.TouchAsync(id).ConfigureAwait(false);
        await _secondary.TouchAsync(id).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _primary.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            await _secondary.DisposeAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>A lazily opened connection, released once.</summary>
public sealed class LazySession(TenantDataSources sources, string tenant) : IAsyncDisposable
{
    private MySqlConnection? _connection;

    public async ValueTask<MySqlConnection> ConnectionAsync(CancellationToken ct)
    {
        return _connection ??= await sources.GetDataSource(tenant).OpenConnectionAsync(ct).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        var connection = Interlocked.Exchange(ref _connection, null);
        if (connection is not null)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}
