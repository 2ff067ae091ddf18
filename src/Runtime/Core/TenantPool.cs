using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using MySqlConnector;

namespace TenantDbGuard.Core;

/// <summary>
/// The physical connections of one tenant (or the master). Counts are guarded by the broker's lock; the data source
/// has MySqlConnector's pooling turned off, so every connection it opens is one the broker counts.
/// </summary>
internal sealed class TenantPool
{
    private readonly Stack<PooledConnection> _idle = new();

    public TenantPool(string key, string databaseName, MySqlDataSource dataSource, int limit, ConnectionBudgetKind capKind)
    {
        Key = key;
        DatabaseName = databaseName;
        DataSource = dataSource;
        Limit = limit;
        CapKind = capKind;
    }

    public string Key { get; }

    public string DatabaseName { get; }

    public MySqlDataSource DataSource { get; }

    public int Limit { get; }

    public ConnectionBudgetKind CapKind { get; }

    /// <summary>Physical connections open or being opened.</summary>
    public int Open { get; set; }

    public int InUse { get; set; }

    public int IdleCount => _idle.Count;

    public long LastUsedTicks { get; set; }

    public bool Evicted { get; set; }

    public void PushIdle(PooledConnection connection) => _idle.Push(connection);

    public bool TryPopIdle(out PooledConnection connection)
    {
        if (_idle.Count > 0)
        {
            connection = _idle.Pop();
            return true;
        }

        connection = null!;
        return false;
    }

    /// <summary>The connection that has been idle longest (the bottom of the stack), or null.</summary>
    public PooledConnection? PeekOldestIdle()
    {
        PooledConnection? oldest = null;
        foreach (var connection in _idle)
        {
            oldest = connection;
        }

        return oldest;
    }

    /// <summary>Removes idle connections chosen by <paramref name="remove"/>; returns them for closing outside the lock.</summary>
    public List<PooledConnection> RemoveIdle(System.Func<PooledConnection, bool> remove)
    {
        var removed = new List<PooledConnection>();
        if (_idle.Count == 0)
        {
            return removed;
        }

        var kept = new List<PooledConnection>();
        while (_idle.Count > 0)
        {
            var connection = _idle.Pop();
            (remove(connection) ? removed : kept).Add(connection);
        }

        for (var i = kept.Count - 1; i >= 0; i--)
        {
            _idle.Push(kept[i]);
        }

        return removed;
    }

    public async Task<MySqlConnection> OpenPhysicalAsync(CancellationToken cancellationToken) =>
        await DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
}

/// <summary>One physical connection and what the broker knows of it.</summary>
internal sealed class PooledConnection
{
    public PooledConnection(TenantPool pool, MySqlConnection connection, long generation)
    {
        Pool = pool;
        Connection = connection;
        Generation = generation;
    }

    public TenantPool Pool { get; }

    public MySqlConnection Connection { get; }

    /// <summary>The broker's health generation when this connection was last known good.</summary>
    public long Generation { get; set; }

    public long IdleSinceTicks { get; set; }
}
