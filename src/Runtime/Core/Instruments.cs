using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Threading;

namespace TenantDbGuard.Core;

/// <summary>
/// The runtime's metrics, all on one <see cref="Meter"/> named <c>TenantDbGuard</c>: the OpenTelemetry database-client
/// connection metrics (<c>db.client.connection.*</c>), and the runtime's own names from 0.1 (<c>tenantdbguard.*</c>).
/// </summary>
/// <remarks>
/// <para>
/// The conventions' "connection pool" is the process budget of one <see cref="TenantDatabase"/>: every physical
/// connection counts against it, whatever its server and tenant, so that is what <c>db.client.connection.max</c> bounds.
/// Its name (<c>db.client.connection.pool.name</c>) is the master database's <c>host:port/database</c>, the form the
/// conventions recommend when a pool has no name of its own.
/// </para>
/// <para>
/// Tenants are unbounded, so no series is made per tenant as such: <see cref="TenantDbGuardOptions.MetricsTopTenants"/>
/// tenants holding the most connections at each reading carry their key, and the others are summed under
/// <see cref="OtherTenants"/>. Histograms and counters carry no tenant.
/// </para>
/// </remarks>
internal sealed class Instruments : IDisposable
{
    public const string MeterName = "TenantDbGuard";
    public const string TenantTag = "tenantdbguard.tenant";
    public const string ServerTag = "tenantdbguard.server";
    public const string BudgetTag = "tenantdbguard.budget";
    public const string PoolNameTag = "db.client.connection.pool.name";
    public const string StateTag = "db.client.connection.state";

    /// <summary>The tenant attribute's value for the tenants outside the top ones.</summary>
    public const string OtherTenants = "(other)";

    /// <summary>How many recent timeouts are remembered for <see cref="CountTimeouts"/>.</summary>
    private const int TimeoutHistory = 1024;

