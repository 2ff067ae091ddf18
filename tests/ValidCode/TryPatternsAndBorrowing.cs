using System;
using System.Diagnostics.CodeAnalysis;
using System.Threading;
using System.Threading.Tasks;
using MySqlConnector;

namespace ValidCode;

/// <summary>Try methods: constant results, nullable out values, a failed open disposed inside.</summary>
public sealed class TenantConnectionTries
{
    private readonly MySqlDataSource _primary;
    private readonly MySqlDataSource _replica;

    public TenantConnectionTries(MySqlDataSource primary, MySqlDataSource replica)
    {
        _primary = primary;
        _replica = replica;
    }

    /// <summary>Opens on every path and says so: the caller's branch on false is never taken.</summary>
    public bool TryOpenPrimary(out MySqlConnection connection)
    {
        connection = _primary.OpenConnection();
        return true;
    }

    public bool TryOpen(string tenant, [NotNullWhen(true)] out MySqlConnection? connection)
    {
        if (tenant.Length == 0)
        {
            connection = null;
            return false;
        }

        connection = tenant.StartsWith("report-", StringComparison.Ordinal)
            ? _replica.OpenConnection()
            : _primary.OpenConnection();
        return true;
    }

    public static bool TryOpenWith(string connectionString, [NotNullWhen(true)] out MySqlConnection? connection)
    {
        connection = new MySqlConnection(connectionString);
        try
        {
            connection.Open();
            return true;
        }
        catch (MySqlException)
        {
            connection.Dispose();
            connection = null;
            return false;
        }
    }

    public object? Ping()
    {
        if (!TryOpenPrimary(out var connection))
        {
            return null;
        }

        using (connection)
        {
            using var command = new MySqlCommand("SELECT 1", connection);
            return command.ExecuteScalar();
        }
    }

    public object? Count(string tenant)
    {
        if (!TryOpen(tenant, out var connection))
        {
            return null;
        }

        using (connection)
        {
            using var command = new MySqlCommand("SELECT COUNT(*) FROM orders", connection);
            return command.ExecuteScalar();
        }
    }

    public static object? Probe(string connectionString)
    {
        if (TryOpenWith(connectionString, out var connection))
        {
            using (connection)
            {
                using var command = new MySqlCommand("SELECT VERSION()", connection);
                return command.ExecuteScalar();
            }
        }

        return null;
    }
}

/// <summary>A helper that swaps a connection into the caller's variable; the caller disposes what it holds.</summary>
public static class ConnectionSlotSwaps
{
    public static void Replace(ref MySqlConnection? slot, MySqlConnection next)
    {
        slot?.Dispose();
        slot = next;
    }

    public static async Task<int> CountBothAsync(MySqlDataSource first, MySqlDataSource second, CancellationToken ct)
    {
        MySqlConnection? current = null;
        try
        {
            Replace(ref current, await first.OpenConnectionAsync(ct).ConfigureAwait(false));
            using (var command = new MySqlCommand("SELECT COUNT(*) FROM orders", current))
            {
                await command.ExecuteScalarAsync(ct).ConfigureAwait(false);
            }

            Replace(ref current, await second.OpenConnectionAsync(ct).ConfigureAwait(false));
            using var last = new MySqlCommand("SELECT COUNT(*) FROM orders", current);
            return Convert.ToInt32(await last.ExecuteScalarAsync(ct).ConfigureAwait(false));
        }
        finally
        {
            if (current is not null)
            {
                await current.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}

/// <summary>Owns the connection only when it opened it; a connection it was given stays the caller's.</summary>
public sealed class SharedOrOwnedSession : IDisposable
{
    private readonly MySqlConnection _connection;
    private readonly bool _ownsConnection;

    public SharedOrOwnedSession(MySqlDataSource dataSource, MySqlConnection? shared)
    {
        _ownsConnection = shared is null;
        _connection = shared ?? dataSource.OpenConnection();
    }

    public object? Count()
    {
        using var command = new MySqlCommand("SELECT COUNT(*) FROM orders", _connection);
        return command.ExecuteScalar();
    }

    public void Dispose()
    {
        if (_ownsConnection)
        {
            _connection.Dispose();
        }
    }
}

/// <summary>Opens the connection on first use; gives it back only if it was ever opened.</summary>
public sealed class FirstUseSession : IDisposable
{
    private readonly Lazy<MySqlConnection> _connection;

    public FirstUseSession(MySqlDataSource dataSource) =>
        _connection = new Lazy<MySqlConnection>(() => dataSource.OpenConnection());

    public MySqlConnection Connection => _connection.Value;

    public void Dispose()
    {
        if (_connection.IsValueCreated)
        {
            _connection.Value.Dispose();
        }
    }
}

/// <summary>A connection per thread, every one of them given back with the holder.</summary>
public sealed class ThreadConnections : IDisposable
{
    private readonly ThreadLocal<MySqlConnection> _connection;

    public ThreadConnections(MySqlDataSource dataSource) =>
        _connection = new ThreadLocal<MySqlConnection>(() => dataSource.OpenConnection(), trackAllValues: true);

    public MySqlConnection Current => _connection.Value!;

    public void Dispose()
    {
        foreach (var connection in _connection.Values)
        {
            connection.Dispose();
        }

        _connection.Dispose();
    }
}

/// <summary>Two connections in a tuple field, the second given back even when the first throws.</summary>
public sealed class PrimaryAndReplicaPair : IDisposable
{
    private readonly (MySqlConnection Primary, MySqlConnection Replica) _connections;

    public PrimaryAndReplicaPair(MySqlDataSource primary, MySqlDataSource replica)
    {
        var first = primary.OpenConnection();
        try
        {
            _connections = (first, replica.OpenConnection());
        }
        catch
        {
            first.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        try
        {
            _connections.Primary.Dispose();
        }
        finally
        {
            _connections.Replica.Dispose();
        }
    }
}

/// <summary>A record that owns its connection, a struct scope, and a base class whose Dispose(bool) releases.</summary>
public sealed record TenantRecordSession(MySqlDataSource Source) : IDisposable
{
    public MySqlConnection Connection { get; } = Source.OpenConnection();

    public void Dispose() => Connection.Dispose();
}

public readonly struct OpenedConnectionScope : IDisposable
{
    private readonly MySqlConnection _connection;

    public OpenedConnectionScope(MySqlDataSource dataSource) => _connection = dataSource.OpenConnection();

    public void Dispose() => _connection?.Dispose();
}

public abstract class OwningSessionBase : IDisposable
{
    protected OwningSessionBase(MySqlDataSource dataSource) => Connection = dataSource.OpenConnection();

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

public sealed class ReplicaReportSession : OwningSessionBase
{
    public ReplicaReportSession(MySqlDataSource dataSource)
        : base(dataSource)
    {
    }
}
