using System;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading;
using Microsoft.Extensions.Logging;

namespace TenantDbGuard.Core;

/// <summary>
/// Reports leases held longer than <see cref="TenantDbGuardOptions.LeakDetectionThreshold"/> with the stack trace of
/// the code that acquired them, and notes when such a lease comes back.
/// </summary>
internal sealed class LeakDetector : IDisposable
{
    private readonly TimeSpan _threshold;
    private readonly ILogger _logger;
    private readonly Instruments _instruments;
    private readonly ConcurrentDictionary<long, Record> _active = new();
    private readonly Timer _timer;
    private long _nextId;

    public LeakDetector(TimeSpan threshold, ILogger logger, Instruments instruments)
    {
        _threshold = threshold;
        _logger = logger;
        _instruments = instruments;
        var period = TimeSpan.FromTicks(Math.Max(threshold.Ticks / 4, TimeSpan.FromMilliseconds(20).Ticks));
        _timer = new Timer(static state => ((LeakDetector)state!).Scan(), this, period, period);
    }

    /// <summary>
    /// The stack of the code that asks for a connection. Call it before the first <c>await</c> of the acquisition:
    /// once an await has yielded, the stack shows the thread pool instead of the caller.
    /// </summary>
    public static StackTrace CaptureCaller() => new(1, fNeedFileInfo: true);

    public long Track(string tenantKey, StackTrace acquiredAt)
    {
        var id = Interlocked.Increment(ref _nextId);
        _active[id] = new Record(tenantKey, Stopwatch.GetTimestamp(), acquiredAt);
        return id;
    }

    public void Untrack(long id)
    {
        if (_active.TryRemove(id, out var record) && record.Reported)
        {
            Log.LeakReturned(_logger, record.TenantKey, Stopwatch.GetElapsedTime(record.AcquiredTicks).TotalMilliseconds);
        }
    }

    public void Dispose() => _timer.Dispose();

    private void Scan()
    {
        foreach (var record in _active.Values)
        {
            var held = Stopwatch.GetElapsedTime(record.AcquiredTicks);
            if (held >= _threshold && !record.Reported)
            {
                record.Reported = true;
                _instruments.Leaks.Add(1, new System.Collections.Generic.KeyValuePair<string, object?>(Instruments.TenantTag, record.TenantKey));
                Log.LeakSuspected(_logger, record.TenantKey, held.TotalMilliseconds, record.AcquiredAt.ToString());
            }
        }
    }

    private sealed class Record
    {
        public Record(string tenantKey, long acquiredTicks, StackTrace acquiredAt)
        {
            TenantKey = tenantKey;
            AcquiredTicks = acquiredTicks;
            AcquiredAt = acquiredAt;
        }

        public string TenantKey { get; }

        public long AcquiredTicks { get; }

        public StackTrace AcquiredAt { get; }

        public bool Reported { get; set; }
    }
}
