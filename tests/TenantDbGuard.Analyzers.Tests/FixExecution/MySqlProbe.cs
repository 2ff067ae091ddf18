using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace TenantDbGuard.Analyzers.Tests.FixExecution;

/// <summary>
/// Watches MySqlConnector from the outside: its <c>Open</c> and <c>Execute</c> activities carry the run's faults into
/// real connections and commands, and its <c>db.client.connections.usage</c> metric (<c>state=used</c>) says how many
/// physical connections each pool still lends out. What TenantDbGuard.Runtime does inside (its budget probe, the
/// physical connections behind its leases) is not the code under test and is left alone; its leases are counted as
/// acquisitions from its <c>tenantdbguard.connections.wait_time</c> metric.
/// </summary>
internal static class MySqlProbe
{
    private const string SourceName = "MySqlConnector";

    private static readonly AsyncLocal<bool> Silenced = new();
    private static readonly ConcurrentDictionary<string, int> UsedByPool = new();
    private static readonly ActivityListener Activities = CreateActivityListener();
    private static readonly MeterListener Metrics = CreateMeterListener();

    /// <summary>Starts listening; call before the first connection of a run is opened.</summary>
    public static void EnsureStarted() => GC.KeepAlive((Activities, Metrics));

    /// <summary>Connections the pool named <paramref name="poolName"/> (its Application Name) lends out now.</summary>
    public static int UsedConnections(string poolName) => UsedByPool.TryGetValue(poolName, out var used) ? used : 0;

    /// <summary>Within the scope, MySqlConnector calls are the harness's own: no fault, no count, no trace.</summary>
    public static IDisposable Quiet()
    {
        var previous = Silenced.Value;
        Silenced.Value = true;
        return new Restore(previous);
    }

    private static ExecutionRun? ObservedRun() => Silenced.Value ? null : ExecutionRun.Current;

    /// <summary>
    /// Is MySqlConnector called by TenantDbGuard.Runtime rather than by the code under test? The nearest caller that is
    /// neither MySqlConnector, Dapper nor the framework decides (code resumed inline after an await of the runtime has
    /// the runtime further down its stack).
    /// </summary>
    private static bool FromRuntime()
    {
        foreach (var frame in new StackTrace(fNeedFileInfo: false).GetFrames())
        {
            var assembly = frame.GetMethod()?.DeclaringType?.Assembly;
            var name = assembly?.GetName().Name ?? string.Empty;
            if (assembly is null || assembly == typeof(MySqlProbe).Assembly || name is "MySqlConnector" or "Dapper" or "System.Private.CoreLib"
                || name.StartsWith("System.", StringComparison.Ordinal) || name.StartsWith("Microsoft.", StringComparison.Ordinal))
            {
                continue;
            }

            return assembly == typeof(TenantDatabase).Assembly;
        }

        return false;
    }

    private static ActivityListener CreateActivityListener()
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == SourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) =>
                ObservedRun() is not { } run || (run.CallsRuntime && FromRuntime()) ? ActivitySamplingResult.None : ActivitySamplingResult.AllData,
            ActivityStarted = activity =>
            {
                // An exception thrown here leaves MySqlConnector before it opens or sends anything.
                switch (activity.OperationName)
                {
                    case "Open":
                        ObservedRun()?.BeforeAcquire();
                        break;
                    case "Execute":
                        ObservedRun()?.BeforeCommand(null, default);
                        break;
                }
            },
            ActivityStopped = activity =>
            {
                var run = ObservedRun();
                if (run is null)
                {
                    return;
                }

                if (activity.OperationName == "Open" && activity.Status != ActivityStatusCode.Error)
                {
                    run.AfterAcquire();
                }
                else if (activity.OperationName == "Execute")
                {
                    var text = activity.GetTagItem("db.query.text") ?? activity.GetTagItem("db.statement");
                    run.Record($"sql: {text} ({(activity.Status == ActivityStatusCode.Error ? "failed" : "ok")})");
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }

    private static MeterListener CreateMeterListener()
    {
        var listener = new MeterListener
        {
            InstrumentPublished = (instrument, meterListener) =>
            {
                if ((instrument.Meter.Name == SourceName && instrument.Name == "db.client.connections.usage")
                    || (instrument.Meter.Name == "TenantDbGuard" && instrument.Name == "tenantdbguard.connections.wait_time"))
                {
                    meterListener.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<double>((_, _, _, _) => ObservedRun()?.Acquired());
        listener.SetMeasurementEventCallback<int>((_, value, tags, _) =>
        {
            string? pool = null;
            var used = false;
            foreach (var tag in tags)
            {
                switch (tag.Key)
                {
                    case "state":
                        used |= tag.Value as string == "used";
                        break;
                    case "pool.name":
                        pool = tag.Value as string;
                        break;
                }
            }

            if (used && pool is not null)
            {
                UsedByPool.AddOrUpdate(pool, value, (_, current) => current + value);
            }
        });
        listener.Start();
        return listener;
    }

    private sealed class Restore(bool previous) : IDisposable
    {
        public void Dispose() => Silenced.Value = previous;
    }
}
