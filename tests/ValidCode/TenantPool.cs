using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace ValidCode;

/// <summary>A connection borrowed from a <see cref="TenantPool"/>; give it back with <see cref="Release"/>.</summary>
public sealed class PooledConnection
{
    private readonly TenantPool _owner;

    internal PooledConnection(TenantPool owner, MySqlConnection connection)
    {
        _owner = owner;
        Connection = connection;
        LeasedAt = DateTime.UtcNow;
    }

    public MySqlConnection Connection { get; }

    public DateTime LeasedAt { get; }

    public Task<int> ExecuteAsync(string sql, object? param = null, CancellationToken cancellationToken = default) =>
        Connection.ExecuteAsync(new CommandDefinition(sql, param, cancellationToken: cancellationToken));

    public async Task<IReadOnlyList<T>> QueryAsync<T>(string sql, object? param = null, CancellationToken cancellationToken = default) =>
        (await Connection.QueryAsync<T>(new CommandDefinition(sql, param, cancellationToken: cancellationToken))).AsList();

    public void Release() => _owner.Release(this);
}

/// <summary>
/// A bounded pool in front of one tenant's data source: at most <c>maxLeases</c> connections are out at once,
/// and idle ones are kept for reuse.
/// </summary>
public sealed class TenantPool : IAsyncDisposable
{
    private readonly MySqlDataSource _dataSource;
    private readonly SemaphoreSlim _slots;
    private readonly ConcurrentQueue<MySqlConnection> _idle = new();
    private readonly ConcurrentDictionary<MySqlConnection, DateTime> _leased = new();

    public TenantPool(MySqlDataSource dataSource, int maxLeases)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxLeases);
        _dataSource = dataSource;
        _slots = new SemaphoreSlim(maxLeases, maxLeases);
    }

    public int LeasedCount => _leased.Count;

    public async Task<PooledConnection> GetConnectionAsync(CancellationToken cancellationToken = default)
    {
        await _slots.WaitAsync(cancellationToken);
        try
        {
            if (!_idle.TryDequeue(out var connection))
            {
                connection = await _dataSource.OpenConnectionAsync(cancellationToken);
            }

            _leased.TryAdd(connection, DateTime.UtcNow);
            return new PooledConnection(this, connection);
        }
        catch
        {
            _slots.Release();
            throw;
        }
    }

    public void Release(PooledConnection pooled)
    {
        if (_leased.TryRemove(pooled.Connection, out _))
        {
            _idle.Enqueue(pooled.Connection);
            _slots.Release();
        }
    }

    /// <summary>Leases held longer than <paramref name="threshold"/>, oldest first.</summary>
    public IReadOnlyList<TimeSpan> LongLeases(TimeSpan threshold)
    {
        var now = DateTime.UtcNow;
        return _leased.Values.Select(at => now - at).Where(age => age > threshold).OrderByDescending(age => age).ToList();
    }

    public async ValueTask DisposeAsync()
    {
        while (_idle.TryDequeue(out var connection))
        {
            await connection.DisposeAsync();
        }

        _slots.Dispose();
    }
}

/// <summary>One <see cref="TenantPool"/> per tenant.</summary>
public sealed class TenantPools
{
    private readonly ConcurrentDictionary<string, TenantPool> _pools = new(StringComparer.Ordinal);
    private readonly TenantDataSources _dataSources;

    public TenantPools(TenantDataSources dataSources) => _dataSources = dataSources;

    public TenantPool For(string tenant) => _pools.GetOrAdd(tenant, key => new TenantPool(_dataSources.GetDataSource(key), maxLeases: 8));
}
