using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace ValidCode;

/// <summary>Dispose forwards to a private Close that gives the connection back once.</summary>
public sealed class ForwardingOwner : IDisposable
{
    private MySqlConnection? _connection;

    public ForwardingOwner(MySqlDataSource dataSource) => _connection = dataSource.OpenConnection();

    public int Count() => _connection?.ExecuteScalar<int>("SELECT COUNT(*) FROM orders") ?? 0;

    public void Dispose() => Close();

    private void Close()
    {
        var connection = Interlocked.Exchange(ref _connection, null);
        connection?.Dispose();
    }
}

/// <summary>An auto-property with a private setter holds the connection.</summary>
public sealed class PropertyOwner : IAsyncDisposable
{
    private PropertyOwner(MySqlConnection connection) => Connection = connection;

    public MySqlConnection Connection { get; private set; }

    public static async Task<PropertyOwner> OpenAsync(MySqlDataSource dataSource, CancellationToken ct) =>
        new(await dataSource.OpenConnectionAsync(ct).ConfigureAwait(false));

    public ValueTask DisposeAsync() => Connection.DisposeAsync();
}

/// <summary>A base class owns the connection; the derived class adds its own cleanup and calls the base.</summary>
public abstract class RepositoryBase : IDisposable
{
    protected RepositoryBase(MySqlDataSource dataSource) => Connection = dataSource.OpenConnection();

    protected MySqlConnection Connection { get; }

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
        {
            Connection.Dispose();
        }
    }
}

public sealed class AuditRepository(MySqlDataSource dataSource) : RepositoryBase(dataSource)
{
    private readonly CancellationTokenSource _cancel = new();

    public int Write(string action) =>
        Connection.Execute("INSERT INTO audit (action) VALUES (@action)", new { action });

    protected override void Dispose(bool disposing)
    {
        try
        {
            if (disposing)
            {
                _cancel.Dispose();
            }
        }
        finally
        {
            base.Dispose(disposing);
        }
    }
}

/// <summary>A constructor that opens, then prepares the session, and releases the connection when that fails.</summary>
public sealed class PreparedSession : IDisposable
{
    private readonly MySqlConnection _connection;

    public PreparedSession(MySqlDataSource dataSource, string timeZone)
    {
        var connection = dataSource.OpenConnection();
        try
        {
            connection.Execute("SET time_zone = @timeZone", new { timeZone });
        }
        catch
        {
            connection.Dispose();
            throw;
        }

        _connection = connection;
    }

    public DateTime Now() => _connection.ExecuteScalar<DateTime>("SELECT NOW()");

    public void Dispose() => _connection.Dispose();
}

/// <summary>Two connections, each released in a finally: a failing first release still releases the other.</summary>
public sealed class MirrorWriter : IDisposable
{
    private readonly MySqlConnection _primary;
    private readonly MySqlConnection _mirror;

    public MirrorWriter(MySqlDataSource primary, MySqlDataSource mirror)
    {
        _primary = primary.OpenConnection();
        try
        {
            _mirror = mirror.OpenConnection();
        }
        catch
        {
            _primary.Dispose();
            throw;
        }
    }

    public void Write(string sql)
    {
        _primary.Execute(sql);
        _mirror.Execute(sql);
    }

    public void Dispose()
    {
        try
        {
            _primary.Dispose();
        }
        finally
        {
            _mirror.Dispose();
        }
    }
}

/// <summary>Connections opened on demand per tenant and kept until the owner is disposed.</summary>
public sealed class PerTenantConnections(TenantDataSources sources) : IAsyncDisposable
{
    private readonly Dictionary<string, MySqlConnection> _open = new(StringComparer.Ordinal);

    public async Task<MySqlConnection> ForAsync(string tenant, CancellationToken ct)
    {
        if (_open.TryGetValue(tenant, out var existing))
        {
            return existing;
        }

        var connection = await sources.GetDataSource(tenant).OpenConnectionAsync(ct).ConfigureAwait(false);
        _open.Add(tenant, connection);
        return connection;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var connection in _open.Values)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }

        _open.Clear();
    }
}
