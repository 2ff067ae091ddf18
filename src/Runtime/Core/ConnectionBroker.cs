using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using MySqlConnector;

namespace TenantDbGuard.Core;

/// <summary>
/// The connection budget: owns every physical connection of the process and keeps their number under one limit. A
/// lease takes an idle connection to its server, opens one while the budget has room, opens one in place of the
/// longest-idle connection to another server, or waits until <see cref="TenantDbGuardOptions.AcquireTimeout"/>.
/// Per-tenant caps keep one tenant from taking everything.
/// </summary>
/// <remarks>
/// <para>
/// Idle connections count against the budget, which is the point: with MySqlConnector's own pooling, every tenant's
/// pool keeps its idle connections open and the sum of the pools exceeds the server's <c>max_connections</c>. Here
/// tenants on one server share its connections (see <see cref="PhysicalConnection"/> for how they are kept apart).
/// </para>
/// <para>
/// The limit is a ceiling on the connections the server sees from this process, not just on the ones the runtime
/// believes it holds. So a connection is counted until the server has let go of it: a connection given back while a
/// statement still runs on it (or whose reset does not answer within <see cref="TenantDbGuardOptions.ResetTimeout"/>)
/// stays counted until that statement is killed, over another connection of the same server that the budget has room
/// for; and cancelling a lease's statement, which MySqlConnector does by opening a connection to send
/// <c>KILL QUERY</c>, first takes room in the budget for that connection (<see cref="ReserveRoomAsync"/>).
/// </para>
/// <para>
/// A lease that is never given back is reclaimed when it becomes unreachable (<see cref="LeaseSentinel"/>): its
/// physical connection is closed, never reused, and its budget slot and tenant cap come back.
/// </para>
/// <para>
/// One lock guards all counts; nothing slow (I/O) happens under it. The concerns are kept apart for what comes later:
/// this class does the accounting, <see cref="PhysicalConnection"/> the session hygiene, <see cref="TenantRegistry"/>
/// the tenants.
/// </para>
/// </remarks>
internal sealed class ConnectionBroker : IAsyncDisposable
{
    /// <summary>
    /// How long a closed connection stays counted after the client let go of it: the server ends its side a moment
    /// later, and only then does it stop counting against <c>max_connections</c>.
    /// </summary>
    internal static readonly TimeSpan ServerLetGo = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// A connection that answered this recently (its reset after the last lease, or its opening) is not checked again
    /// before a helper's batch: the helper's batch starts with the <c>USE</c> itself.
    /// </summary>
    internal static readonly TimeSpan AliveBypassWindow = TimeSpan.FromMilliseconds(500);

    /// <summary>How long, about, no new connection is tried after the server refused one (the limit also shrank).</summary>
    internal static readonly TimeSpan RefusalPause = TimeSpan.FromMilliseconds(50);

    private readonly object _gate = new();
    private readonly TenantDbGuardOptions _options;
    private readonly ILogger _logger;
    private readonly Dictionary<string, ServerPool> _servers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _tenantsInUse = new(StringComparer.Ordinal);

    // Connections out on lease. Held here so that a leaked lease's connection stays whole (nothing in it finalized)
    // until its sentinel hands it back.
    private readonly HashSet<PhysicalConnection> _lent = new();
    private readonly TimeProvider _time;
    private readonly ITimer _reaper;
    private readonly BudgetControl _control;
    private readonly Task _controlLoop;
    private readonly LinkedList<Waiter> _queue = new();
    private TaskCompletionSource<bool> _changed = NewSignal();
    private bool _changeWatched;
    private TaskCompletionSource<bool> _readSoon = NewSignal();
    private TaskCompletionSource<PhysicalConnection?>? _readerClaim;

    // Kills waiting for a connection of their server to be sent over: the next one given back goes to them before any
    // waiter (see Keep), or a busy connection would hold its slot for as long as leases keep the others busy.
    private readonly List<(ServerPool Server, TaskCompletionSource<PhysicalConnection?> Claim)> _killClaims = new();
    private long _opensHeldUntil;

    // The last sign that the server itself is full (a refusal, or a reading that shrank the budget): what a caller that
    // waited in vain on a budget the server narrowed is told, rather than to raise the process's own limits.
    private Exception? _serverFull;
    private bool _active;
    private ServerPool? _loadServer;
    private int _open;
    private int _inUse;
    private int _waiting;
    private int _cancellable;
    private int _closing;
    private bool _disposed;

    /// <summary>How long a session may take to answer the runtime (see <see cref="TenantDbGuardOptions.ResetTimeout"/>).</summary>
    public TimeSpan ResetTimeout => _options.ResetTimeout;

    /// <summary>The runtime's logger, for what a lease reports.</summary>
    public ILogger Logger => _logger;

    public ConnectionBroker(TenantDbGuardOptions options, ILogger logger)
    {
        _options = options;
        _logger = logger;
        _time = options.TimeProvider;
        var period = TimeSpan.FromTicks(options.IdleTimeout.Ticks / 2);
        period = period < TimeSpan.FromMilliseconds(50) ? TimeSpan.FromMilliseconds(50) : period > TimeSpan.FromSeconds(30) ? TimeSpan.FromSeconds(30) : period;
        _reaper = _time.CreateTimer(static state => ((ConnectionBroker)state!).Reap(), this, period, period);
        _control = new BudgetControl(options.MaxConnections, options.ServerShare, options.ReservedConnections);
        _controlLoop = Task.Run(ControlLoopAsync);
    }

    /// <summary>The server whose load steers the budget (the master database's); asked for once, when first needed.</summary>
    public Func<ServerPool>? LoadServer { get; set; }

    public Instruments? Instruments { get; set; }

    public LeakDetector? Leaks { get; set; }

    public int Limit
    {
        get
        {
            lock (_gate)
            {
                return _control.Limit;
            }
        }
    }

