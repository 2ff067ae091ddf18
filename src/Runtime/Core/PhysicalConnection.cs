using System;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using MySqlConnector;

namespace TenantDbGuard.Core;

/// <summary>
/// One physical connection (one server session) and the hygiene that lets tenants share it: every lease gets a
/// <see cref="MySqlConnection"/> of its own, the session is put on the lease's database in a step the server answers,
/// and it is reset (within a time limit) before anyone else gets it.
/// </summary>
/// <remarks>
/// <para>
/// The session lives in a MySqlConnector pool of its own that holds exactly this one session (<c>Maximum Pool
/// Size=1</c>). Opening a <see cref="MySqlConnection"/> from that pool takes the session without a round trip, and
/// disposing it gives the session back, so each lease gets a fresh object for the price of a few allocations, and the
/// object is dead for good once the lease ends (a kept reference throws <see cref="ObjectDisposedException"/> or
/// <see cref="InvalidOperationException"/>). MySqlConnector's own reset on open is off (<c>Connection Reset=false</c>):
/// this class resets the session when a lease ends, on a connection object of its own, off the caller's path. A
/// helper's lease runs on that object too; after a helper's lease the object keeps the session open until the next
/// lease (a helper runs on it as it is; any other lease has it closed first), which saves taking the session out of the
/// pool and putting it back for every helper call.
/// </para>
/// <para>
/// Nobody else may open the pool: a copy of a lease's connection (<see cref="MySqlConnection.Clone"/>) would reach the
/// session. The pool's open callback refuses every opener except the one this class is about to open and the current
/// lease's own connection (which code may close and open again during its lease, as Dapper does).
/// </para>
/// <para>
/// The database is selected with a <c>USE</c> that runs while the session's schema tracking is off: the server's
/// answer confirms the database. Schema tracking is off during the <c>USE</c> because MySqlConnector resets the whole
/// session with <c>COM_CHANGE_USER</c> (expensive) whenever a tracked database change reaches it; the lease's
/// connection still reports its tenant's database, from its connection string. A helper may send the <c>USE</c> as the
/// first statement of its own batch instead (see <see cref="LendAsync"/>). A session taken from idle is first checked
/// with <see cref="SocketProbe"/>: one the server closed, or with bytes nobody asked for, is never used.
/// </para>
/// </remarks>
internal sealed class PhysicalConnection : IAsyncDisposable
{
    private const string KillConnectionSql = "KILL CONNECTION ";
    private const string KillQuerySql = "KILL QUERY ";

    private readonly MySqlDataSource _dataSource;
    private readonly WeakReference<MySqlConnection?> _lent = new(null);
    private MySqlConnection? _expected;
    private MySqlConnection? _own;
    private CancellationTokenSource? _deadline;
    private Socket? _socket;
    private object? _ended;
    private object? _session;

    public PhysicalConnection(ServerPool server)
    {
        Server = server;
        _dataSource = server.CreateDataSource(OnOpenedAsync);
    }

    public ServerPool Server { get; }

    /// <summary>The server's id of the session (<c>CONNECTION_ID()</c>), known once it was opened.</summary>
    public int ThreadId { get; private set; }

    /// <summary>
    /// An open was tried: the server may hold a session for it even when the open failed (one killed during its handshake
    /// is still counted by the server while its thread ends), whose id the runtime never learnt.
    /// </summary>
    public bool OpenTried { get; private set; }

    // The broker's bookkeeping, guarded by its lock.

    public long IdleSinceTicks { get; set; }

    /// <summary>When its current lease got it (a <see cref="System.Diagnostics.Stopwatch"/> timestamp), for the use-time metric.</summary>
    public long LeasedTicks { get; set; }

    /// <summary>The tenant whose session state the connection still holds (its reset was skipped), or null when it is clean.</summary>
    public string? DirtyTenantKey { get; set; }

    /// <summary>The database the connection was last put on; a preference when choosing an idle connection, never trusted.</summary>
    public string? LastDatabase { get; set; }