    /// <summary>
    /// The bucket boundaries, in seconds, of the connection histograms: the ones the database-client conventions
    /// prescribe for <c>db.client.operation.duration</c>, the only boundaries they give (from 1 ms to 10 s).
    /// </summary>
    internal static readonly double[] SecondsBuckets = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10];

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly ConnectionBroker _broker;
    private readonly int _topTenants;
    private readonly KeyValuePair<string, object?> _pool;
    private readonly KeyValuePair<string, object?>[] _idle;
    private readonly TenantBreakdown _used;
    private readonly TenantBreakdown _legacyInUse;
    private readonly HashSet<string> _leakTenants = new(StringComparer.Ordinal);
    private readonly long[] _timeouts = new long[TimeoutHistory];
    private long _timeoutCount;

    public Instruments(IMeterFactory? meterFactory, ConnectionBroker broker, string poolName, int topTenants)
    {
        _ownsMeter = meterFactory is null;
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _broker = broker;
        _topTenants = topTenants;
        _pool = new KeyValuePair<string, object?>(PoolNameTag, poolName);
        _idle = [_pool, new KeyValuePair<string, object?>(StateTag, "idle")];
        _used = new TenantBreakdown(topTenants, [_pool, new KeyValuePair<string, object?>(StateTag, "used")]);
        _legacyInUse = new TenantBreakdown(topTenants, []);

        // OpenTelemetry database-client conventions.
        _meter.CreateObservableUpDownCounter("db.client.connection.count", ObserveCount, "{connection}", "The number of connections that are currently in the state described by the state attribute: used (lent to a lease) or idle (open, ready for one). Connections being opened, reset or closed are in neither.");
        _meter.CreateObservableUpDownCounter("db.client.connection.max", () => new Measurement<int>(broker.Snapshot().Limit, _pool), "{connection}", "The maximum number of open connections allowed: the process connection budget now (0 until known).");
        _meter.CreateObservableUpDownCounter("db.client.connection.pending_requests", () => new Measurement<int>(broker.Snapshot().Waiting, _pool), "{request}", "The number of current pending requests for an open connection: acquisitions waiting for room in the budget or in their tenant's cap.");
        ConnectionTimeouts = _meter.CreateCounter<long>("db.client.connection.timeouts", "{timeout}", "The number of connection timeouts that have occurred trying to obtain a connection from the pool.");
        ConnectionWaitTime = CreateSecondsHistogram("db.client.connection.wait_time", "The time it took to obtain an open connection from the pool.");
        ConnectionUseTime = CreateSecondsHistogram("db.client.connection.use_time", "The time between borrowing a connection and returning it to the pool.");

        // The names of 0.1, kept so that dashboards built on them keep working.
        _meter.CreateObservableUpDownCounter("tenantdbguard.connections.open", () => PerServer(broker), "{connection}", "Physical connections open, idle ones included, per server (tenants on one server share them).");
        _meter.CreateObservableUpDownCounter("tenantdbguard.connections.in_use", () => _legacyInUse.Observe(broker.TenantCounts()), "{connection}", "Connections handed out in leases, for the tenants holding the most (see MetricsTopTenants), the others summed under '(other)'.");
        _meter.CreateObservableUpDownCounter("tenantdbguard.connections.open.total", () => broker.Snapshot().Open, "{connection}", "Physical connections open in the process.");
        _meter.CreateObservableUpDownCounter("tenantdbguard.connections.in_use.total", () => broker.Snapshot().InUse, "{connection}", "Connections handed out in the process.");
        _meter.CreateObservableUpDownCounter("tenantdbguard.connections.limit", () => broker.Snapshot().Limit, "{connection}", "The process connection budget.");
        WaitTime = CreateSecondsHistogram("tenantdbguard.connections.wait_time", "Time spent acquiring a connection.");
        Timeouts = _meter.CreateCounter<long>("tenantdbguard.connections.timeouts", "{timeout}", "Acquisitions that failed because a budget stayed full.");
        Leaks = _meter.CreateCounter<long>("tenantdbguard.connections.leaks", "{lease}", "Leases held longer than the leak detection threshold, or never given back and reclaimed; each lease counts once.");
    }

    public Histogram<double> WaitTime { get; }

    public Counter<long> Timeouts { get; }

    public Counter<long> Leaks { get; }

    private Counter<long> ConnectionTimeouts { get; }

    private Histogram<double> ConnectionWaitTime { get; }

    private Histogram<double> ConnectionUseTime { get; }

    /// <summary>A lease got its connection after waiting <paramref name="waited"/> (on the options' clock).</summary>
    public void RecordWait(TimeSpan waited)
    {
        var seconds = waited.TotalSeconds;
        WaitTime.Record(seconds);
        ConnectionWaitTime.Record(seconds, _pool);
    }

    /// <summary>A lease that began at <paramref name="leased"/> (a <see cref="Stopwatch"/> timestamp) gave its connection back.</summary>
    public void RecordUse(long leased)
    {
        if (leased != 0)
        {
            ConnectionUseTime.Record(Stopwatch.GetElapsedTime(leased).TotalSeconds, _pool);
        }
    }

    /// <summary>An acquisition failed after waiting its whole timeout, held back by <paramref name="budget"/>.</summary>
    public void RecordTimeout(ConnectionBudgetKind budget)
    {
        var tag = new KeyValuePair<string, object?>(BudgetTag, budget.ToString());
        Timeouts.Add(1, tag);
        ConnectionTimeouts.Add(1, _pool, tag);
        var index = Interlocked.Increment(ref _timeoutCount) - 1;
        Volatile.Write(ref _timeouts[index % TimeoutHistory], Stopwatch.GetTimestamp());
    }

    /// <summary>The acquisitions that timed out within <paramref name="window"/> (at most the last 1024 are remembered).</summary>
    public int CountTimeouts(TimeSpan window)
    {
        var since = Stopwatch.GetTimestamp() - (long)(window.TotalSeconds * Stopwatch.Frequency);
        var count = 0;
        for (var i = 0; i < _timeouts.Length; i++)
        {
            var seen = Volatile.Read(ref _timeouts[i]);
            if (seen != 0 && seen >= since)
            {
                count++;
            }
        }

        return count;
    }

    /// <summary>
    /// Counts a leak of <paramref name="tenantKey"/>: under its key when it is one of the first
    /// <see cref="TenantDbGuardOptions.MetricsTopTenants"/> tenants that leaked (a counter's series must last), else under
    /// <see cref="OtherTenants"/>; without a tenant when that option is 0.
    /// </summary>
    public void RecordLeak(string tenantKey)
    {
        if (_topTenants == 0)
        {
            Leaks.Add(1);
            return;
        }

        bool named;
        lock (_leakTenants)
        {
            named = _leakTenants.Contains(tenantKey) || (_leakTenants.Count < _topTenants && _leakTenants.Add(tenantKey));
        }

        Leaks.Add(1, new KeyValuePair<string, object?>(TenantTag, named ? tenantKey : OtherTenants));
    }

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }

    private Histogram<double> CreateSecondsHistogram(string name, string description) =>
#if NET9_0_OR_GREATER
        _meter.CreateHistogram<double>(name, "s", description, tags: null, new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
#else
        _meter.CreateHistogram<double>(name, "s", description);
#endif

    private IEnumerable<Measurement<int>> ObserveCount()
    {
        yield return new Measurement<int>(_broker.IdleTotal(), _idle);
        foreach (var used in _used.Observe(_broker.TenantCounts()))
        {
            yield return used;
        }
    }

    private static IEnumerable<Measurement<int>> PerServer(ConnectionBroker broker)
    {
        foreach (var (server, open) in broker.ServerCounts())
        {
            yield return new Measurement<int>(open, new KeyValuePair<string, object?>(ServerTag, server));
        }
    }
}
