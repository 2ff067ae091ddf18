using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using MySqlConnector;

namespace TenantDbGuard.Core;

/// <summary>
/// Owns every physical connection of the process and keeps their number under one budget. A lease takes an idle
/// connection to its server (preferring one already on its database, else switching it), opens one while the budget
/// has room, opens one in place of the longest-idle connection to another server, or waits until
/// <see cref="TenantDbGuardOptions.AcquireTimeout"/>. Per-tenant caps keep one tenant from taking everything.
/// </summary>
/// <remarks>
/// Idle connections count against the budget, which is the point: with MySqlConnector's own pooling, every tenant's
/// pool keeps its idle connections open and the sum of the pools exceeds the server's <c>max_connections</c>. Here
/// tenants on one server share its connections, and switching a connection's database (one round trip, about
/// 0.1 ms) replaces opening a new one (about 4 ms, and a connection the server counts until it has cleaned up).
/// One lock guards all counts; nothing slow (I/O) happens under it.
/// </remarks>
internal sealed class ConnectionBroker : IAsyncDisposable
{
    private readonly object _gate = new();
    private readonly TenantDbGuardOptions _options;
    private readonly ILogger _logger;
    private readonly Dictionary<string, ServerPool> _servers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _tenantsInUse = new(StringComparer.Ordinal);
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
        var period = TimeSpan.FromTicks(options.IdleTimeout.Ticks / 2);
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

    /// <summary>The pool of server <paramref name="key"/>, created by <paramref name="create"/> (under the lock: no I/O) when absent.</summary>
    public ServerPool GetOrAddServer(string key, Func<ServerPool> create)
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            if (!_servers.TryGetValue(key, out var server))
            {
                server = create();
                _servers.Add(key, server);
            }