    /// <summary>
    /// A lease since the last reset may have left what the server's reset keeps (see <see cref="KeptState"/>): code held
    /// its connection object, or a helper ran a statement that can. The next reset clears that first.
    /// </summary>
    public bool MayHoldKeptState { get; set; }

    /// <summary>
    /// Opens a connection object for a lease of <paramref name="target"/>, on the target's database as confirmed by the
    /// server. Throws the server's <see cref="MySqlException"/> when the database cannot be used (the session is fine);
    /// any other failure means the session cannot be trusted.
    /// </summary>
    /// <param name="target">Where the lease goes.</param>
    /// <param name="resetFirst">Reset the session first: it holds another tenant's session state.</param>
    /// <param name="exposed">
    /// Code outside the runtime gets the connection object: give it settings that name the tenant's database, so that
    /// <see cref="MySqlConnection.Database"/> and stored procedure calls (which look the procedure up in it) are right.
    /// Parsing those settings costs more than the rest of a lease, so a helper that runs its own SQL skips it.
    /// </param>
    /// <param name="deferUse">
    /// Make no round trip (unless a reset is due): return the statement that selects the target's database instead, for
    /// the lease's first batch to start with. Only for the runtime's helpers, which send that batch themselves.
    /// </param>
    /// <param name="answerTimeout">
    /// How long the server may take to answer the reset and the statement that selects the target's database. Past it
    /// the session's socket is shut and <see cref="TimeoutException"/> thrown (see <see cref="AnswerDeadline"/>):
    /// nothing of the lease was sent, and the caller can take another connection.
    /// </param>
    /// <param name="cancellationToken">Cancels taking the session from its pool.</param>
    /// <returns>The lease's connection object, and the statement its first batch must start with (null when none).</returns>
    public async Task<(MySqlConnection Connection, LeadingStatement? Leading)> LendAsync(TenantTarget target, bool resetFirst, bool exposed, bool deferUse, TimeSpan answerTimeout, CancellationToken cancellationToken)
    {
        // A helper's lease runs on the runtime's own connection object (no code outside the runtime ever holds it),
        // which stays open when the lease ends, for the reset; code that gets the connection gets an object of its own.
        if (exposed && _own is { State: not System.Data.ConnectionState.Closed } idleOwn)
        {
            // The runtime's own object holds the session between leases; it gives it back to the pool (no round trip,
            // the pool does no reset) for the lease's object to take.
            await idleOwn.CloseAsync().ConfigureAwait(false);
        }

        var connection = exposed ? _dataSource.CreateConnection() : UsableOwn();
        if (exposed)
        {
            // The pool's settings (no database) stay the ones MySqlConnector uses for the session.
            connection.ConnectionString = target.LeaseConnectionString;
            _ = connection.Database;
        }

        try
        {
            var reused = ThreadId != 0;
            if (connection.State == System.Data.ConnectionState.Open)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }
            else
            {
                await OpenOwnAsync(connection, cancellationToken).ConfigureAwait(false);
            }

            if (reused && SocketProbe.IsAvailable && !SocketProbe.IsQuiet(connection))
            {
                // Closed by the server while idle (or, against all odds, with bytes nobody asked for): nothing of the
                // lease has been sent, and it goes to another connection.
                throw new IdleSessionEndedException();
            }

            var profile = await Server.GetProfileAsync(connection, answerTimeout).ConfigureAwait(false);
            if (resetFirst)
            {
                await AnswerDeadline.WithinAsync(connection, ResetAsync(connection, answerTimeout, profile), answerTimeout).ConfigureAwait(false);
            }

            if (Server.Settings.SessionOpened is { } opened && (resetFirst || DirtyTenantKey is null))
            {
                // The session is new or was reset (not one the same tenant left as it was): the application's
                // settings go on it before the lease gets it.
                await opened(connection, cancellationToken).ConfigureAwait(false);
            }

            var start = target.Start(profile);
            if (deferUse && !resetFirst && SocketProbe.IsAvailable)
            {
                // The session answered moments ago and the server has not closed it since: the helper's batch starts
                // with the USE, which the server runs first (and stops the batch if it fails).
                _lent.SetTarget(connection);
                return (connection, start.Leading);
            }

            // No cancellation token: MySqlConnector cancels a running statement by opening a connection of its own,
            // outside the budget. This statement is short, and bounded all the same (a session that never answers it
            // would hold the caller for good); the caller's cancellation is checked after it. The batch also sets what
            // FOUND_ROWS() reports to 0, which the reset keeps from an earlier lease (a helper's batch cannot: the empty
            // result would come first; a helper whose SQL may read it gets this batch instead).
            var command = new MySqlCommand(start.Alone, connection);
            await using (command.ConfigureAwait(false))
            {
                await AnswerDeadline.WithinAsync(connection, command.ExecuteNonQueryAsync(CancellationToken.None), answerTimeout).ConfigureAwait(false);
            }

            _lent.SetTarget(connection);
            return (connection, null);
        }
        catch
        {
            await DisposeQuietlyAsync(connection).ConfigureAwait(false);
            if (ReferenceEquals(connection, _own))
            {
                _own = null;
            }

            throw;
        }
    }

    /// <summary>
    /// Ends a lease's use of its connection object: a helper's (the runtime's own object) stays open for the reset,
    /// unless the lease failed; any other is disposed now, so that a reference kept to it is dead.
    /// </summary>
    /// <returns>A task that completes when the object is closed (at once for one kept open).</returns>
    public Task EndLease(MySqlConnection connection, bool failed)
    {
        // A database the lease's code moved the session to is forgotten by the driver (see DriverSession) now, and again
        // once the connection is closed (closing reads what the lease left unread, which may report a change too): the
        // next lease's first statement puts the session on its own database.
        _ended = DriverSession.Of(connection);
        DriverSession.ForgetDatabaseChange(_ended);
        if (ReferenceEquals(connection, _own))
        {
            if (!failed)
            {
                return Task.CompletedTask;
            }

            _own = null;
        }

        try
        {
            var closing = connection.DisposeAsync();
            return closing.IsCompletedSuccessfully ? Task.CompletedTask : closing.AsTask();
        }
        catch (Exception exception)
        {
            return Task.FromException(exception);
        }
    }

    /// <summary>
    /// Ends a lease whose connection object still has a statement on its way (see
    /// <see cref="DriverSession.IsRunningStatement"/>): waits for the statement to end (it finishes, or fails once the
    /// busy session is killed), at most <paramref name="timeout"/>, then disposes the object as
    /// <see cref="EndLease"/> does. Another statement the code starts on the object meanwhile runs on the same session,
    /// still the lease's (it is reset only after this), and is waited for too; once the object is disposed, any use
    /// of it throws <see cref="ObjectDisposedException"/>.
    /// </summary>
    /// <returns>A task that completes when the object is disposed; it never fails.</returns>
    public async Task EndLeaseAfterStatementAsync(MySqlConnection connection, TimeSpan timeout)
    {
        var started = Stopwatch.GetTimestamp();
        while (DriverSession.IsRunningStatement(connection) && Stopwatch.GetElapsedTime(started) < timeout)
        {
            await Task.Delay(1).ConfigureAwait(false);
        }

        try
        {
            await EndLease(connection, failed: false).ConfigureAwait(false);
        }
        catch (Exception exception)
            when (exception is MySqlException or InvalidOperationException or System.IO.IOException
                or ObjectDisposedException)
        {
            // The session is ended; the object is disposed either way.
        }
    }

    /// <summary>
    /// Takes the session back after a lease: waits (at most <paramref name="timeout"/>) for the lease's connection to
    /// close, then resets the session (or, when <paramref name="reset"/> is false, pings it) on the runtime's own
    /// connection object, again within the timeout. A session that does not answer in time is busy with something the
    /// lease left running (a statement not awaited may still be reading from it).
    /// </summary>
    public async Task<Recycled> RecycleAsync(Task leaseClosed, bool reset, TimeSpan timeout)
    {
        _lent.SetTarget(null);
        if (!await CompletesWithinAsync(leaseClosed, timeout).ConfigureAwait(false))
        {
            return Recycled.Busy(leaseClosed, null);
        }

        DriverSession.ForgetDatabaseChange(_ended);
        _ended = null;

        // The runtime's own connection object, still open after a helper's lease (which ran on it), else opened for
        // the reset and closed again after it: it never reaches code outside the runtime. Taking the session from its
        // pool makes no round trip (the driver was made to forget a database change, see EndLease); it waits while a
        // TransactionScope a lease was enlisted in still holds the session.
        var previous = ThreadId;
        MySqlConnection own;
        bool opened;
        try
        {
            (own, opened) = await OpenIdleOwnAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is MySqlException or InvalidOperationException or System.IO.IOException)
        {
            await DisposeQuietlyAsync(_own!).ConfigureAwait(false);
            _own = null;
            return Recycled.Broken;
        }

        var replaced = ThreadId != previous && previous != 0;
        if (replaced)
        {
            // MySqlConnector dropped the old session when it came back (it was not idle) and opened a new one: stop
            // whatever may still run on the old one. The new session holds nothing of anyone's.
            if (await KillQuietlyAsync(own, previous, queryOnly: false).ConfigureAwait(false))
            {
                await WaitUntilGoneAsync(own, previous, timeout).ConfigureAwait(false);
            }
        }

        Task<bool> step = reset && !replaced ? ResetAsync(own, timeout) : own.PingAsync(CancellationToken.None);
        if (!await CompletesWithinAsync(step, timeout).ConfigureAwait(false))
        {
            return Recycled.Busy(step, own);
        }

        if (step.Status != TaskStatus.RanToCompletion || !step.Result)
        {
            await DisposeQuietlyAsync(own).ConfigureAwait(false);
            _own = null;
            return Recycled.Broken;
        }

        if (opened)
        {
            // After a lease whose connection code outside the runtime held, the session waits in its pool, where the
            // open callback refuses a copy of that connection at once. After a helper's lease it stays on the
            // runtime's own object, for the next helper to run on as it is (no pool round: cheaper); the lease that
            // follows, if it is not a helper's, takes it from there (see LendAsync).
            await own.CloseAsync().ConfigureAwait(false);
        }

        return reset || replaced ? Recycled.Clean : Recycled.Dirty;
    }

    /// <summary>
    /// Shuts the session's socket both ways: whatever reads or writes on it fails at once, and the server ends the session
    /// (the connection is not to be used again). False when the socket cannot be reached (another version of MySqlConnector).
    /// </summary>
    public bool ShutSession() => SocketProbe.ShutDown(_socket);

    /// <summary>
    /// Ends a session that is being retired from this side, without another connection: stops sending on its socket, so
    /// that the server reads the end of the stream after whatever runs on the session (at once when nothing does, the
    /// moment a statement ends otherwise) and ends the session, and reads and drops what the server still sends until
    /// then, so that a statement writing a result nobody reads is not held up. Whatever reads the session meanwhile (a
    /// statement the code left running, a reset that lost its answer to it) fails; the session is never used again.
    /// </summary>
    /// <param name="cancellationToken">Stops waiting (the session is closed by the caller's own means then).</param>
    /// <returns>
    /// True once the server has closed its end (the session is gone from the server); false when the socket cannot be
    /// reached (another version of MySqlConnector, or the driver closed it first) or waiting was cancelled.
    /// </returns>
    public async Task<bool> EndFromThisSideAsync(CancellationToken cancellationToken)
    {
        if (_socket is not { } socket)
        {
            return false;
        }

        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            socket.Shutdown(SocketShutdown.Send);
            while (await socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None, cancellationToken).ConfigureAwait(false) != 0)
            {
            }

            return true;
        }
        catch (SocketException exception) when (exception.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.NotConnected)
        {
            // A reset from the server (it closed with bytes unread) or a connection already gone: its end is closed.
            return true;
        }
        catch (SocketException)
        {
            // The network failed: what the server holds cannot be told from here.
            return false;
        }
        catch (Exception exception) when (exception is ObjectDisposedException or OperationCanceledException or InvalidOperationException)
        {
            return false;
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Sends <c>KILL QUERY</c> or <c>KILL CONNECTION</c> for another session of the same server over this (idle) one;
    /// after <c>KILL CONNECTION</c>, waits (at most <paramref name="timeout"/>) until the server no longer lists it.
    /// </summary>
    public async Task<KillOutcome> KillAsync(int threadId, bool queryOnly, TimeSpan timeout)
    {
        try
        {
            using var openTimeout = new CancellationTokenSource(timeout);
            var (own, opened) = await OpenIdleOwnAsync(openTimeout.Token).ConfigureAwait(false);
            var kill = KillQuietlyAsync(own, threadId, queryOnly);
            if (!await CompletesWithinAsync(kill, timeout).ConfigureAwait(false))
            {
                return KillOutcome.Failed;
            }

            if (!await kill.ConfigureAwait(false))
            {
                return KillOutcome.Failed;
            }

            if (!queryOnly && !await WaitUntilGoneAsync(own, threadId, timeout).ConfigureAwait(false))
            {
                // This connection failed while it watched (an administrator killed it too, say): the session it killed
                // may still be on the server.
                return KillOutcome.WatchLost;
            }

            if (opened)
            {
                await own.CloseAsync().ConfigureAwait(false);
            }

            return KillOutcome.Done;
        }
        catch (Exception exception) when (exception is MySqlException or InvalidOperationException or OperationCanceledException or System.IO.IOException)
        {
            // The caller closes this connection (DisposeAsync disposes the object, whatever it is still doing).
            return KillOutcome.Failed;
        }
    }

    /// <summary>
    /// Reads the server's <c>max_connections</c> and <c>Threads_connected</c> over this (idle, or new) session. Throws
    /// when the session fails or does not answer within <paramref name="timeout"/> (<see cref="TimeoutException"/>: the
    /// caller closes it); a new session that the server refuses throws its <see cref="MySqlException"/>.
    /// </summary>
    public async Task<ServerLoad> ReadLoadAsync(TimeSpan timeout)
    {
        var started = Stopwatch.GetTimestamp();
        using var deadline = new CancellationTokenSource(timeout);
        var (own, opened) = await OpenIdleOwnAsync(deadline.Token).ConfigureAwait(false);

        // The statement gets no token (see AnswerDeadline): when it does not answer, its socket is shut and the caller
        // closes this connection.
        var load = await AnswerDeadline.WithinAsync(own, ServerLoad.ReadAsync(own, CancellationToken.None), timeout - Stopwatch.GetElapsedTime(started)).ConfigureAwait(false);
        if (opened)
        {
            await own.CloseAsync().ConfigureAwait(false);
        }

        return load;
    }

    /// <summary>
    /// Opens the session (a new connection to the server) on the runtime's own connection object, which keeps it open
    /// for the first lease (see <see cref="LendAsync"/>); for <see cref="OpenCoordinator"/>, which opens under its lock.
    /// </summary>
    /// <remarks>
    /// An open that fails or is cancelled leaves nothing behind: the connection object is disposed and the next lease
    /// starts from a new one, as after a failed open in <see cref="LendAsync"/>.
    /// </remarks>
    public async Task OpenSessionAsync(CancellationToken cancellationToken)
    {
        try
        {
            await OpenIdleOwnAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            if (_own is { } own)
            {
                _own = null;
                await DisposeQuietlyAsync(own).ConfigureAwait(false);
            }

            throw;
        }
    }

    /// <summary>
    /// Closes the session for good. A session whose connection object was collected without being disposed (a leaked
    /// lease) is recovered by MySqlConnector and closed too.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        _lent.SetTarget(null);
        if (_own is { } own)
        {
            // It may hold the session (between leases): MySqlConnector closes an idle pool's sessions, not a held one.
            _own = null;
            await DisposeQuietlyAsync(own).ConfigureAwait(false);
        }

        try
        {
            await _dataSource.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is MySqlException or InvalidOperationException or System.IO.IOException or ObjectDisposedException)
        {
            // The connection is gone either way.
        }
    }

    public static async Task DisposeQuietlyAsync(MySqlConnection connection)
    {
        try
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is MySqlException or InvalidOperationException or System.IO.IOException or ObjectDisposedException)
        {
            // Disposing a failed connection can fail; it is disposed all the same.
        }
    }

    /// <summary>
    /// Resets the session; first, when a lease may have left what the server's reset keeps
    /// (<see cref="MayHoldKeptState"/>, or on a server where the account can make a role current,
    /// <see cref="SessionProfile.RoleMayChange"/>), clears that (see <see cref="SessionProfile.Scrub"/>). Throws when
    /// the session holds what no reset may hand on (an XA transaction): the caller closes it.
    /// </summary>
    /// <returns>True (a task of a result, to be awaited as a ping is).</returns>
    private async Task<bool> ResetAsync(MySqlConnection connection, TimeSpan answerTimeout, SessionProfile? profile = null)
    {
        // The server's profile was read by the lease's start; where it may not have been, it is read now.
        profile ??= await Server.GetProfileAsync(connection, answerTimeout).ConfigureAwait(false);
        if (MayHoldKeptState || profile.RoleMayChange)
        {
            var scrub = new MySqlCommand(profile.Scrub, connection);
            await using (scrub.ConfigureAwait(false))
            {
                await scrub.ExecuteNonQueryAsync(CancellationToken.None).ConfigureAwait(false);
            }
        }

        await connection.ResetConnectionAsync(CancellationToken.None).ConfigureAwait(false);
        MayHoldKeptState = false;
        return true;
    }

    /// <summary>
    /// After <c>KILL CONNECTION</c>: waits, at most <paramref name="timeout"/>, until the server no longer lists session
    /// <paramref name="threadId"/>. A killed session stays on the server (and counts against <c>max_connections</c>)
    /// until its thread notices the kill and leaves what it was doing, which on a busy server can take a second; the
    /// runtime keeps counting it until then, so that a new connection does not take its place too early.
    /// </summary>
    /// <returns>False when <paramref name="connection"/> failed before the session was gone or the time was up: whether
    /// the session is gone is not known.</returns>
    private static async Task<bool> WaitUntilGoneAsync(MySqlConnection connection, int threadId, TimeSpan timeout)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            var command = new MySqlCommand("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = " + threadId.ToString(CultureInfo.InvariantCulture), connection);
            await using var disposeCommand = command.ConfigureAwait(false);
            while (Stopwatch.GetElapsedTime(started) < timeout)
            {
                try
                {
                    // No row is no answer (a KILL QUERY from outside can cut a statement short without an error), not a count of 0.
                    if (await command.ExecuteScalarAsync(CancellationToken.None).ConfigureAwait(false) is { } count and not DBNull
                        && Convert.ToInt64(count, CultureInfo.InvariantCulture) == 0)
                    {
                        return true;
                    }
                }
                catch (MySqlException exception) when (exception.ErrorCode == MySqlErrorCode.QueryInterrupted)
                {
                    // A KILL QUERY from outside (an administrator's) stopped the reading, not the killed session: read again.
                }

                await Task.Delay(5).ConfigureAwait(false);
            }

            return true;
        }
        catch (Exception exception) when (exception is MySqlException or InvalidOperationException or System.IO.IOException)
        {
            // The connection that sent the kill failed: its caller finds out on its next use.
            return false;
        }
    }

    private static async Task<bool> KillQuietlyAsync(MySqlConnection connection, int threadId, bool queryOnly)
    {
        // A KILL QUERY from outside (an administrator's) may stop the KILL itself: the connection that sent it is fine,
        // and the session it was for still runs, so it is sent again.
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                var command = new MySqlCommand((queryOnly ? KillQuerySql : KillConnectionSql) + threadId.ToString(CultureInfo.InvariantCulture), connection);
                await using var disposeCommand = command.ConfigureAwait(false);
                await command.ExecuteNonQueryAsync(CancellationToken.None).ConfigureAwait(false);
                return true;
            }
            catch (MySqlException exception) when (exception.ErrorCode == MySqlErrorCode.NoSuchThread)
            {
                return true;
            }
            catch (MySqlException exception) when (exception.ErrorCode == MySqlErrorCode.QueryInterrupted && attempt < 3)
            {
            }
            catch (Exception exception) when (exception is MySqlException or InvalidOperationException or System.IO.IOException)
            {
                return false;
            }
        }
    }

    /// <summary>
    /// Whether <paramref name="task"/> completes (one way or another) within <paramref name="timeout"/>. The timer is
    /// this connection's own, reused from one reset to the next: the common case allocates none.
    /// </summary>
    private async Task<bool> CompletesWithinAsync(Task task, TimeSpan timeout)
    {
        if (task.IsCompleted)
        {
            return true;
        }

        var deadline = _deadline is { } reusable && reusable.TryReset() ? reusable : _deadline = new CancellationTokenSource();
        deadline.CancelAfter(timeout);
        try
        {
            await task.WaitAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            return false;
        }
        catch (Exception)
        {
            // It completed (with an error): that is an answer, and the caller looks at it.
        }

        deadline.CancelAfter(Timeout.InfiniteTimeSpan);
        return true;
    }

    private async Task OpenOwnAsync(MySqlConnection connection, CancellationToken cancellationToken)
    {
        if (DriverSession.IsLost(_session))
        {
            // The driver gave the session up (killed, or the network failed) and would connect a new one in its place
            // inside this open, while the server may still hold the old one: the budget would not count the new one. The
            // connection is closed instead, and the old session counted until the server no longer lists it.
            throw new System.IO.IOException("The connection's session was lost; it is not replaced inside the connection.");
        }

        OpenTried = true;
        Volatile.Write(ref _expected, connection);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.CompareExchange(ref _expected, null, connection);
        }

        ThreadId = connection.ServerThread;
        _session = DriverSession.Of(connection);
        _socket = SocketProbe.SocketOf(connection);
    }

    /// <summary>The runtime's own connection object, new when the last one broke.</summary>
    private MySqlConnection UsableOwn()
    {
        if (_own is { State: System.Data.ConnectionState.Broken } broken)
        {
            _own = null;
            _ = DisposeQuietlyAsync(broken);
        }

        return _own ??= _dataSource.CreateConnection();
    }

    /// <summary>
    /// The runtime's own connection object, open on the (idle) session, and whether it was opened for this (then the
    /// caller closes it again when done, so that the session waits in its pool as it did).
    /// </summary>
    private async ValueTask<(MySqlConnection Own, bool Opened)> OpenIdleOwnAsync(CancellationToken cancellationToken)
    {
        var own = UsableOwn();
        if (own.State == System.Data.ConnectionState.Open)
        {
            return (own, false);
        }

        await OpenOwnAsync(own, cancellationToken).ConfigureAwait(false);
        return (own, true);
    }

    /// <summary>The pool's open callback: only the runtime's own opens and the current lease's connection get the session.</summary>
    private ValueTask OnOpenedAsync(MySqlConnectionOpenedContext context, CancellationToken cancellationToken)
    {
        var connection = context.Connection;
        if (ReferenceEquals(Volatile.Read(ref _expected), connection) || (_lent.TryGetTarget(out var lent) && ReferenceEquals(lent, connection)))
        {
            return default;
        }

        return RefuseAsync(connection);
    }

    private static async ValueTask RefuseAsync(MySqlConnection connection)
    {
        await connection.CloseAsync().ConfigureAwait(false);
        throw new InvalidOperationException(
            "This connection came from a TenantDbGuard lease that was given back (or is a copy of one): it cannot be opened again. Acquire a new lease.");
    }

    /// <summary>How taking a session back ended.</summary>
    internal readonly struct Recycled
    {
        private Recycled(RecycledState state, Task? stillRunning, MySqlConnection? holder)
        {
            State = state;
            StillRunning = stillRunning;
            Holder = holder;
        }

        public static Recycled Clean => new(RecycledState.Clean, null, null);

        public static Recycled Dirty => new(RecycledState.Dirty, null, null);

        public static Recycled Broken => new(RecycledState.Broken, null, null);

        public RecycledState State { get; }

        /// <summary>For a busy session: the step that did not answer in time.</summary>
        public Task? StillRunning { get; }

        /// <summary>For a busy session: the runtime's connection object waiting on it, to dispose once it is killed.</summary>
        public MySqlConnection? Holder { get; }

        public static Recycled Busy(Task stillRunning, MySqlConnection? holder) => new(RecycledState.Busy, stillRunning, holder);
    }

    internal enum RecycledState
    {
        /// <summary>Reset (or new) and idle: ready for any lease.</summary>
        Clean,

        /// <summary>Pinged and idle, with what the lease left in its session: ready for the same tenant's next lease.</summary>
        Dirty,

        /// <summary>The session failed; it is closed.</summary>
        Broken,

        /// <summary>The session did not answer in time: a statement may still run on the server.</summary>
        Busy,
    }
}

