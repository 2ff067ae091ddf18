using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using Microsoft.Extensions.Logging;

namespace TenantDbGuard.Core;

/// <summary>
/// Reports leases held longer than <see cref="TenantDbGuardOptions.LeakDetectionThreshold"/> with the stack trace of
/// the code that acquired them, notes when such a lease comes back, and reports leases that were never given back once
/// they are reclaimed (<see cref="LeaseSentinel"/>). Each leaked lease counts once in the leaks metric. Stacks are
/// captured only when a threshold is set: capturing one costs more than the rest of an acquisition.
/// </summary>
internal sealed class LeakDetector : IDisposable
{
    private const string NotRecorded = "(not recorded: set LeakDetectionThreshold to record where leases are acquired)";

    private readonly TimeSpan? _threshold;
    private readonly ILogger _logger;
    private readonly Instruments _instruments;
    private readonly ConcurrentDictionary<long, Record> _active = new();
    private readonly TimeProvider _time;
    private readonly ITimer? _timer;
    private long _nextId;

    public LeakDetector(TimeSpan? threshold, TimeProvider time, ILogger logger, Instruments instruments)
    {
        _threshold = threshold;
        _time = time;
        _logger = logger;
        _instruments = instruments;
        if (threshold is { } limit)
        {
            var period = TimeSpan.FromTicks(Math.Max(limit.Ticks / 4, TimeSpan.FromMilliseconds(20).Ticks));
            period = period > TimeSpan.FromSeconds(30) ? TimeSpan.FromSeconds(30) : period;
            _timer = time.CreateTimer(static state => ((LeakDetector)state!).Scan(), this, period, period);
        }
    }

    /// <summary>Whether acquisitions record their caller's stack.</summary>
    public bool RecordsStacks => _threshold is not null;

    /// <summary>
    /// The stack of the code that asks for a connection. Call it before the first <c>await</c> of the acquisition:
    /// once an await has yielded, the stack shows the thread pool instead of the caller.
    /// </summary>
    public static StackTrace CaptureCaller() => new(1, fNeedFileInfo: true);

    /// <summary>Starts watching a lease; returns its id (0 when nothing is recorded).</summary>
    public long Track(string tenantKey, StackTrace? acquiredAt)
    {
        if (acquiredAt is null)
        {
            return 0;
        }

        var id = Interlocked.Increment(ref _nextId);
        _active[id] = new Record(tenantKey, _time.GetTimestamp(), acquiredAt);
        return id;
    }

    /// <summary>The lease came back.</summary>
    public void Untrack(long id)
    {
        if (id != 0 && _active.TryRemove(id, out var record) && record.Reported)
        {
            Log.LeakReturned(_logger, LogSafe.Text(record.TenantKey), _time.GetElapsedTime(record.AcquiredTicks).TotalMilliseconds);
        }
    }

    /// <summary>The lease was never given back and has been reclaimed: log it once, and count it unless it already was.</summary>
    public void Reclaimed(long id, string tenantKey)
    {
        var acquiredAt = NotRecorded;
        var count = true;
        if (id != 0 && _active.TryRemove(id, out var record))
        {
            acquiredAt = record.AcquiredAt.ToString();
            count = record.MarkCounted();
        }

        if (count)
        {
            _instruments.RecordLeak(tenantKey);
        }

        Log.LeakReclaimed(_logger, LogSafe.Text(tenantKey), acquiredAt);
    }

    public void Dispose() => _timer?.Dispose();

    private void Scan()
    {
        foreach (var record in _active.Values)
        {
            var held = _time.GetElapsedTime(record.AcquiredTicks);
            if (held >= _threshold && !record.Reported && record.MarkCounted())
            {
                record.Reported = true;
                _instruments.RecordLeak(record.TenantKey);
                Log.LeakSuspected(_logger, LogSafe.Text(record.TenantKey), held.TotalMilliseconds, record.AcquiredAt.ToString());
            }
        }
    }

    private sealed class Record
    {
        private int _counted;

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

        /// <summary>True the first time: the lease is counted in the leaks metric once.</summary>
        public bool MarkCounted() => Interlocked.Exchange(ref _counted, 1) == 0;
    }
}
