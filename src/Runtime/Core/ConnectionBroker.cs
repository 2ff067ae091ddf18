using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using MySqlConnector;

namespace TenantDbGuard.Core;

/// <summary>
/// Owns every physical connection of the process and keeps their number under one budget: connections are taken
/// from the tenant's idle stack, opened while the budget has room, opened in place of the longest-idle connection
/// of another tenant, or waited for until <see cref="TenantDbGuardOptions.AcquireTimeout"/>.
/// </summary>
/// <remarks>
/// Idle connections count against the budget, which is the point: with MySqlConnector's own pooling, every tenant's
/// pool keeps its idle connections open and the sum of the pools exceeds the server's <c>max_connections</c>.
/// One lock guards all counts; nothing slow (I/O) happens under it.
/// </remarks>
internal sealed class ConnectionBroker : IAsyncDisposable
{
    private readonly object _gate = new();
    private readonly TenantDbGuardOptions _options;
    private readonly ILogger _logger;
    private readonly Dictionary<string, TenantPool> _pools = new(StringComparer.Ordinal);
    private readonly Timer _reaper;
    private TaskCompletionSource<bool> _changed = NewSignal();
    private int _limit;
    private int _open;
    private int _inUse;
    private int _waiting;
    private long _generation;
    private bool _disposed;

    public ConnectionBroker(TenantDbGuardOptions options, ILogger logger)
    {
        _options = options;
        _logger = logger;
        var period = TimeSpan.FromTicks(Math.Min(options.IdleTimeout.Ticks, options.TenantEvictionTimeout.Ticks) / 2);
        period = period < TimeSpan.FromMilliseconds(50) ? TimeSpan.FromMilliseconds(50) : period > TimeSpan.FromSeconds(30) ? TimeSpan.FromSeconds(30) : period;
        _reaper = new Timer(static state => ((ConnectionBroker)state!).Reap(), this, period, period);
    }

    public Instruments? Instruments { get; set; }

    public int Limit
    {
        get
        {
            lock (_gate)
            {
                return _limit;
            }
        }
    }

    public void SetLimit(int limit)
    {
        lock (_gate)
        {
            _limit = limit;
            Pulse();
        }
    }

    /// <summary>The pool of <paramref name="key"/>, created by <paramref name="create"/> (under the lock: no I/O) when absent.</summary>
    public TenantPool GetOrAddPool(string key, Func<TenantPool> create)
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            if (!_pools.TryGetValue(key, out var pool))
            {
                pool = create();
                _pools.Add(key, pool);
            }

