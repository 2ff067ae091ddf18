using System;
using System.Threading;
using System.Threading.Tasks;
using MySqlConnector;
using TenantDbGuard.Core;

namespace TenantDbGuard;

/// <summary>
/// An open connection to one tenant's database, lent by <see cref="TenantDatabase.GetConnectionAsync"/>. Give it back
/// on every path with <c>await using</c>: until then it counts against the connection budget.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="Connection"/> is a connection object of this lease alone: once the lease is given back it is closed and
/// disposed, and any use of a reference kept to it throws <see cref="ObjectDisposedException"/> or
/// <see cref="InvalidOperationException"/> without reaching the physical connection, which by then serves another lease.
/// </para>
/// <para>
/// Pass <see cref="CancellationToken"/> to the lease's commands: it follows the token given to
/// <see cref="TenantDatabase.GetConnectionAsync"/>, and cancelling through it stays within the connection budget (to stop
/// a running statement MySqlConnector opens a second connection, and the runtime makes room for it first). A token of
/// your own given to a command works too, but its cancellation connection is not counted.
/// </para>
/// <para>
/// A lease that is never given back is reclaimed once neither it nor its connection object can be reached: its physical
/// connection is closed and its place in the budget returned, and the leak is logged.
/// </para>
/// </remarks>
/// <example>
/// <code>
/// await using var lease = await db.GetConnectionAsync(tenantKey, cancellationToken);
/// var count = await lease.Connection.ExecuteScalarAsync&lt;long&gt;(
///     new CommandDefinition("SELECT COUNT(*) FROM customers", cancellationToken: lease.CancellationToken));
/// </code>
/// </example>
public sealed class TenantConnectionLease : IAsyncDisposable, IDisposable
{
    private readonly ConnectionBroker _broker;
    private readonly PhysicalConnection _physical;
    private readonly MySqlConnection _connection;
    private readonly LeakDetector _leaks;
    private readonly LeaseSentinel? _sentinel;
    private readonly Cancellation? _cancellation;
    private readonly RunningStatements _statements;
    private readonly long _leakId;
    private readonly bool _cancellable;
    private readonly object _killGate = new();
    private TaskCompletionSource? _ended;
    private Task _statementKill = Task.CompletedTask;
    private int _released;
    private int _statementKills;
    private Task _recycled = Task.CompletedTask;
    private int _fate;
    private bool _closedByOwner;

    internal TenantConnectionLease(
        ConnectionBroker broker,
        PhysicalConnection physical,
        MySqlConnection connection,
        string tenantKey,
        string databaseName,
        LeakDetector leaks,
        long leakId,
        bool killOnCancel,
        CancellationToken cancellationToken,
        bool statementCancellation = false,
        bool guarded = false)
    {
        _broker = broker;
        _physical = physical;
        _connection = connection;
        _statements = new RunningStatements(broker, physical, tenantKey);
        _leaks = leaks;
        _leakId = leakId;
        TenantKey = tenantKey;
        DatabaseName = databaseName;
        _cancellable = cancellationToken.CanBeCanceled || statementCancellation;
        if (!killOnCancel || guarded)
        {
            // Code outside the runtime gets this lease and may drop it: a sentinel takes it back then. A helper's lease
            // (killOnCancel) never leaves the runtime, which gives it back on every path, unless code outside the runtime
            // holds what gives it back (guarded: an unbuffered query's enumerator, which may be dropped undisposed).
            _sentinel = new LeaseSentinel(broker, physical, tenantKey, _cancellable, leakId);
            if (!killOnCancel)
            {
                // Tied to the connection object too, which code may keep without the lease. A guarded lease's object is
                // the runtime's own, which its physical connection keeps: the lease alone decides then.
                connection.StateChange += _sentinel.OnStateChange;
            }
        }

        if (cancellationToken.CanBeCanceled)
        {
            _cancellation = new Cancellation(broker, physical, _statements, killOnCancel, cancellationToken);
        }
    }

    /// <summary>
    /// Notes a statement that code sends through a <see cref="TenantDbConnection"/> on this lease: one that can leave what
    /// the server's reset keeps (see <see cref="KeptState"/>) has that cleared before the session's reset. A stored
    /// procedure called by name (<see cref="System.Data.CommandType.StoredProcedure"/>) is a <c>CALL</c>, whose text
    /// the runtime does not see.
    /// </summary>
    internal void NoteSql(string? sql, System.Data.CommandType commandType = System.Data.CommandType.Text)
    {
        if (commandType == System.Data.CommandType.StoredProcedure || KeptState.Touches(sql))
        {
            _physical.MayHoldKeptState = true;
        }
    }