/// <summary>
/// What the server said about its connections: <c>max_connections</c>, <c>Threads_connected</c> (every client's), and
/// <c>Connection_errors_max_connections</c> (connections it refused for <c>max_connections</c> since it started, to
/// anyone).
/// </summary>
internal readonly record struct ServerLoad(int MaxConnections, int ThreadsConnected, long RefusedTotal)
{
    /// <summary>
    /// All in one round trip, with no privilege needed on MySQL or MariaDB. <c>SHOW</c> rather than <c>SELECT</c>, so
    /// that the readings stay apart from the application's statements in the server's <c>Com_select</c>.
    /// </summary>
    public const string Sql = "SHOW GLOBAL VARIABLES LIKE 'max_connections'; SHOW GLOBAL STATUS WHERE Variable_name IN ('Threads_connected', 'Connection_errors_max_connections')";

    /// <summary>Reads the server's load over <paramref name="connection"/> (open and idle).</summary>
    public static async Task<ServerLoad> ReadAsync(MySqlConnection connection, CancellationToken cancellationToken)
    {
        var command = new MySqlCommand(Sql, connection);
        await using var disposeCommand = command.ConfigureAwait(false);
        var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using var disposeReader = reader.ConfigureAwait(false);
        return await ReadAsync(reader, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads the answer to <see cref="Sql"/> from <paramref name="reader"/>, positioned on its first result.</summary>
    public static async Task<ServerLoad> ReadAsync(MySqlDataReader reader, CancellationToken cancellationToken)
    {
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        var maxConnections = int.Parse(reader.GetString(1), NumberStyles.Integer, CultureInfo.InvariantCulture);
        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        var threads = 0;
        var refused = 0L;
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var value = long.Parse(reader.GetString(1), NumberStyles.Integer, CultureInfo.InvariantCulture);
            if (string.Equals(reader.GetString(0), "Threads_connected", StringComparison.OrdinalIgnoreCase))
            {
                threads = (int)value;
            }
            else
            {
                refused = value;
            }
        }

        return new ServerLoad(maxConnections, threads, refused);
    }
}

/// <summary>What <see cref="PhysicalConnection.KillAsync"/> came to.</summary>
internal enum KillOutcome
{
    /// <summary>The <c>KILL</c> was sent (the session is gone, or was gone already, or the wait for it ran out).</summary>
    Done,

    /// <summary>The <c>KILL</c> was not sent, or not answered in time: the connection that was to send it failed.</summary>
    Failed,

    /// <summary>The <c>KILL CONNECTION</c> was sent, and the connection failed while it watched the session end.</summary>
    WatchLost,
}

/// <summary>
/// A session found closed by the server (or with bytes nobody asked for: the server's last word before it closes) while
/// it was idle in the budget, before a lease sent anything on it.
/// </summary>
internal sealed class IdleSessionEndedException() : System.IO.IOException("The idle connection was closed by the server, or has unread data on it.");
