using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using MySqlConnector;

namespace TenantDbGuard.Core;

/// <summary>
/// The physical connections to one server, shared by every tenant database on it: a lease switches the connection to
/// its tenant's database. The data source has MySqlConnector's pooling turned off, so every connection it opens is
/// one the broker counts. Counts and the idle list are guarded by the broker's lock.
/// </summary>
internal sealed class ServerPool
{
    private const int AffinityScan = 16;
    private readonly List<PooledConnection> _idle = new();

    public ServerPool(string key, MySqlDataSource dataSource)
    {
        Key = key;
        DataSource = dataSource;
    }

    public string Key { get; }

    public MySqlDataSource DataSource { get; }

    /// <summary>Physical connections open or being opened.</summary>
    public int Open { get; set; }

    public int IdleCount => _idle.Count;

    public long LastUsedTicks { get; set; }

    public void PushIdle(PooledConnection connection) => _idle.Add(connection);

    /// <summary>Takes the most recently used idle connection, preferring one already on <paramref name="database"/>.</summary>
    public bool TryPopIdle(string database, out PooledConnection connection)
    {
        var count = _idle.Count;
        if (count == 0)
        {
            connection = null!;
            return false;
        }

        var index = count - 1;
        for (var i = count - 1; i >= 0 && i >= count - AffinityScan; i--)
        {
            if (string.Equals(_idle[i].Connection.Database, database, StringComparison.Ordinal))
            {
                index = i;
                break;
            }
        }

        connection = _idle[index];
        _idle.RemoveAt(index);
        return true;
    }

    /// <summary>The connection that has been idle longest, or null.</summary>
    public PooledConnection? PeekOldestIdle() => _idle.Count > 0 ? _idle[0] : null;

    /// <summary>Removes the idle connections chosen by <paramref name="remove"/> and returns them, to be closed outside the lock.</summary>
    public List<PooledConnection> RemoveIdle(Func<PooledConnection, bool> remove)
    {
        var removed = new List<PooledConnection>();
        for (var i = _idle.Count - 1; i >= 0; i--)
        {
            if (remove(_idle[i]))
            {
                removed.Add(_idle[i]);
                _idle.RemoveAt(i);
            }
        }

        return removed;
    }

    public async Task<MySqlConnection> OpenPhysicalAsync(CancellationToken cancellationToken) =>
        await DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
}

/// <summary>Where a lease goes: a tenant's (or the master's) database on a server, and the cap on its leases.</summary>
internal sealed class TenantTarget
{
    public TenantTarget(string key, string databaseName, ServerPool server, int cap, ConnectionBudgetKind capKind)
    {
        Key = key;
        DatabaseName = databaseName;
        Server = server;
        Cap = cap;
        CapKind = capKind;
    }

    public string Key { get; }

    public string DatabaseName { get; }

    public ServerPool Server { get; }

    public int Cap { get; }

    public ConnectionBudgetKind CapKind { get; }
}

/// <summary>One physical connection and what the broker knows of it.</summary>
internal sealed class PooledConnection
{
    public PooledConnection(ServerPool server, MySqlConnection connection, long generation)
    {
        Server = server;
        Connection = connection;
        Generation = generation;
    }

    public ServerPool Server { get; }

    public MySqlConnection Connection { get; }

    /// <summary>The tenant that holds it now, or held it last.</summary>
    public string? TenantKey { get; set; }

    /// <summary>The broker's health generation when this connection was last known good.</summary>
    public long Generation { get; set; }

    public long IdleSinceTicks { get; set; }
}