    /// <summary>The tenant whose database the connection is open on: the key of its row in the tenants table, whatever
    /// spelling was asked for (<c>(master)</c> for the master database).</summary>
    public string TenantKey { get; }

    /// <summary>The database the lease was opened on.</summary>
    internal string DatabaseName { get; }

    /// <summary>
    /// For a helper's lease whose connection answered moments ago: the statement selecting the tenant's database, which
    /// must start the helper's batch (the lease made no round trip of its own). Null when the database is selected.
    /// </summary>
    internal LeadingStatement? Leading { get; init; }

    /// <summary>The open connection. Do not close or dispose it: dispose the lease.</summary>
    /// <exception cref="ObjectDisposedException">The lease was already given back.</exception>
    public MySqlConnection Connection =>
        Volatile.Read(ref _released) == 0 ? _connection : throw new ObjectDisposedException(nameof(TenantConnectionLease), "The lease was given back; acquire a new one.");

    /// <summary>
    /// Whether the code that holds the lease's <see cref="TenantDbConnection"/> closed or disposed it (not the driver
    /// after a failure, nor a reader that closes its connection): a statement still running then fails because of it.
    /// </summary>
    internal bool ClosedByOwner
    {
        get => Volatile.Read(ref _closedByOwner);
        set => Volatile.Write(ref _closedByOwner, value);
    }

    /// <summary>The lease's connection object, given back or not (for the runtime's own bookkeeping).</summary>
    internal MySqlConnection ConnectionUnchecked => _connection;

    /// <summary>
    /// Cancelled when the token given to <see cref="TenantDatabase.GetConnectionAsync"/> is, once the connection budget
    /// has room for the connection that cancelling a running statement takes. Pass it to the lease's commands.
    /// <see cref="CancellationToken.None"/> when that token cannot be cancelled.
    /// </summary>
    public CancellationToken CancellationToken => _cancellation?.Token ?? CancellationToken.None;

    /// <summary>
    /// How many times a statement of the lease was cancelled (<see cref="CancelStatement"/>) or the lease's own token
    /// fired: a statement that ended after such a kill went out may have been cut short without an error (an
    /// interrupted <c>SLEEP</c> returns 1), so its result is not to be trusted. Counted before the kill is sent.
    /// </summary>
    internal int KillsRequested => Volatile.Read(ref _statementKills) + (_cancellation is { Fired: true } ? 1 : 0);

    /// <summary>Gives the connection back. Calling it again does nothing.</summary>
    public void Dispose() => Release();

    /// <summary>Gives the connection back. Calling it again does nothing.</summary>
    public ValueTask DisposeAsync()
    {
        Release();
        return default;
    }

    /// <summary>
    /// Gives the lease back and completes once its connection is reset and parked again (or closed): a helper whose
    /// work succeeded waits for that, so that a caller holds one connection at a time, never one in use and another
    /// still being reset.
    /// </summary>
    internal Task ReturnAsync()
    {
        Release();
        return _recycled;
    }

    /// <summary>
    /// Tells the pool that the connection failed (or the driver gave up on a statement): it is not reused, and what may
    /// still run on the server for it is killed.
    /// </summary>
    internal void MarkFailed() => Volatile.Write(ref _fate, (int)LeaseFate.Failed);

    /// <summary>
    /// Stops the statement running on the lease's session with <c>KILL QUERY</c>, sent by the runtime over another
    /// connection the budget holds (never one MySqlConnector opens outside it). The session is not reused before the
    /// kill is done. Does nothing once the lease is given back.
    /// </summary>
    internal void CancelStatement()
    {
        lock (_killGate)
        {
            if (Volatile.Read(ref _released) != 0)
            {
                return;
            }

            _ended ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Interlocked.Increment(ref _statementKills);

            // The cut-off, when one is due, is part of the kill: the session is not given to anyone else before it is over.
            var kill = _statements.CutOffIfItDoesNotEnd(_broker.KillAsync(_physical.Server, _physical.ThreadId, queryOnly: true, _ended.Task));
            _statementKill = _statementKill.IsCompleted ? kill : Task.WhenAll(_statementKill, kill);
        }
    }

