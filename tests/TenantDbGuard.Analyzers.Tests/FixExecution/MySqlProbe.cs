using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace TenantDbGuard.Analyzers.Tests.FixExecution;

/// <summary>
/// Watches MySqlConnector from the outside: its <c>Open</c> and <c>Execute</c> activities carry the run's faults into
/// real connections and commands, and its <c>db.client.connections.usage</c> metric (<c>state=used</c>) says how many
/// physical connections each pool still lends out.
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

    private static ActivityListener CreateActivityListener()
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == SourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) =>
                ObservedRun() is null ? ActivitySamplingResult.None : ActivitySamplingResult.AllData,
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
                if (instrument.Meter.Name == SourceName && instrument.Name == "db.client.connections.usage")
                {
                    meterListener.EnableMeasurementEvents(instrument);
                }
            },
        };
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