            return pool;
        }
    }

    /// <summary>Drops a pool (its database is gone): idle connections are closed, leased ones when they come back.</summary>
    public void RemovePool(TenantPool pool)
    {
        List<PooledConnection> idle;
        lock (_gate)
        {
            if (_pools.TryGetValue(pool.Key, out var current) && ReferenceEquals(current, pool))
            {
                _pools.Remove(pool.Key);
            }

            pool.Evicted = true;
            idle = pool.RemoveIdle(static _ => true);
            Forget(pool, idle.Count);
            Pulse();
        }

        CloseAll(idle);
    }

    public async ValueTask<PooledConnection> AcquireAsync(TenantPool pool, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var started = Stopwatch.GetTimestamp();
        var waiting = false;
        try
        {
            while (true)
            {
                PooledConnection? idle = null;
                PooledConnection? victim = null;
                var open = false;
                var blocked = ConnectionBudgetKind.Process;
                var blockedLimit = 0;
                var blockedHeld = 0;
                long generation;
                Task signal;
                lock (_gate)
                {
                    ThrowIfDisposed();
                    if (pool.Evicted)
                    {
                        pool = Resurrect(pool);
                    }

                    pool.LastUsedTicks = Stopwatch.GetTimestamp();
                    generation = _generation;
                    if (pool.TryPopIdle(out idle))
                    {
                        pool.InUse++;
                        _inUse++;
                    }
                    else if (pool.Open >= pool.Limit)
                    {
                        (blocked, blockedLimit, blockedHeld) = (pool.CapKind, pool.Limit, pool.InUse);
                    }
                    else if (_open < _limit || (victim = StealOldestIdle(pool)) is not null)
                    {
                        pool.Open++;
                        pool.InUse++;
                        _open++;
                        _inUse++;
                        open = true;
                    }
                    else
                    {
                        (blocked, blockedLimit, blockedHeld) = (ConnectionBudgetKind.Process, _limit, _open);
                    }

                    signal = _changed.Task;
                }

                if (idle is not null)
                {
                    if (await IsUsableAsync(idle, generation, cancellationToken).ConfigureAwait(false))
                    {
                        RecordWait(started);
                        return idle;
                    }

                    Discard(idle, broken: true);
                    continue;
                }

                if (open)
                {
                    if (victim is not null)
                    {
                        // Close first, so that the server never sees one more connection than the budget.
                        Log.IdleConnectionStolen(_logger, victim.Pool.Key, pool.Key);
                        await CloseAsync(victim).ConfigureAwait(false);
                    }

                    try
                    {
                        var connection = await pool.OpenPhysicalAsync(cancellationToken).ConfigureAwait(false);
                        RecordWait(started);
                        return new PooledConnection(pool, connection, generation);
                    }
                    catch
                    {
                        lock (_gate)
                        {
                            pool.Open--;
                            pool.InUse--;
                            _open--;
                            _inUse--;
                            Pulse();
                        }

                        throw;
                    }
                }

                var elapsed = Stopwatch.GetElapsedTime(started);
                var remaining = _options.AcquireTimeout - elapsed;
                if (remaining <= TimeSpan.Zero)
                {
                    Instruments?.Timeouts.Add(1, new KeyValuePair<string, object?>(Instruments.BudgetTag, blocked.ToString()));
                    Log.BudgetExhausted(_logger, pool.Key, elapsed.TotalMilliseconds, blocked, blockedLimit);
                    throw new ConnectionBudgetExhaustedException(pool.Key, blocked, blockedLimit, blockedHeld, elapsed);
                }

                if (!waiting)
                {
                    waiting = true;
                    lock (_gate)
                    {
                        _waiting++;
                    }

                    Log.WaitingForBudget(_logger, pool.Key, blocked);
                }

                try
                {
                    await signal.WaitAsync(remaining, cancellationToken).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    // Loop once more: the budget may have freed up at the last moment; otherwise it throws.
                }
            }
        }
        finally
        {
            if (waiting)
            {
                lock (_gate)
                {
                    _waiting--;
                }
            }
        }
    }

    /// <summary>Takes a connection back from a lease. A broken one is closed; a healthy one is reset (in the background) and kept.</summary>
    public void Release(PooledConnection connection, bool broken)
    {
        var pool = connection.Pool;
        var reset = !broken && _options.ResetSessionOnRelease;
        var close = false;
        lock (_gate)
        {
            pool.InUse--;
            _inUse--;
            pool.LastUsedTicks = Stopwatch.GetTimestamp();
            if (broken || _disposed || pool.Evicted)
            {
                pool.Open--;
                _open--;
                close = true;
                if (broken)
                {
                    _generation++;
                }
            }
            else if (!reset)
            {
                connection.IdleSinceTicks = Stopwatch.GetTimestamp();
                pool.PushIdle(connection);
            }

            Pulse();
        }

        if (close)
        {
            if (broken)
            {
                Log.ConnectionBroken(_logger, pool.Key);
            }

            _ = CloseAsync(connection);
        }
        else if (reset)
        {
            _ = ResetAndKeepAsync(connection);
        }
    }

    public ConnectionBudgetSnapshot Snapshot()
    {
        lock (_gate)
        {
            return new ConnectionBudgetSnapshot(_limit, _open, _inUse, _pools.Count, _waiting);
        }
    }

    public List<(string Key, int Open, int InUse)> PoolCounts()
    {
        lock (_gate)
        {
            var counts = new List<(string, int, int)>(_pools.Count);
            foreach (var pool in _pools.Values)
            {
                counts.Add((pool.Key, pool.Open, pool.InUse));
            }

            return counts;
        }
    }

    public async ValueTask DisposeAsync()
    {
        var idle = new List<PooledConnection>();
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            foreach (var pool in _pools.Values)
            {
                var removed = pool.RemoveIdle(static _ => true);
                Forget(pool, removed.Count);
                idle.AddRange(removed);
            }

            Pulse();
        }

        await _reaper.DisposeAsync().ConfigureAwait(false);
        foreach (var connection in idle)
        {
            await CloseAsync(connection).ConfigureAwait(false);
        }
    }

    private async ValueTask<bool> IsUsableAsync(PooledConnection connection, long generation, CancellationToken cancellationToken)
    {
        var idleFor = Stopwatch.GetElapsedTime(connection.IdleSinceTicks);
        if (connection.Generation == generation && idleFor < _options.ValidateAfterIdle)
        {
            return connection.Connection.State == System.Data.ConnectionState.Open;
        }

        try
        {
            if (await connection.Connection.PingAsync(cancellationToken).ConfigureAwait(false))
            {
                connection.Generation = generation;
                return true;
            }
        }
        catch (Exception exception) when (exception is MySqlException or InvalidOperationException or System.IO.IOException)
        {
        }

        return false;
    }

    private void Discard(PooledConnection connection, bool broken)
    {
        lock (_gate)
        {
            connection.Pool.InUse--;
            connection.Pool.Open--;
            _inUse--;
            _open--;
            if (broken)
            {
                _generation++;
            }

            Pulse();
        }

        _ = CloseAsync(connection);
    }

    private async Task ResetAndKeepAsync(PooledConnection connection)
    {
        try
        {
            await connection.Connection.ResetConnectionAsync().ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            Log.ResetFailed(_logger, exception, connection.Pool.Key);
            lock (_gate)
            {
                connection.Pool.Open--;
                _open--;
                _generation++;
                Pulse();
            }

            await CloseAsync(connection).ConfigureAwait(false);
            return;
        }

        var close = false;
        lock (_gate)
        {
            if (_disposed || connection.Pool.Evicted)
            {
                connection.Pool.Open--;
                _open--;
                close = true;
            }
            else
            {
                connection.IdleSinceTicks = Stopwatch.GetTimestamp();
                connection.Pool.PushIdle(connection);
            }

            Pulse();
        }

        if (close)
        {
            await CloseAsync(connection).ConfigureAwait(false);
        }
    }

    /// <summary>Closes idle connections past <see cref="TenantDbGuardOptions.IdleTimeout"/> and drops pools unused past the eviction timeout.</summary>
    private void Reap()
    {
        var idleTimeoutTicks = (long)(_options.IdleTimeout.TotalSeconds * Stopwatch.Frequency);
        var evictionTicks = (long)(_options.TenantEvictionTimeout.TotalSeconds * Stopwatch.Frequency);
        var now = Stopwatch.GetTimestamp();
        var toClose = new List<PooledConnection>();
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            List<string>? evicted = null;
            foreach (var pool in _pools.Values)
            {
                var stale = pool.RemoveIdle(c => now - c.IdleSinceTicks >= idleTimeoutTicks);
                Forget(pool, stale.Count);
                toClose.AddRange(stale);
                if (pool.Open == 0 && pool.InUse == 0 && now - pool.LastUsedTicks >= evictionTicks)
                {
                    (evicted ??= new List<string>()).Add(pool.Key);
                }
            }

            if (evicted is not null)
            {
                foreach (var key in evicted)
                {
                    _pools[key].Evicted = true;
                    _pools.Remove(key);
                    Log.PoolEvicted(_logger, key);
                }
            }

            if (toClose.Count > 0)
            {
                Pulse();
            }
        }

        foreach (var connection in toClose)
        {
            Log.IdleConnectionClosed(_logger, connection.Pool.Key);
        }

        CloseAll(toClose);
    }

    /// <summary>Under the lock: takes the longest-idle connection of another pool out of the budget, to be closed.</summary>
    private PooledConnection? StealOldestIdle(TenantPool requester)
    {
        PooledConnection? oldest = null;
        foreach (var pool in _pools.Values)
        {
            if (ReferenceEquals(pool, requester))
            {
                continue;
            }

            var candidate = pool.PeekOldestIdle();
            if (candidate is not null && (oldest is null || candidate.IdleSinceTicks < oldest.IdleSinceTicks))
            {
                oldest = candidate;
            }
        }

        if (oldest is null)
        {
            return null;
        }

        oldest.Pool.RemoveIdle(c => ReferenceEquals(c, oldest));
        Forget(oldest.Pool, 1);
        return oldest;
    }

    private TenantPool Resurrect(TenantPool pool)
    {
        if (_pools.TryGetValue(pool.Key, out var current))
        {
            return current;
        }

        pool.Evicted = false;
        _pools.Add(pool.Key, pool);
        return pool;
    }

    private void Forget(TenantPool pool, int closed)
    {
        pool.Open -= closed;
        _open -= closed;
    }

    private void RecordWait(long started) => Instruments?.WaitTime.Record(Stopwatch.GetElapsedTime(started).TotalSeconds);

    private void Pulse()
    {
        var previous = _changed;
        _changed = NewSignal();
        previous.TrySetResult(true);
    }

    private void ThrowIfDisposed()
    {
        if (_disposed)
        {
            throw new ObjectDisposedException(nameof(TenantDatabase));
        }
    }

    private static TaskCompletionSource<bool> NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static void CloseAll(List<PooledConnection> connections)
    {
        foreach (var connection in connections)
        {
            _ = CloseAsync(connection);
        }
    }

    private static async Task CloseAsync(PooledConnection connection)
    {
        try
        {
            await connection.Connection.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is MySqlException or InvalidOperationException or System.IO.IOException or ObjectDisposedException)
        {
            // The connection is gone either way.
        }
    }
}
