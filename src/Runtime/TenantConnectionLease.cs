using System;
using System.Threading;
using System.Threading.Tasks;
using MySqlConnector;
using TenantDbGuard.Core;

namespace TenantDbGuard;

/// <summary>
/// An open connection to one tenant's database, lent by <see cref="TenantDatabase.GetConnectionAsync"/>. Give it back
/// on every path with <c>await using</c>: until then it counts against the connection budget.
/// </summary>
/// <example>
/// <code>
/// await using var lease = await db.GetConnectionAsync(tenantKey, cancellationToken);
/// var count = await lease.Connection.ExecuteScalarAsync&lt;long&gt;("SELECT COUNT(*) FROM customers");
/// </code>
/// </example>
public sealed class TenantConnectionLease : IAsyncDisposable, IDisposable
{
    private readonly TenantDatabase _owner;
    private readonly PooledConnection _pooled;
    private readonly long _leakId;
    private int _released;
    private bool _broken;

    internal TenantConnectionLease(TenantDatabase owner, PooledConnection pooled, string tenantKey, string databaseName, long leakId)
    {
        _owner = owner;
        _pooled = pooled;
        _leakId = leakId;
        TenantKey = tenantKey;
        DatabaseName = databaseName;
    }

    /// <summary>The tenant whose database the connection is open on (<c>(master)</c> for the master database).</summary>
    public string TenantKey { get; }

    /// <summary>The database the lease was opened on.</summary>
    internal string DatabaseName { get; }

    /// <summary>The open connection. Do not close or dispose it: dispose the lease.</summary>
    /// <exception cref="ObjectDisposedException">The lease was already given back.</exception>
    public MySqlConnection Connection =>
        Volatile.Read(ref _released) == 0 ? _pooled.Connection : throw new ObjectDisposedException(nameof(TenantConnectionLease), "The lease was given back; acquire a new one.");

    /// <summary>Gives the connection back. Calling it again does nothing.</summary>
    public void Dispose() => Release();

    /// <summary>Gives the connection back. Calling it again does nothing.</summary>
    public ValueTask DisposeAsync()
    {
        Release();
        return default;
    }

    /// <summary>Tells the pool that the connection failed and must not be reused.</summary>
    internal void MarkBroken() => _broken = true;

    private void Release()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0)
        {
            _owner.Return(_pooled, _leakId, _broken);
        }
    }
}