    /// <summary>Takes the server's <c>max_connections</c>, which the ceiling derives from (unless it is explicit).</summary>
    public void SetServerMax(int serverMax)
    {
        lock (_gate)
        {
            _control.SetServerMax(serverMax);
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
    /// Lends a connection open on <paramref name="target"/>'s database (as the server confirmed). Throws the server's
    /// error when the database cannot be used (the connection stays in the pool), or when no connection can be opened.
    /// An idle connection that turns out dead or out of step is dropped, and another one tried, before anything of the
    /// lease is sent.
    /// </summary>
    /// <remarks>
    /// <para>
    /// While leases that can be cancelled are out (<paramref name="cancellable"/>), and the budget is 2 or more, one
    /// connection of it stays free (or idle, to be closed) for the connection that cancelling a statement takes;
    /// otherwise cancelling could wait for a lease to end, which is what it is meant to cut short.
    /// </para>
    /// <para>
    /// Callers that have to wait are served first come, first served (<see cref="Dispatch"/>): a connection that
    /// comes back goes to the longest waiter it can serve, before any newcomer sees it.
    /// </para>
    /// </remarks>
    public async ValueTask<(PhysicalConnection Physical, MySqlConnection Connection, LeadingStatement? Leading)> AcquireAsync(TenantTarget target, bool cancellable, bool exposed, bool deferUse, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var started = _time.GetTimestamp();
        var server = target.Server;
        ExceptionDispatchInfo? refusal = null;
        var retry = false;
        var loggedWait = false;
        while (true)
        {
            Grant? grant = null;
            Waiter? waiter = null;
            lock (_gate)
            {
                ThrowIfDisposed();
                server.LastUsedTicks = Stopwatch.GetTimestamp();
                _active = true;

                // A newcomer may not pass anyone who waits; a caller whose connection failed keeps its place at the front.
                if (retry || _queue.Count == 0)
                {
                    grant = TryServe(target, cancellable, out _);
                }

                if (grant is null)
                {
                    waiter = new Waiter(target, cancellable);
                    if (retry)
                    {
                        _queue.AddFirst(waiter.Node);
                    }
                    else
                    {
                        _queue.AddLast(waiter.Node);
                    }

                    _waiting++;
                    Dispatch();
                }
            }

            if (waiter is not null)
            {
                if (!waiter.Granted.Task.IsCompleted && !loggedWait)
                {
                    loggedWait = true;
                    Log.WaitingForBudget(_logger, LogSafe.Text(target.Key), waiter.Blocked);
                }

                grant = await WaitForGrantAsync(waiter, started, refusal, cancellationToken).ConfigureAwait(false);
            }

            var physical = grant!.Physical;
            if (grant.Victim is { } victim)
            {
                // Close first, and let the server end it, so that it never sees one more connection than the budget.
                Log.IdleConnectionStolen(_logger, victim.Server.Key, server.Key);
                await victim.DisposeAsync().ConfigureAwait(false);
                await Task.Delay(ServerLetGo).ConfigureAwait(false);
            }

            var resetFirst = physical.DirtyTenantKey is { } dirty && !string.Equals(dirty, target.Key, StringComparison.Ordinal);
            try
            {
                if (grant.Fresh && server.Coordinator is { } coordinator)
                {
                    // A new connection: opened only when the server has room for it, in agreement with the other
                    // processes on the server (see OpenCoordinator).
                    await coordinator.OpenAsync(physical, cancellationToken).ConfigureAwait(false);
                }

                var recent = grant.Fresh || _time.GetElapsedTime(physical.IdleSinceTicks) < AliveBypassWindow;
                var (connection, leading) = await physical.LendAsync(target, resetFirst, exposed, deferUse && recent, _options.ResetTimeout, cancellationToken).ConfigureAwait(false);
                physical.LastDatabase = target.DatabaseName;
                physical.DirtyTenantKey = null;
                physical.LeasedTicks = Stopwatch.GetTimestamp();
                Instruments?.RecordWait(_time.GetElapsedTime(started));
                return (physical, connection, leading);
            }
            catch (MySqlException exception) when (ServerErrors.IsDatabaseUnavailable(exception))
            {
                // The database cannot be used; the connection is fine and stays (reset, if it had to be).
                GiveBack(physical, target.Key, cancellable, keep: true, clean: resetFirst);
                throw;
            }
            catch (ServerFullException full)
            {
                // The server had no room (read under the open lock): as a refusal, without the server refusing anyone.
                NoRoom(full, target.Key);
                GiveBack(physical, target.Key, cancellable, keep: false, clean: false);
                refusal = ExceptionDispatchInfo.Capture(new ServerConnectionLimitException(target.Key, (int)MySqlErrorCode.ConnectionCountError, Limit, full));
                retry = true;
            }
            catch (MySqlException exception) when (grant.Fresh && ServerErrors.IsConnectionLimit(exception))
            {
                // The server is full (other instances, other clients): the budget shrinks, and the caller waits
                // for a connection the process holds, or for the server to have room again.
                Refused(exception, target.Key);
                GiveBack(physical, target.Key, cancellable, keep: false, clean: false);
                refusal = ExceptionDispatchInfo.Capture(exception);
                retry = true;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // Cancelled while taking the session from its pool: nothing was sent.
                GiveBack(physical, target.Key, cancellable, keep: true, clean: false);
                throw;
            }
            catch (Exception exception) when (!grant.Fresh)
            {
                // Killed while idle, or the server restarted: nothing of the lease was sent; try another.
                // A session that was reset before it went idle and that the server ended while it sat there (its
                // wait_timeout, a KILL) held nothing to roll back: the server stops counting it as it closes it, and it
                // is uncounted at once. Any other failure is retired as failed: a kill over another connection of the
                // budget, and counted until the server no longer lists it (see CloseFailedAsync), which a budget whose
                // every idle session was ended at once would wait for in vain.
                Log.IdleConnectionFailed(_logger, exception, server.Key);
                var endedClean = exception is IdleSessionEndedException && physical.DirtyTenantKey is null;
                GiveBack(physical, target.Key, cancellable, keep: false, clean: false, failed: !endedClean);
                retry = true;
            }
            catch
            {
                GiveBack(physical, target.Key, cancellable, keep: false, clean: false, failed: true);
                throw;
            }
        }
    }

    /// <summary>
    /// Waits for <paramref name="waiter"/>'s turn until the acquire timeout; throws when the wait is cancelled or times
    /// out (with the server's refusal, when the server kept refusing).
    /// </summary>
    private async Task<Grant> WaitForGrantAsync(Waiter waiter, long started, ExceptionDispatchInfo? refusal, CancellationToken cancellationToken)
    {
        var remaining = _options.AcquireTimeout - _time.GetElapsedTime(started);
        try
        {
            if (remaining > TimeSpan.Zero)
            {
                return await waiter.Granted.Task.WaitAsync(remaining, _time, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (TimeoutException)
        {
            // Handled below, under the lock: the grant may have come at the last moment.
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Grant? late;
            lock (_gate)
            {
                late = Withdraw(waiter);
            }

            if (late is not null)
            {
                ReturnGrant(late, waiter.Target.Key, waiter.Cancellable);
            }

            throw;
        }

        lock (_gate)
        {
            if (Withdraw(waiter) is { } granted)
            {
                return granted;
            }
        }

        var elapsed = _time.GetElapsedTime(started);
        if (waiter.Blocked == ConnectionBudgetKind.Process)
        {
            if (refusal is not null)
            {
                // The server kept refusing for the whole wait: its own limit is the one to report.
                Instruments?.RecordTimeout(ConnectionBudgetKind.Process);
                refusal.Throw();
            }

            Exception? serverFull;
            int limit;
            lock (_gate)
            {
                limit = _control.Limit;
                serverFull = limit < _control.Ceiling ? _serverFull : null;
            }

            if (serverFull is not null)
            {
                // The budget stood below what the options allow because the server is full (other clients hold its
                // connections): the server's limit is the one to report, even though this caller never tried to open.
                Instruments?.RecordTimeout(ConnectionBudgetKind.Process);
                throw new ServerConnectionLimitException(waiter.Target.Key, serverFull is MySqlException refused ? refused.Number : (int)MySqlErrorCode.ConnectionCountError, limit, serverFull);
            }
        }

        Instruments?.RecordTimeout(waiter.Blocked);
        Log.BudgetExhausted(_logger, LogSafe.Text(waiter.Target.Key), elapsed.TotalMilliseconds, waiter.Blocked, waiter.BlockedLimit);
        throw new ConnectionBudgetExhaustedException(waiter.Target.Key, waiter.Blocked, waiter.BlockedLimit, waiter.BlockedHeld, elapsed);
    }

    /// <summary>Under the lock: takes a waiter out of the queue; returns its grant when it got one meanwhile.</summary>
    private Grant? Withdraw(Waiter waiter)
    {
        if (waiter.Node.List is not null)
        {
            _queue.Remove(waiter.Node);
            _waiting--;
            Dispatch();
            return null;
        }

        return waiter.Granted.Task.IsCompletedSuccessfully ? waiter.Granted.Task.Result : null;
    }

    /// <summary>Gives back a grant its waiter no longer wants (it was cancelled as it came).</summary>
    private void ReturnGrant(Grant grant, string tenantKey, bool cancellable)
    {
        if (grant.Victim is { } victim)
        {
            CloseUncounted(victim);
        }

        GiveBack(grant.Physical, tenantKey, cancellable, keep: !grant.Fresh, clean: false);
    }

    /// <summary>
    /// Under the lock: serves <paramref name="target"/> now if a connection can be had (an idle one, a new one in the
    /// budget's room, or a new one in place of another server's longest-idle one), taking the lease; null when not, with
    /// the budget that stands in the way in <paramref name="waiter"/> (when given).
    /// </summary>
    private Grant? TryServe(TenantTarget target, bool cancellable, out bool tenantBlocked, Waiter? waiter = null)
    {
        var server = target.Server;
        _tenantsInUse.TryGetValue(target.Key, out var tenantInUse);
        var spare = _control.Limit >= 2 && (cancellable || _cancellable > 0) ? 1 : 0;
        var room = _control.Limit - _open + IdleCount();
        PhysicalConnection? victim = null;
        tenantBlocked = false;
        if (tenantInUse >= target.Cap)
        {
            tenantBlocked = true;
            waiter?.Block(target.CapKind, target.Cap, tenantInUse);
            return null;
        }

        if (room > spare && server.TryPopIdle(target, out var idle))
        {
            TakeLease(target.Key, tenantInUse, idle, cancellable);
            return new Grant(idle, Fresh: false, Victim: null);
        }

        if (room > spare && Stopwatch.GetTimestamp() >= _opensHeldUntil && (_open < _control.Limit || (victim = StealOldestIdle(server)) is not null))
        {
            server.Open++;
            _open++;
            var physical = new PhysicalConnection(server);
            TakeLease(target.Key, tenantInUse, physical, cancellable);
            return new Grant(physical, Fresh: true, victim);
        }

        waiter?.Block(ConnectionBudgetKind.Process, _control.Limit, _open);
        return null;
    }

    /// <summary>
    /// Under the lock: serves the waiters in the order they came, as far as connections allow. A waiter held back by
    /// its tenant's cap lets the ones behind it (of other tenants) go; a waiter held back by the process budget stops
    /// the round, so that nobody passes it.
    /// </summary>
    private void Dispatch()
    {
        if (_disposed)
        {
            foreach (var waiting in _queue)
            {
                waiting.Granted.TrySetException(new ObjectDisposedException(nameof(TenantDatabase)));
            }

            _queue.Clear();
            _waiting = 0;
            return;
        }

        var node = _queue.First;
        while (node is not null)
        {
            var next = node.Next;
            var waiter = node.Value;
            if (TryServe(waiter.Target, waiter.Cancellable, out var tenantBlocked, waiter) is { } grant)
            {
                _queue.Remove(node);
                _waiting--;
                waiter.Granted.TrySetResult(grant);
            }
            else if (!tenantBlocked)
            {
                return;
            }

            node = next;
        }
    }

    /// <summary>
    /// Takes a connection back from a lease. Its connection object dies now; the session is reset in the background
    /// and kept (or closed when it failed, or killed first when it is busy).
    /// </summary>
    /// <param name="physical">The lease's physical connection.</param>
    /// <param name="connection">The lease's connection object, disposed now.</param>
    /// <param name="tenantKey">The lease's tenant.</param>
    /// <param name="cancellable">Whether the lease counted as one that can be cancelled.</param>
    /// <param name="fate">What is known about the connection.</param>
    /// <param name="pendingKill">A <c>KILL QUERY</c> for the lease still under way: the session is reused only after it.</param>
    /// <returns>The background work that resets and parks (or closes) the connection; it never fails.</returns>
    public Task Release(PhysicalConnection physical, MySqlConnection connection, string tenantKey, bool cancellable, LeaseFate fate, Task pendingKill)
    {
        if (connection.State == System.Data.ConnectionState.Broken)
        {
            fate = LeaseFate.Failed;
        }

        Task closed;
        if (DriverSession.IsRunningStatement(connection))
        {
            // Code gave the lease back while a statement it sent was still on its way (a task it did not await).
            // Disposing the connection object under it would give the session back to its pool while the statement
            // still reads from it (the statement then fails with a raw NullReferenceException inside the driver, and
            // the reset below would find the session in use). The object is disposed once the statement is over
            // instead: the session is busy until then, and is reset only after it, or killed and closed when that
            // takes longer than the reset timeout, like any session given back busy.
            Log.StatementLeftRunning(_logger, LogSafe.Text(tenantKey), physical.Server.Key);
            closed = physical.EndLeaseAfterStatementAsync(connection, DisposeTimeout(_options));
        }
        else
        {
            closed = physical.EndLease(connection, fate == LeaseFate.Failed);
        }

        Instruments?.RecordUse(physical.LeasedTicks);

        lock (_gate)
        {
            ReturnLease(tenantKey, physical, cancellable);
            physical.Server.LastUsedTicks = Stopwatch.GetTimestamp();
            Pulse();
        }

        return RecycleAsync(physical, tenantKey, pendingKill.IsCompleted ? closed : Task.WhenAll(closed, pendingKill), fate);
    }

    /// <summary>A lease that became unreachable: its connection is closed, never reused, and its slot and cap come back.</summary>
    public void Reclaim(PhysicalConnection physical, string tenantKey, bool cancellable, long leakId)
    {
        lock (_gate)
        {
            ReturnLease(tenantKey, physical, cancellable);
            Pulse();
        }

        Instruments?.RecordUse(physical.LeasedTicks);
        Leaks?.Reclaimed(leakId, tenantKey);
        _ = CloseAndForgetAsync(physical);
    }

    /// <summary>
    /// Waits for room in the budget for one more connection (stealing an idle one if need be) and holds it until the
    /// returned handle is disposed; null when <paramref name="abandon"/> completes first or the runtime is disposed.
    /// MySqlConnector cancels a statement over a connection of its own: this is the room for it.
    /// </summary>
    public async Task<Room?> ReserveRoomAsync(Task abandon)
    {
        while (true)
        {
            PhysicalConnection? victim = null;
            Task signal;
            lock (_gate)
            {
                if (_disposed)
                {
                    return null;
                }

                if (_open < _control.Limit || (victim = StealOldestIdle(null)) is not null)
                {
                    _open++;
                    signal = Task.CompletedTask;
                }
                else
                {
                    signal = WatchChanges();
                }
            }

            if (signal.IsCompleted)
            {
                if (victim is not null)
                {
                    await victim.DisposeAsync().ConfigureAwait(false);
                    await Task.Delay(ServerLetGo).ConfigureAwait(false);
                }

                return new Room(this);
            }

            if (await Task.WhenAny(signal, abandon).ConfigureAwait(false) == abandon)
            {
                return null;
            }
        }
    }

    public ConnectionBudgetSnapshot Snapshot()
    {
        lock (_gate)
        {
            return new ConnectionBudgetSnapshot(_control.Limit, _control.Ceiling, _open, _inUse, _tenantsInUse.Count, _waiting);
        }
    }

    /// <summary>Idle connections on every server.</summary>
    public int IdleTotal()
    {
        lock (_gate)
        {
            return IdleCount();
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
        var idle = new List<PhysicalConnection>();
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _readSoon.TrySetResult(true);
            _readerClaim?.TrySetResult(null);
            _readerClaim = null;
            foreach (var (_, claim) in _killClaims)
            {
                claim.TrySetResult(null);
            }

            _killClaims.Clear();
            foreach (var server in _servers.Values)
            {
                var removed = server.RemoveIdle(static _ => true);
                Forget(server, removed.Count);
                idle.AddRange(removed);
            }

            Pulse();
        }

        // One deadline for all of it: a step the server is slow to answer (a reading of its load under way, a close, the
        // coordination session's) goes on in the background once it passes, and the caller (a host shutting down) is
        // not held longer than the documented wait.
        var waited = Stopwatch.StartNew();
        var deadline = Task.Delay(DisposeTimeout(_options));
        await _reaper.DisposeAsync().ConfigureAwait(false);
        var complete = await UntilAsync(_controlLoop, deadline).ConfigureAwait(false);
        if (idle.Count > 0)
        {
            complete &= await UntilAsync(Task.WhenAll(idle.Select(connection => connection.DisposeAsync().AsTask())), deadline).ConfigureAwait(false);
            complete &= await UntilAsync(Task.Delay(ServerLetGo), deadline).ConfigureAwait(false);
        }

        complete &= await WaitForBackgroundWorkAsync(deadline).ConfigureAwait(false);
        List<OpenCoordinator> coordinators;
        lock (_gate)
        {
            coordinators = [.. _servers.Values.Select(server => server.Coordinator).OfType<OpenCoordinator>()];
        }

        if (coordinators.Count > 0)
        {
            complete &= await UntilAsync(Task.WhenAll(coordinators.Select(coordinator => coordinator.DisposeAsync().AsTask())), deadline).ConfigureAwait(false);
        }

        if (!complete)
        {
            int open, closing;
            lock (_gate)
            {
                (open, closing) = (_open - _inUse, _closing);
            }

            Log.DisposeCutShort(_logger, (long)waited.Elapsed.TotalMilliseconds, open, closing);
        }
    }

    /// <summary>
    /// Waits for <paramref name="work"/> until <paramref name="deadline"/>: true when it ended in time (its exception, if
    /// any, is thrown); false when it goes on in the background, where a failure of it is observed and dropped.
    /// </summary>
    private static async Task<bool> UntilAsync(Task work, Task deadline)
    {
        if (!work.IsCompleted && await Task.WhenAny(work, deadline).ConfigureAwait(false) != work)
        {
            _ = work.ContinueWith(static ended => _ = ended.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            return false;
        }

        await work.ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// How long <see cref="DisposeAsync"/> waits in all (mostly for connections given back to be reset or killed and
    /// closed): a connection's way back takes at most three <see cref="TenantDbGuardOptions.ResetTimeout"/>s (its
    /// lease's close, its reset, what it left running), and the server a moment more to end its side.
    /// </summary>
    public static TimeSpan DisposeTimeout(TenantDbGuardOptions options) => 3 * options.ResetTimeout + TimeSpan.FromSeconds(1);

    /// <summary>
    /// Waits until nothing is under way in the background (resets, kills, closes of connections given back or taken out
    /// of the budget), or <paramref name="deadline"/> completes. Connections still out on lease are not waited for: they
    /// are closed when they come back.
    /// </summary>
    /// <returns>True when nothing was left under way; false when the deadline came first.</returns>
    private async Task<bool> WaitForBackgroundWorkAsync(Task deadline)
    {
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                if (_open <= _inUse && _closing == 0)
                {
                    return true;
                }

                changed = WatchChanges();
            }

            if (await Task.WhenAny(changed, deadline).ConfigureAwait(false) == deadline)
            {
                return false;
            }
        }
    }

    /// <summary>
    /// Reads the server's load every <see cref="BudgetControl.Interval"/> while the budget is in use (and soon after a
    /// refusal), and adjusts the limit to it (<see cref="BudgetControl.Observe"/>).
    /// </summary>
    private async Task ControlLoopAsync()
    {
        while (true)
        {
            Task readSoon;
            lock (_gate)
            {
                readSoon = _readSoon.Task;
            }

            await Task.WhenAny(readSoon, Task.Delay(BudgetControl.UntilNextReading(DateTime.UtcNow))).ConfigureAwait(false);
            try
            {
                if (!await ReadLoadAsync().ConfigureAwait(false))
                {
                    return;
                }
            }
            catch (Exception exception)
            {
                // Nothing may escape the loop: a reading that failed is tried again at the next interval.
                Log.LoadReadFailed(_logger, exception);
            }
        }
    }

    /// <summary>One reading of the server's load, over a connection the budget holds; false once the runtime is disposed.</summary>
    private async Task<bool> ReadLoadAsync()
    {
        ServerPool? server;
        lock (_gate)
        {
            if (_disposed)
            {
                return false;
            }

            if (_readSoon.Task.IsCompleted)
            {
                _readSoon = NewSignal();
            }

            if (!_active && _waiting == 0 || _control.Limit == 0)
            {
                return true;
            }

            _active = false;
            server = _loadServer;
        }

        if (server is null)
        {
            if (LoadServer is not { } loadServer)
            {
                return true;
            }

            server = loadServer();
            lock (_gate)
            {
                _loadServer = server;
            }
        }

        lock (_gate)
        {
            if (server.Open == 0 && _waiting == 0)
            {
                // Nothing to adjust: the process holds no connection to the server and nobody waits for one. A reading
                // now would open a session only to read (and keep it after the reaper closed the idle ones).
                return true;
            }
        }

        if (server.Coordinator is { } coordinator && await coordinator.TryReadLoadAsync().ConfigureAwait(false) is { } reading)
        {
            // Over the coordination session, which is one of the server's connections too: no lease waits for it.
            Observe(reading, ownSessions: 1, reader: null, idleSince: null);
            return true;
        }

        PhysicalConnection? reader = null;
        long? idleSince = null;
        var fresh = false;
        TaskCompletionSource<PhysicalConnection?>? claim = null;
        lock (_gate)
        {
            if (server.TryPopAnyIdle(out var idle))
            {
                (reader, idleSince) = (idle, idle.IdleSinceTicks);
            }
            else if (server.Open == 0 && _open < _control.Limit && Stopwatch.GetTimestamp() >= _opensHeldUntil)
            {
                // No connection to the server yet: a reading needs one of its own (kept afterwards like any other).
                server.Open++;
                _open++;
                reader = new PhysicalConnection(server);
                fresh = true;
            }
            else
            {
                // Every connection is out: take the next one that comes back, ahead of the waiters (one statement). A
                // reading never opens a connection beside the ones the process has: it would change what they count.
                _readerClaim = claim = new TaskCompletionSource<PhysicalConnection?>(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }

        if (claim is not null)
        {
            await Task.WhenAny(claim.Task, Task.Delay(BudgetControl.Interval)).ConfigureAwait(false);
            lock (_gate)
            {
                if (ReferenceEquals(_readerClaim, claim))
                {
                    _readerClaim = null;
                }

                reader = claim.Task.IsCompleted ? claim.Task.Result : null;
            }

            if (reader is null)
            {
                return true;
            }
        }

        ServerLoad load;
        try
        {
            load = await reader!.ReadLoadAsync(_options.ResetTimeout).ConfigureAwait(false);
        }
        catch (MySqlException exception) when (fresh && ServerErrors.IsConnectionLimit(exception))
        {
            Refused(exception, TenantDatabase.MasterKey);
            await CloseAndForgetAsync(reader!).ConfigureAwait(false);
            return true;
        }
        catch
        {
            await CloseAndForgetAsync(reader!).ConfigureAwait(false);
            throw;
        }

        Observe(load, ownSessions: 0, reader, idleSince);
        return true;
    }

    /// <summary>
    /// Adjusts the budget to a reading of the server; <paramref name="ownSessions"/> are this process's connections to it
    /// outside the budget (the coordination session). Parks <paramref name="reader"/>, the connection it was read over.
    /// </summary>
    private void Observe(ServerLoad load, int ownSessions, PhysicalConnection? reader, long? idleSince)
    {
        int before, after;
        List<PhysicalConnection> excess;
        lock (_gate)
        {
            before = _control.Limit;
            var wanting = _waiting > 0 || _inUse >= _control.Limit;
            _control.Observe(load, _open + ownSessions, wanting, Stopwatch.GetTimestamp());
            after = _control.Limit;
            if (after < before)
            {
                _serverFull = new ServerFullException(load, periodic: true);
            }
            excess = TrimIdle();
            Pulse();
        }

        if (reader is not null)
        {
            Park(reader, idleSince);
        }

        CloseTrimmed(excess);
        if (after != before)
        {
            Log.BudgetAdjusted(_logger, before, after, load.ThreadsConnected, load.MaxConnections);
        }
    }

    /// <summary>Resets the session a lease gave back and parks it, or closes it, or kills what still runs on it first.</summary>
    private async Task RecycleAsync(PhysicalConnection physical, string tenantKey, Task closed, LeaseFate fate)
    {
        try
        {
            if (fate == LeaseFate.Failed)
            {
                // Whether anything still runs on the server for it cannot be told: try to kill it, for a while.
                Log.ConnectionBroken(_logger, LogSafe.Text(tenantKey));
                await RetireAsync(physical, Task.Delay(_options.ResetTimeout), closed, null, untilGone: true).ConfigureAwait(false);
                return;
            }

            var outcome = await physical.RecycleAsync(closed, _options.ResetSessionOnRelease, _options.ResetTimeout).ConfigureAwait(false);
            switch (outcome.State)
            {
                case PhysicalConnection.RecycledState.Clean:
                case PhysicalConnection.RecycledState.Dirty:
                    bool close;
                    lock (_gate)
                    {
                        physical.DirtyTenantKey = outcome.State == PhysicalConnection.RecycledState.Dirty ? tenantKey : null;
                        close = !Keep(physical, _time.GetTimestamp());
                    }

                    if (close)
                    {
                        await CloseAndForgetAsync(physical).ConfigureAwait(false);
                    }

                    break;
                case PhysicalConnection.RecycledState.Busy:
                    Log.BusyConnectionKilled(_logger, LogSafe.Text(tenantKey), physical.Server.Key, _options.ResetTimeout.TotalMilliseconds);

                    // Not awaited: the kill waits for a connection to send it over, which may take long, and a helper
                    // waiting for this recycle (see TenantConnectionLease.ReturnAsync) must not wait for that.
                    _ = RetireBusyAsync(physical, tenantKey, outcome);
                    break;
                default:
                    Log.ConnectionBroken(_logger, LogSafe.Text(tenantKey));
                    await CloseFailedAsync(physical).ConfigureAwait(false);
                    break;
            }
        }
        catch (Exception exception)
        {
            // Nothing may escape a background task; the connection is closed and uncounted.
            Log.ResetFailed(_logger, exception, LogSafe.Text(tenantKey));
            await CloseFailedAsync(physical).ConfigureAwait(false);
        }
    }

    /// <summary>Retires a connection whose reset did not answer in time; nothing escapes (see <see cref="RecycleAsync"/>).</summary>
    private async Task RetireBusyAsync(PhysicalConnection physical, string tenantKey, PhysicalConnection.Recycled outcome)
    {
        try
        {
            await RetireAsync(physical, outcome.StillRunning!, outcome.StillRunning!, outcome.Holder, untilGone: false).ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            Log.ResetFailed(_logger, exception, LogSafe.Text(tenantKey));
            await CloseAndForgetAsync(physical).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A connection whose statement may still run on the server: end the session from this side (see
    /// <see cref="PhysicalConnection.EndFromThisSideAsync"/>) and kill it over another connection of the same server, and
    /// keep counting it until the kill is sent, or the server has closed it and another connection has seen it leave the
    /// process list (the server rolls back after it closes the socket; at most the reset timeout is spent waiting for
    /// a connection to watch with), unless <paramref name="giveUp"/> completes first (the statement ended by itself, or
    /// there is no telling and the runtime stops trying). Then closes it, once
    /// <paramref name="pending"/> (what waits on the session) is over, which either brings about at once. With
    /// <paramref name="untilGone"/> (the connection failed: the server may have killed it), the server closing the
    /// session's socket does not end the kill and the wait for the session to be gone, only <paramref name="giveUp"/>
    /// does: <c>KILL</c> shuts a session's socket at once, while its thread may run on for a while, still counted.
    /// </summary>
    private async Task RetireAsync(PhysicalConnection physical, Task giveUp, Task pending, MySqlConnection? holder, bool untilGone)
    {
        if (physical.ThreadId != 0)
        {
            // The session also ends from this side: when nothing runs on it (a reset whose answer something the code
            // left running took), the server ends it at once, with no connection needed for a kill, which the budget
            // may not have (every connection of it can be retiring like this one, each waiting for another to free).
            using var stopEnding = new CancellationTokenSource();
            var endedHere = physical.EndFromThisSideAsync(stopEnding.Token);
            var killed = await KillAsync(physical.Server, physical.ThreadId, queryOnly: false, untilGone ? giveUp : GiveUpOrEndedAsync(giveUp, endedHere)).ConfigureAwait(false);
            if (!killed && !untilGone)
            {
                // The statement's own end can come a moment before the server reads the end of the stream and closes
                // the socket. The server closes it before it rolls back what the session left open (a transaction can
                // take seconds to undo), and counts the session until then: watch it end over another connection of the
                // budget (a KILL, which finds it gone or ends it), when one can be had within the reset timeout.
                await Task.WhenAny(endedHere, Task.Delay(_options.ResetTimeout)).ConfigureAwait(false);
                if (endedHere.IsCompletedSuccessfully && endedHere.Result)
                {
                    await KillAsync(physical.Server, physical.ThreadId, queryOnly: false, Task.Delay(_options.ResetTimeout)).ConfigureAwait(false);
                }
            }

            await stopEnding.CancelAsync().ConfigureAwait(false);
        }

        await Task.WhenAny(pending, Task.Delay(_options.ResetTimeout)).ConfigureAwait(false);
        if (holder is not null)
        {
            await PhysicalConnection.DisposeQuietlyAsync(holder).ConfigureAwait(false);
        }

        await CloseAndForgetAsync(physical).ConfigureAwait(false);
    }

    /// <summary>Completes when <paramref name="giveUp"/> does, or when the server closed the session (<paramref name="endedHere"/> true).</summary>
    private static async Task GiveUpOrEndedAsync(Task giveUp, Task<bool> endedHere)
    {
        if (await Task.WhenAny(giveUp, endedHere).ConfigureAwait(false) == endedHere && !await endedHere.ConfigureAwait(false))
        {
            // The session cannot be watched from this side: only the statement's end or the caller's limit remains.
            await Task.WhenAny(giveUp).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Sends <c>KILL QUERY</c> (<paramref name="queryOnly"/>) or <c>KILL CONNECTION</c> for session
    /// <paramref name="threadId"/> over another connection of the same server that the budget holds: an idle one, or a
    /// new one when the budget has room (kept afterwards like any other). Waits for one until
    /// <paramref name="abandon"/> completes.
    /// </summary>
    /// <returns>
    /// True when the kill was sent and answered (after <c>KILL CONNECTION</c>, the server then no longer lists the
    /// session); false when it was abandoned or could not be sent.
    /// </returns>
    public async Task<bool> KillAsync(ServerPool server, int threadId, bool queryOnly, Task abandon)
    {
        while (!abandon.IsCompleted)
        {
            PhysicalConnection? killer = null;
            var fresh = false;
            Task signal;
            TaskCompletionSource<PhysicalConnection?>? claim = null;
            lock (_gate)
            {
                if (_disposed)
                {
                    return false;
                }

                if (server.TryPopAnyIdle(out killer))
                {
                    signal = Task.CompletedTask;
                }
                else if (_open < _control.Limit)
                {
                    server.Open++;
                    _open++;
                    fresh = true;
                    signal = Task.CompletedTask;
                }
                else
                {
                    claim = new TaskCompletionSource<PhysicalConnection?>(TaskCreationOptions.RunContinuationsAsynchronously);
                    _killClaims.Add((server, claim));
                    signal = WatchChanges();
                }
            }

            if (claim is not null)
            {
                // The next connection of this server given back comes here first; room in the budget is seen on a change.
                await Task.WhenAny(claim.Task, signal, abandon).ConfigureAwait(false);
                lock (_gate)
                {
                    if (!claim.Task.IsCompleted)
                    {
                        _killClaims.RemoveAll(entry => ReferenceEquals(entry.Claim, claim));
                        continue;
                    }
                }

                killer = await claim.Task.ConfigureAwait(false);
                if (killer is null)
                {
                    return false;
                }

                if (abandon.IsCompleted)
                {
                    Park(killer);
                    return false;
                }
            }

            killer ??= new PhysicalConnection(server);
            var outcome = await killer.KillAsync(threadId, queryOnly, _options.ResetTimeout).ConfigureAwait(false);
            if (outcome == KillOutcome.Done)
            {
                Park(killer);
                return true;
            }

            // The killer failed: an idle one was dead (try another), a new one could not connect (the server is out of
            // reach, and nothing runs there for this process that could be killed now) or its KILL did not answer in
            // time (MariaDB's KILL waits up to 2 s for the target to let go of a lock: no new one is sent after it), or
            // it failed while it watched the killed session end (watch again over another: that session may still be
            // on the server). Its own session may still run on the server, so it stays counted until the server no
            // longer lists it.
            await CloseFailedAsync(killer).ConfigureAwait(false);
            if (fresh && outcome != KillOutcome.WatchLost)
            {
                return false;
            }
        }

        return false;
    }

    /// <summary>
    /// Gives back a connection that was taken for a lease that did not happen; one that <paramref name="failed"/> is
    /// closed and stays counted until the server no longer lists it (see <see cref="CloseFailedAsync"/>).
    /// </summary>
    private void GiveBack(PhysicalConnection physical, string tenantKey, bool cancellable, bool keep, bool clean, bool failed = false)
    {
        bool close;
        lock (_gate)
        {
            ReturnLease(tenantKey, physical, cancellable);
            if (keep && clean)
            {
                physical.DirtyTenantKey = null;
            }

            close = !keep || !Keep(physical, _time.GetTimestamp());
            Pulse();
        }

        if (close)
        {
            _ = failed ? CloseFailedAsync(physical) : CloseAndForgetAsync(physical);
        }
    }

    /// <summary>
    /// Parks a connection used for the runtime's own work (a kill, a reading of the server's load): its session is as
    /// clean (or as dirty) as before. <paramref name="idleSince"/> keeps an idle connection's age, so that the runtime's
    /// own work does not keep it open past <see cref="TenantDbGuardOptions.IdleTimeout"/>.
    /// </summary>
    private void Park(PhysicalConnection physical, long? idleSince = null)
    {
        bool close;
        lock (_gate)
        {
            close = !Keep(physical, idleSince ?? _time.GetTimestamp());
        }

        if (close)
        {
            _ = CloseAndForgetAsync(physical);
        }
    }

    /// <summary>
    /// Under the lock: keeps a connection that is free again, handing it to the load reader when that waits for one, and
    /// returns true; false when it must be closed instead (the runtime is disposed, or the budget shrank below the
    /// connections open).
    /// </summary>
    private bool Keep(PhysicalConnection physical, long idleSince)
    {
        if (_disposed || _open > _control.Limit)
        {
            return false;
        }

        physical.IdleSinceTicks = idleSince;
        var kill = KillClaimOf(physical.Server);
        if (kill >= 0)
        {
            var claimed = _killClaims[kill].Claim;
            _killClaims.RemoveAt(kill);
            claimed.TrySetResult(physical);
        }
        else if (_readerClaim is { } claim && ReferenceEquals(physical.Server, _loadServer))
        {
            _readerClaim = null;
            claim.TrySetResult(physical);
        }
        else
        {
            physical.Server.PushIdle(physical);
        }

        Pulse();
        return true;
    }

    /// <summary>Under the lock: the first kill waiting for a connection of <paramref name="server"/>, or -1.</summary>
    private int KillClaimOf(ServerPool server)
    {
        for (var i = 0; i < _killClaims.Count; i++)
        {
            if (ReferenceEquals(_killClaims[i].Server, server))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>
    /// The server refused a connection (errors 1040, 1203, 1226): the budget shrinks, new connections are not tried for
    /// a moment, and the server's load is read again soon.
    /// </summary>
    private void Refused(MySqlException exception, string tenantKey)
    {
        var (before, after) = StopOpening(exception);
        Log.ServerRefused(_logger, LogSafe.Text(tenantKey), exception.Number, before, after);
    }

    /// <summary>The server had no room for a new connection when read under the open lock: as <see cref="Refused"/>.</summary>
    private void NoRoom(ServerFullException full, string tenantKey)
    {
        var (before, after) = StopOpening(full);
        Log.ServerFull(_logger, LogSafe.Text(tenantKey), full.Load.ThreadsConnected, full.Load.MaxConnections, before, after);
    }

    /// <summary>
    /// The server has no room (<paramref name="sign"/>: its refusal, or the reading that found it full): the limit drops to
    /// the connections the process has, opens pause a moment, and the server is read again soon.
    /// </summary>
    private (int Before, int After) StopOpening(Exception sign)
    {
        int before, after;
        List<PhysicalConnection> excess;
        lock (_gate)
        {
            _serverFull = sign;
            var now = Stopwatch.GetTimestamp();
            before = _control.Limit;

            // The refused connection is still counted; it never reached the server.
            _control.Refused(_open - 1);
            after = _control.Limit;
            var pause = RefusalPause * (0.5 + Random.Shared.NextDouble());
            _opensHeldUntil = now + (long)(pause.TotalSeconds * Stopwatch.Frequency);
            _ = DispatchAfterAsync(pause);
            excess = TrimIdle();
            _readSoon.TrySetResult(true);
        }

        CloseTrimmed(excess);
        return (before, after);
    }

    /// <summary>Serves the waiters again once new connections may be tried again.</summary>
    private async Task DispatchAfterAsync(TimeSpan pause)
    {
        await Task.Delay(pause).ConfigureAwait(false);
        lock (_gate)
        {
            Pulse();
        }
    }

    /// <summary>Under the lock: takes idle connections beyond the limit out of the budget, oldest first, to be closed (<see cref="CloseTrimmed"/>).</summary>
    private List<PhysicalConnection> TrimIdle()
    {
        var excess = new List<PhysicalConnection>();
        while (_open > _control.Limit && StealOldestIdle(null) is { } oldest)
        {
            excess.Add(oldest);
        }

        return excess;
    }

    private void CloseTrimmed(List<PhysicalConnection> excess)
    {
        foreach (var connection in excess)
        {
            Log.IdleConnectionClosed(_logger, connection.Server.Key);
            CloseUncounted(connection);
        }
    }

    /// <summary>
    /// Closes, in the background, a connection the budget no longer counts; <see cref="DisposeAsync"/> waits for it
    /// all the same.
    /// </summary>
    private void CloseUncounted(PhysicalConnection connection)
    {
        lock (_gate)
        {
            _closing++;
        }

        _ = CloseAsync(connection);

        async Task CloseAsync(PhysicalConnection closing)
        {
            try
            {
                await closing.DisposeAsync().ConfigureAwait(false);
            }
            finally
            {
                lock (_gate)
                {
                    _closing--;
                    Pulse();
                }
            }
        }
    }

    /// <summary>
    /// Closes a connection and stops counting it once the server has had time to end its side (at once when it never
    /// had one: the connection was refused).
    /// </summary>
    private async Task CloseAndForgetAsync(PhysicalConnection physical)
    {
        await physical.DisposeAsync().ConfigureAwait(false);
        await ForgetClosedAsync(physical).ConfigureAwait(false);
    }

    /// <summary>Stops counting a closed connection once the server has had time to end its side.</summary>
    private async Task ForgetClosedAsync(PhysicalConnection physical)
    {
        if (physical.ThreadId != 0 || physical.OpenTried)
        {
            // Also an open that failed: the server may have had a session for it (killed during its handshake, say).
            await Task.Delay(ServerLetGo).ConfigureAwait(false);
        }

        lock (_gate)
        {
            physical.Server.Open--;
            _open--;
            Pulse();
        }
    }

    /// <summary>
    /// Closes a connection that failed (killed from outside, lost, or set apart after an error) and stops counting it
    /// once the server no longer lists its session, at most <see cref="TenantDbGuardOptions.ResetTimeout"/>: the server
    /// closes a killed session's socket at once, but counts the session against <c>max_connections</c> until its thread
    /// has ended what it was doing (a statement, the rollback of a transaction), which can take a second on a busy
    /// server; a new connection opened in its place before then would be one beyond the budget. The check goes over
    /// another connection of the budget (with a <c>KILL</c>, which finds no such session when it is gone already).
    /// </summary>
    private async Task CloseFailedAsync(PhysicalConnection physical)
    {
        await physical.DisposeAsync().ConfigureAwait(false);
        if (physical.ThreadId != 0)
        {
            await KillAsync(physical.Server, physical.ThreadId, queryOnly: false, Task.Delay(_options.ResetTimeout)).ConfigureAwait(false);
        }

        await ForgetClosedAsync(physical).ConfigureAwait(false);
    }

    private void ReleaseRoom()
    {
        lock (_gate)
        {
            _open--;
            Pulse();
        }
    }

    /// <summary>Closes idle connections past <see cref="TenantDbGuardOptions.IdleTimeout"/>.</summary>
    private void Reap()
    {
        var now = _time.GetTimestamp();
        var toClose = new List<PhysicalConnection>();
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            foreach (var server in _servers.Values)
            {
                toClose.AddRange(server.RemoveIdle(c => _time.GetElapsedTime(c.IdleSinceTicks, now) >= _options.IdleTimeout));
            }
        }

        _ = CloseIdleAsync(toClose);
    }

    /// <summary>
    /// Closes connections the reaper took out; then a server to which the process keeps no connection any more loses
    /// the coordination session too (the next open makes it again).
    /// </summary>
    private async Task CloseIdleAsync(List<PhysicalConnection> toClose)
    {
        await Task.WhenAll(toClose.Select(connection =>
        {
            Log.IdleConnectionClosed(_logger, connection.Server.Key);
            return CloseAndForgetAsync(connection);
        })).ConfigureAwait(false);
        List<OpenCoordinator> quiet;
        lock (_gate)
        {
            // Not only those with a session now: a reading of the load may be opening one (it is closed after it).
            quiet = [.. _servers.Values.Where(server => server.Open == 0 && server.Coordinator is not null).Select(server => server.Coordinator!)];
        }

        foreach (var coordinator in quiet)
        {
            await coordinator.CloseSessionAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Under the lock: takes the longest-idle connection to another server than <paramref name="requester"/> (to any
    /// server when null) out of the budget, to be closed before its room is used.
    /// </summary>
    private PhysicalConnection? StealOldestIdle(ServerPool? requester)
    {
        PhysicalConnection? oldest = null;
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

    private void TakeLease(string tenantKey, int tenantInUse, PhysicalConnection physical, bool cancellable)
    {
        _tenantsInUse[tenantKey] = tenantInUse + 1;
        _inUse++;
        _lent.Add(physical);
        if (cancellable)
        {
            _cancellable++;
        }
    }

    private void ReturnLease(string tenantKey, PhysicalConnection physical, bool cancellable)
    {
        _lent.Remove(physical);
        if (cancellable)
        {
            _cancellable--;
        }

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

    /// <summary>Under the lock: idle connections on every server.</summary>
    private int IdleCount()
    {
        var idle = 0;
        foreach (var server in _servers.Values)
        {
            idle += server.IdleCount;
        }

        return idle;
    }

    private void Forget(ServerPool server, int closed)
    {
        server.Open -= closed;
        _open -= closed;
    }

    private void Pulse()
    {
        Dispatch();
        if (!_changeWatched)
        {
            // Nobody waits for a change: no signal to give, and none to make (a release pulses, so this is the common case).
            return;
        }

        var previous = _changed;
        _changed = NewSignal();
        _changeWatched = false;
        previous.TrySetResult(true);
    }

    /// <summary>A task that completes at the next change of the budget's state (under the gate).</summary>
    private Task WatchChanges()
    {
        _changeWatched = true;
        return _changed.Task;
    }

    private void ThrowIfDisposed()
    {
        if (_disposed)
        {
            throw new ObjectDisposedException(nameof(TenantDatabase));
        }
    }

    private static TaskCompletionSource<bool> NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Room in the budget for one connection the runtime does not own (MySqlConnector's cancellation connection).</summary>
    internal sealed class Room : IDisposable
    {
        private ConnectionBroker? _broker;

        public Room(ConnectionBroker broker) => _broker = broker;

        public void Dispose() => Interlocked.Exchange(ref _broker, null)?.ReleaseRoom();
    }
}

/// <summary>A connection given to an acquisition: idle, or new (<paramref name="Fresh"/>, counted already), possibly in place of an idle <paramref name="Victim"/> to close first.</summary>
internal sealed record Grant(PhysicalConnection Physical, bool Fresh, PhysicalConnection? Victim);

/// <summary>An acquisition waiting its turn in the broker's queue.</summary>
internal sealed class Waiter
{
    public Waiter(TenantTarget target, bool cancellable)
    {
        Target = target;
        Cancellable = cancellable;
        Node = new LinkedListNode<Waiter>(this);
    }

    public TenantTarget Target { get; }

    public bool Cancellable { get; }

    public LinkedListNode<Waiter> Node { get; }

    public TaskCompletionSource<Grant> Granted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The budget that held it back when last tried, its limit and what it held then (for the timeout's error).</summary>
    public ConnectionBudgetKind Blocked { get; private set; } = ConnectionBudgetKind.Process;

    public int BlockedLimit { get; private set; }

    public int BlockedHeld { get; private set; }

    public void Block(ConnectionBudgetKind kind, int limit, int held) => (Blocked, BlockedLimit, BlockedHeld) = (kind, limit, held);
}

/// <summary>How a lease ended, as far as its connection is concerned.</summary>
internal enum LeaseFate
{
    /// <summary>Nothing known against it: reset and reuse it (the reset checks it).</summary>
    Healthy,

    /// <summary>
    /// The connection failed, or the driver gave up on a statement (a command timeout): close it, after killing what
    /// may still run on the server for it.
    /// </summary>
    Failed,
}
