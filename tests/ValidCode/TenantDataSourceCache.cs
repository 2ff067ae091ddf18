using System;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;
using MySqlConnector;

namespace ValidCode;

/// <summary>
/// One data source per tenant, created on first use and closed after a quiet period; the master's data source can be
/// replaced when its password rotates.
/// </summary>
public sealed class TenantDataSourceCache : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, Entry> _byTenant = new(StringComparer.Ordinal);
    private readonly string _masterConnectionString;
    private MySqlDataSource _master;

    public TenantDataSourceCache(string masterConnectionString)
    {
        _masterConnectionString = masterConnectionString;
        _master = new MySqlDataSource(masterConnectionString);
    }

    public MySqlDataSource Master => Volatile.Read(ref _master);

    public MySqlDataSource For(string tenant)
    {
        var entry = _byTenant.GetOrAdd(tenant, static (key, master) => new Entry(new Lazy<MySqlDataSource>(() =>
        {
            var builder = new MySqlConnectionStringBuilder(master) { Database = "tenant_" + key, MaximumPoolSize = 10 };
            return new MySqlDataSourceBuilder(builder.ConnectionString).Build();
        })), _masterConnectionString);
        entry.Touch();
        return entry.DataSource.Value;
    }

    /// <summary>Closes the pools of tenants that were not used for <paramref name="idleAfter"/>.</summary>
    public async Task EvictIdleAsync(TimeSpan idleAfter)
    {
        foreach (var (tenant, entry) in _byTenant)
        {
            if (entry.IdleFor < idleAfter || !_byTenant.TryRemove(tenant, out var evicted) || !evicted.DataSource.IsValueCreated)
            {
                continue;
            }

            var dataSource = evicted.DataSource.Value;
            await dataSource.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Switches the master to a new connection string and closes the old pool.</summary>
    public void RotateMaster(string connectionString)
    {
        var previous = Interlocked.Exchange(ref _master, new MySqlDataSource(connectionString));
        previous.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var entry in _byTenant.Values)
        {
            if (entry.DataSource.IsValueCreated)
            {
                await entry.DataSource.Value.DisposeAsync().ConfigureAwait(false);
            }
        }

        _byTenant.Clear();
        await Master.DisposeAsync().ConfigureAwait(false);
    }

    private sealed class Entry
    {
        private long _lastUsed = Stopwatch.GetTimestamp();

        public Entry(Lazy<MySqlDataSource> dataSource) => DataSource = dataSource;

        public Lazy<MySqlDataSource> DataSource { get; }

        public TimeSpan IdleFor => Stopwatch.GetElapsedTime(Interlocked.Read(ref _lastUsed));

        public void Touch() => Interlocked.Exchange(ref _lastUsed, Stopwatch.GetTimestamp());
    }
}

/// <summary>Request code: takes connections from the cached data sources and gives them back, never the pools.</summary>
public sealed class TenantReportQueries
{
    private readonly TenantDataSourceCache _cache;

    public TenantReportQueries(TenantDataSourceCache cache) => _cache = cache;

    public async Task<long> CountOrdersAsync(string tenant, CancellationToken cancellationToken)
    {
        await using var connection = await _cache.For(tenant).OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new MySqlCommand("SELECT COUNT(*) FROM orders", connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false));
    }

    public async Task<bool> IsReachableAsync(string tenant, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await _cache.For(tenant).OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            return await connection.PingAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (MySqlException)
        {
            return false;
        }
    }
}
