using System;
using System.Collections.Generic;
using System.Diagnostics.Metrics;

namespace TenantDbGuard.Core;

/// <summary>The runtime's metrics, all on one <see cref="Meter"/> named <c>TenantDbGuard</c>.</summary>
internal sealed class Instruments : IDisposable
{
    public const string MeterName = "TenantDbGuard";
    public const string TenantTag = "tenantdbguard.tenant";
    public const string ServerTag = "tenantdbguard.server";
    public const string BudgetTag = "tenantdbguard.budget";

    private readonly Meter _meter;
    private readonly bool _ownsMeter;

    public Instruments(IMeterFactory? meterFactory, ConnectionBroker broker)
    {
        _ownsMeter = meterFactory is null;
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _meter.CreateObservableUpDownCounter("tenantdbguard.connections.open", () => PerServer(broker), "{connection}", "Physical connections open, idle ones included, per server (tenants on one server share them).");
        _meter.CreateObservableUpDownCounter("tenantdbguard.connections.in_use", () => PerTenant(broker), "{connection}", "Connections handed out in leases, per tenant.");
        _meter.CreateObservableUpDownCounter("tenantdbguard.connections.open.total", () => broker.Snapshot().Open, "{connection}", "Physical connections open in the process.");
        _meter.CreateObservableUpDownCounter("tenantdbguard.connections.in_use.total", () => broker.Snapshot().InUse, "{connection}", "Connections handed out in the process.");
        _meter.CreateObservableUpDownCounter("tenantdbguard.connections.limit", () => broker.Snapshot().Limit, "{connection}", "The process connection budget.");
        WaitTime = _meter.CreateHistogram<double>("tenantdbguard.connections.wait_time", "s", "Time spent acquiring a connection.");
        Timeouts = _meter.CreateCounter<long>("tenantdbguard.connections.timeouts", "{timeout}", "Acquisitions that failed because a budget stayed full.");
        Leaks = _meter.CreateCounter<long>("tenantdbguard.connections.leaks", "{lease}", "Leases held longer than the leak detection threshold, or never given back and reclaimed; each lease counts once.");
    }

    public Histogram<double> WaitTime { get; }

    public Counter<long> Timeouts { get; }

    public Counter<long> Leaks { get; }

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }

    private static IEnumerable<Measurement<int>> PerServer(ConnectionBroker broker)
    {
        foreach (var (server, open) in broker.ServerCounts())
        {
            yield return new Measurement<int>(open, new KeyValuePair<string, object?>(ServerTag, server));
        }
    }

    private static IEnumerable<Measurement<int>> PerTenant(ConnectionBroker broker)
    {
        foreach (var (tenant, inUse) in broker.TenantCounts())
        {
            yield return new Measurement<int>(inUse, new KeyValuePair<string, object?>(TenantTag, tenant));
        }
    }
}
