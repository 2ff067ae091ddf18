using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics.Tracing;
using System.Linq;

namespace TenantDbGuard.Bench;

/// <summary>
/// Which types a run allocates, from the .NET runtime's own allocation sampling: the runtime raises
/// <c>GCAllocationTick</c> about every 100 KB allocated, naming the type of the object that crossed the mark, so each
/// event stands for about 100 KB of that type (a statistical profile, exact over many queries). Listening costs a
/// little, so the storm turns it on only when asked (<c>--alloc-types</c>) and then its timings are not comparable.
/// </summary>
internal sealed class AllocationSampler : EventListener
{
    private const int AllocationTickEvent = 10;
    private const long GcKeyword = 0x1;
    private readonly ConcurrentDictionary<string, long> _bytes = new(StringComparer.Ordinal);
    private volatile bool _recording;

    /// <summary>Starts counting (events before this are ignored).</summary>
    public void Start()
    {
        _bytes.Clear();
        _recording = true;
    }

    /// <summary>Stops counting and returns the bytes sampled per type, largest first.</summary>
    public IReadOnlyList<(string Type, long Bytes)> Stop()
    {
        _recording = false;
        return _bytes.OrderByDescending(pair => pair.Value).Select(pair => (pair.Key, pair.Value)).ToList();
    }

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(eventSource, EventLevel.Verbose, (EventKeywords)GcKeyword);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (!_recording || eventData.EventId != AllocationTickEvent || eventData.Payload is not { } payload || eventData.PayloadNames is not { } names)
        {
            return;
        }

        var type = names.IndexOf("TypeName") is var typeIndex and >= 0 ? payload[typeIndex] as string ?? "?" : "?";

        // AllocationAmount64 is the bytes allocated since the previous event, whatever their types.
        var amount = names.IndexOf("AllocationAmount64") is var amountIndex and >= 0 ? Convert.ToInt64(payload[amountIndex], System.Globalization.CultureInfo.InvariantCulture) : 100_000;
        _bytes.AddOrUpdate(type, amount, (_, total) => total + amount);
    }
}