    /// <summary>
    /// Marks the start of a statement (or read) that the runtime sends for the lease and may kill (see
    /// <see cref="CancelStatement"/>); pass what it returns to <see cref="StatementEnded"/> once the statement is over.
    /// </summary>
    internal int StatementStarted() => _statements.Started();

    /// <summary>Marks the end of the statement that <see cref="StatementStarted"/> returned <paramref name="statement"/> for.</summary>
    internal void StatementEnded(int statement) => _statements.Ended(statement);

    /// <summary>
    /// Whether the runtime shut the session's socket because a statement it killed had not ended
    /// <see cref="TenantDbGuardOptions.ResetTimeout"/> after the kill (see <see cref="RunningStatements"/>): the statement
    /// then fails as a lost connection, and its caller is told it was cancelled (or timed out), as it asked.
    /// </summary>
    internal bool StatementCutOff => _statements.CutOff;

    private void Release()
    {
        if (Interlocked.Exchange(ref _released, 1) != 0)
        {
            return;
        }

        // A cut-off under way stops waiting: the lease is over (what still runs on the session is the reset's business).
        _statements.LeaseEnded();
        var pendingKill = _cancellation?.End() ?? Task.CompletedTask;
        lock (_killGate)
        {
            _ended?.TrySetResult();
            if (!_statementKill.IsCompleted)
            {
                pendingKill = pendingKill.IsCompleted ? _statementKill : Task.WhenAll(pendingKill, _statementKill);
            }
        }
        if (_sentinel is not null)
        {
            _sentinel.Disarm();
            _connection.StateChange -= _sentinel.OnStateChange;
        }

        _leaks.Untrack(_leakId);
        _recycled = _broker.Release(_physical, _connection, TenantKey, _cancellable, _statements.CutOff ? LeaseFate.Failed : (LeaseFate)Volatile.Read(ref _fate), pendingKill);
    }

    /// <summary>
    /// The lease's cancellation, in one of two ways. For a helper, which runs its own SQL, the runtime stops the running
    /// statement itself with <c>KILL QUERY</c> over another connection the budget holds, and nothing is given to
    /// MySqlConnector. For a lease whose connection code gets, <see cref="CancellationToken"/> is cancelled, which makes
    /// MySqlConnector open a connection to send <c>KILL QUERY</c>: the budget first makes room for it, and keeps that
    /// room a moment after, while the server lets go of it. Kept apart from the lease so that the caller's token, which
    /// may live long (an application's stopping token), does not keep a forgotten lease reachable.
    /// </summary>
    private sealed class Cancellation
    {
        private readonly ConnectionBroker _broker;
        private readonly PhysicalConnection _physical;
        private readonly RunningStatements _statements;
        private readonly CancellationTokenSource? _source;
        private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private CancellationTokenRegistration _registration;
        private Task _killing = Task.CompletedTask;
        private int _fired;

        public Cancellation(ConnectionBroker broker, PhysicalConnection physical, RunningStatements statements, bool killOnCancel, CancellationToken cancellationToken)
        {
            _broker = broker;
            _physical = physical;
            _statements = statements;
            _source = killOnCancel ? null : new CancellationTokenSource();
            _registration = cancellationToken.UnsafeRegister(static state => ((Cancellation)state!).OnCancelled(), this);
        }

        public CancellationToken Token => _source?.Token ?? CancellationToken.None;

        /// <summary>Whether the caller's token fired while the lease ran (set before the kill or the cancel goes out).</summary>
        public bool Fired => Volatile.Read(ref _fired) != 0;

        /// <summary>The lease ends: no more cancelling. Returns a kill still under way, which the session must wait for.</summary>
        public Task End()
        {
            // Waits for the callback if it is running right now, so that a kill it starts is seen below.
            _registration.Dispose();
            _ended.TrySetResult();
            return Volatile.Read(ref _killing);
        }

        private void OnCancelled()
        {
            if (_ended.Task.IsCompleted)
            {
                return;
            }

            Volatile.Write(ref _fired, 1);
            if (_source is null)
            {
                var kill = _broker.KillAsync(_physical.Server, _physical.ThreadId, queryOnly: true, _ended.Task);
                Volatile.Write(ref _killing, _statements.CutOffIfItDoesNotEnd(kill));
            }
            else
            {
                Volatile.Write(ref _killing, CancelTokenAsync(_source));
            }
        }