            return server;
        }
    }

    /// <summary>
    /// Lends a connection open on <paramref name="target"/>'s database. Throws the server's error when the database
    /// cannot be switched to (the connection stays in the pool), or when no connection can be opened.
    /// </summary>
    public async ValueTask<PooledConnection> AcquireAsync(TenantTarget target, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var started = Stopwatch.GetTimestamp();
        var waiting = false;
        var server = target.Server;
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
                    server = Registered(server);
                    server.LastUsedTicks = Stopwatch.GetTimestamp();
                    generation = _generation;
                    _tenantsInUse.TryGetValue(target.Key, out var tenantInUse);
                    if (tenantInUse >= target.Cap)
                    {
                        (blocked, blockedLimit, blockedHeld) = (target.CapKind, target.Cap, tenantInUse);
                    }
                    else if (server.TryPopIdle(target.DatabaseName, out idle))
                    {
                        TakeLease(target.Key, tenantInUse);
                    }
                    else if (_open < _limit || (victim = StealOldestIdle(server)) is not null)
                    {
                        server.Open++;
                        _open++;
                        TakeLease(target.Key, tenantInUse);
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
                    idle.TenantKey = target.Key;
                    if (!await IsUsableAsync(idle, generation, cancellationToken).ConfigureAwait(false))
                    {
                        Discard(idle);
                        continue;
                    }

                    if (await SwitchAsync(idle, target, fresh: false, cancellationToken).ConfigureAwait(false))
                    {
                        RecordWait(started);
                        return idle;
                    }

                    continue;
                }

                if (open)
                {
                    if (victim is not null)
                    {
                        // Close first, so that the server never sees one more connection than the budget.
                        Log.IdleConnectionStolen(_logger, victim.Server.Key, server.Key);
                        await CloseAsync(victim).ConfigureAwait(false);
                    }

                    MySqlConnection connection;
                    try
                    {
                        connection = await server.OpenPhysicalAsync(cancellationToken).ConfigureAwait(false);
                    }
                    catch
                    {
                        lock (_gate)
                        {
                            server.Open--;
                            _open--;
                            ReturnLease(target.Key);
                            Pulse();
                        }

                        throw;
                    }

                    var pooled = new PooledConnection(server, connection, generation) { TenantKey = target.Key };
                    if (await SwitchAsync(pooled, target, fresh: true, cancellationToken).ConfigureAwait(false))
                    {
                        RecordWait(started);
                        return pooled;
                    }

                    continue;
                }

                var elapsed = Stopwatch.GetElapsedTime(started);
                var remaining = _options.AcquireTimeout - elapsed;
                if (remaining <= TimeSpan.Zero)
                {
                    Instruments?.Timeouts.Add(1, new KeyValuePair<string, object?>(Instruments.BudgetTag, blocked.ToString()));
                    Log.BudgetExhausted(_logger, target.Key, elapsed.TotalMilliseconds, blocked, blockedLimit);
                    throw new ConnectionBudgetExhaustedException(target.Key, blocked, blockedLimit, blockedHeld, elapsed);
                }

                if (!waiting)
                {
                    waiting = true;
                    lock (_gate)
                    {
                        _waiting++;
                    }

                    Log.WaitingForBudget(_logger, target.Key, blocked);
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

    /// <summary>
    /// Puts the connection on the target's database. Returns false when the connection failed (it is discarded and
    /// the caller tries again); throws the server's error when the database cannot be used (the connection is kept).
    /// </summary>
    private async ValueTask<bool> SwitchAsync(PooledConnection pooled, TenantTarget target, bool fresh, CancellationToken cancellationToken)
    {
        var connection = pooled.Connection;
        if (string.Equals(connection.Database, target.DatabaseName, StringComparison.Ordinal) || target.DatabaseName.Length == 0)
        {
            return true;
        }

        try
        {
            await connection.ChangeDatabaseAsync(target.DatabaseName, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (MySqlException exception) when (ServerErrors.IsDatabaseUnavailable(exception))
        {
            Release(pooled, broken: false);
            throw;
        }
        catch (Exception exception) when (!fresh && (ServerErrors.IsConnectionFailure(exception) || exception is MySqlException or InvalidOperationException))
        {
            // An idle connection that died (a server restart): drop it and try another.
            Discard(pooled);
            return false;
        }
        catch
        {
            Discard(pooled);
            throw;
        }
    }

    /// <summary>Takes a connection back from a lease. A broken one is closed; a healthy one is reset (in the background) and kept.</summary>
    public void Release(PooledConnection connection, bool broken)
    {
        var server = connection.Server;
        var reset = !broken && _options.ResetSessionOnRelease;
        var close = false;
        lock (_gate)
        {
            ReturnLease(connection.TenantKey!);
            server.LastUsedTicks = Stopwatch.GetTimestamp();
            if (broken || _disposed)
            {
                server.Open--;
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
                server.PushIdle(connection);
            }

            Pulse();
        }

        if (close)
        {
            if (broken)
            {
                Log.ConnectionBroken(_logger, connection.TenantKey!);
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
            return new ConnectionBudgetSnapshot(_limit, _open, _inUse, _tenantsInUse.Count, _waiting);
        }
    }

    /// <summary>Open connections per server.</summary>
    public List<(string Server, int Open)> ServerCounts()
    {
        lock (_gate)
        {
            var counts = new List<(string, int)>(_servers.Count);
            foreach (var server in _servers.Values)
            {
                counts.Add((server.Key, server.Open));
            }

            return counts;
        }
    }

    /// <summary>Leased connections per tenant (tenants with none are not listed).</summary>
    public List<(string Tenant, int InUse)> TenantCounts()
    {
        lock (_gate)
        {
            var counts = new List<(string, int)>(_tenantsInUse.Count);
            foreach (var pair in _tenantsInUse)
            {
                counts.Add((pair.Key, pair.Value));
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
            foreach (var server in _servers.Values)
            {
                var removed = server.RemoveIdle(static _ => true);
                Forget(server, removed.Count);
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

    private void Discard(PooledConnection connection)
    {
        lock (_gate)
        {
            ReturnLease(connection.TenantKey!);
            connection.Server.Open--;
            _open--;
            _generation++;
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
            Log.ResetFailed(_logger, exception, connection.TenantKey!);
            lock (_gate)
            {
                connection.Server.Open--;
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
            if (_disposed)
            {
                connection.Server.Open--;
                _open--;
                close = true;
            }
            else
            {
                connection.IdleSinceTicks = Stopwatch.GetTimestamp();
                connection.Server.PushIdle(connection);
            }

            Pulse();
        }

        if (close)
        {
            await CloseAsync(connection).ConfigureAwait(false);
        }
    }

    /// <summary>Closes idle connections past <see cref="TenantDbGuardOptions.IdleTimeout"/>.</summary>
    private void Reap()
    {
        var idleTimeoutTicks = (long)(_options.IdleTimeout.TotalSeconds * Stopwatch.Frequency);
        var now = Stopwatch.GetTimestamp();
        var toClose = new List<PooledConnection>();
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            foreach (var server in _servers.Values)
            {
                var stale = server.RemoveIdle(c => now - c.IdleSinceTicks >= idleTimeoutTicks);
                Forget(server, stale.Count);
                toClose.AddRange(stale);
            }

            if (toClose.Count > 0)
            {
                Pulse();
            }
        }

        foreach (var connection in toClose)
        {
            Log.IdleConnectionClosed(_logger, connection.Server.Key);
        }

        CloseAll(toClose);
    }

    /// <summary>Under the lock: takes the longest-idle connection to another server out of the budget, to be closed.</summary>
    private PooledConnection? StealOldestIdle(ServerPool requester)
    {
        PooledConnection? oldest = null;
        foreach (var server in _servers.Values)
        {
            if (ReferenceEquals(server, requester))
            {
                continue;
            }

            var candidate = server.PeekOldestIdle();
            if (candidate is not null && (oldest is null || candidate.IdleSinceTicks < oldest.IdleSinceTicks))
            {
                oldest = candidate;
            }
        }

        if (oldest is null)
        {
            return null;
        }

        oldest.Server.RemoveIdle(c => ReferenceEquals(c, oldest));
        Forget(oldest.Server, 1);
        return oldest;
    }

    private ServerPool Registered(ServerPool server)
    {
        if (_servers.TryGetValue(server.Key, out var current))
        {
            return current;
        }

        _servers.Add(server.Key, server);
        return server;
    }

    private void TakeLease(string tenantKey, int tenantInUse)
    {
        _tenantsInUse[tenantKey] = tenantInUse + 1;
        _inUse++;
    }

    private void ReturnLease(string tenantKey)
    {
        _inUse--;
        if (_tenantsInUse.TryGetValue(tenantKey, out var count))
        {
            if (count <= 1)
            {
                _tenantsInUse.Remove(tenantKey);
            }
            else
            {
                _tenantsInUse[tenantKey] = count - 1;
            }
        }
    }

    private void Forget(ServerPool server, int closed)
    {
        server.Open -= closed;
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