        private async Task CancelTokenAsync(CancellationTokenSource source)
        {
            // Cancelling a running statement makes MySqlConnector open a connection to send KILL QUERY: hold room for it.
            using var room = await _broker.ReserveRoomAsync(_ended.Task).ConfigureAwait(false);
            if (room is null || _ended.Task.IsCompleted)
            {
                return;
            }

            try
            {
                source.Cancel();
            }
            catch (AggregateException)
            {
                // A registration's callback failed (MySqlConnector's cancellation itself catches its errors).
            }

            await Task.Delay(ConnectionBroker.ServerLetGo).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The statements the runtime sends for a lease and may kill, counted as they start and end, so that a kill can tell
    /// whether the statement it was sent for is still running. After a kill went out, a statement that has still not
    /// ended <see cref="TenantDbGuardOptions.ResetTimeout"/> after the kill is done has the session's socket shut, which
    /// fails it at once and ends the session (the lease then counts as failed: its connection is closed, never reused).
    /// A killed statement normally ends at once; one that does not waits for an answer the server will not send
    /// (MariaDB sends none when a <c>KILL QUERY</c> lands between two statements of one batch, as in a helper's batch
    /// that starts with the tenant's <c>USE</c>) and would hold its caller for good. MySqlConnector bounds its own
    /// cancellations the same way (<c>CancellationTimeout</c>). Kept apart from the lease, as <see cref="Cancellation"/> is,
    /// and holding no connection object code may hold (the caller's token must not keep a forgotten lease's reachable).
    /// </summary>
    internal sealed class RunningStatements(ConnectionBroker broker, PhysicalConnection physical, string tenantKey)
    {
        private int _started;
        private int _ended;
        private int _cutOff;
        private int _leaseEnded;
        private TaskCompletionSource? _leaseEndedSignal;

        /// <summary>Whether a statement was cut off this way.</summary>
        public bool CutOff => Volatile.Read(ref _cutOff) != 0;

        public int Started() => Interlocked.Increment(ref _started);

        public void Ended(int statement) => Volatile.Write(ref _ended, statement);

        /// <summary>The lease was given back: a cut-off under way stops waiting and shuts nothing.</summary>
        public void LeaseEnded()
        {
            // A full fence: either this sees the signal a cut-off made, or the cut-off sees the lease ended.
            Interlocked.Exchange(ref _leaseEnded, 1);
            Volatile.Read(ref _leaseEndedSignal)?.TrySetResult();
        }

        /// <summary>
        /// Called once <paramref name="kill"/> of the running statement is on its way; returns what the session must wait
        /// for before anyone else gets it: the kill, and the cut-off when one is due.
        /// </summary>
        public Task CutOffIfItDoesNotEnd(Task kill)
        {
            var running = Volatile.Read(ref _started);
            return running != Volatile.Read(ref _ended) && Volatile.Read(ref _leaseEnded) == 0 ? CutOffAsync(kill, running) : kill;
        }

        private async Task CutOffAsync(Task kill, int running)
        {
            try
            {
                await kill.ConfigureAwait(false);
            }
            catch (Exception)
            {
                // The kill's own failure is seen where it is awaited; the statement gets its time all the same.
            }

            var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var leaseEnded = Interlocked.CompareExchange(ref _leaseEndedSignal, signal, null) ?? signal;
            if (Volatile.Read(ref _leaseEnded) == 0)
            {
                await Task.WhenAny(leaseEnded.Task, Task.Delay(broker.ResetTimeout)).ConfigureAwait(false);
            }

            if (Volatile.Read(ref _ended) >= running || Volatile.Read(ref _leaseEnded) != 0)
            {
                return;
            }

            // Marked first: the statement fails the moment the socket is shut, and its caller asks right then.
            Volatile.Write(ref _cutOff, 1);
            if (physical.ShutSession())
            {
                Log.StatementCutOff(broker.Logger, LogSafe.Text(tenantKey), physical.Server.Key, broker.ResetTimeout.TotalMilliseconds);
            }
            else
            {
                // No socket to shut (another version of MySqlConnector): the statement goes on, as it would without this.
                Volatile.Write(ref _cutOff, 0);
            }
        }
    }
}
