using System;
using System.Data;
using System.Data.Common;
using System.Threading;
using System.Threading.Tasks;
using MySqlConnector;
using TenantDbGuard.Core;

namespace TenantDbGuard;

/// <summary>
/// A connection of a <see cref="TenantDataSource"/>: while it is open it holds a lease of the runtime on its tenant's
/// database (or the master's); closing or disposing it gives the lease back.
/// </summary>
/// <remarks>
/// <para>
/// Open, close and open again as often as needed: each opening is a new lease for the same tenant, and costs what a
/// lease costs (no new physical connection while one is idle). Dispose it on every path (<c>await using</c>): an open
/// connection holds a place in the budget. One that is dropped while open is reclaimed when it becomes unreachable, and
/// the leak is logged.
/// </para>
/// <para>
/// Commands, batches and transactions come from <see cref="DbConnection.CreateCommand"/>,
/// <see cref="DbConnection.CreateBatch"/> and <see cref="DbConnection.BeginTransaction()"/>; they run on the lease of the
/// moment, so a command kept from an earlier opening runs on the current one, and a command or reader kept after the
/// connection is closed throws <see cref="InvalidOperationException"/> without reaching the session, which by then
/// serves someone else. The database cannot be changed (<see cref="ChangeDatabase"/> throws), and the connection never
/// enlists in an ambient <c>TransactionScope</c>.
/// </para>
/// <para>
/// The synchronous <see cref="Open"/> blocks a thread on the asynchronous acquisition (a lease may wait for room in the
/// budget); prefer <see cref="OpenAsync"/>.
/// </para>
/// <para>
/// Errors: opening fails only with the runtime's typed errors (<see cref="TenantDbGuardException"/> and its kinds:
/// the budget, the server's limit, a tenant not found or its database unavailable, a connection that failed while it
/// was opened), with <see cref="ObjectDisposedException"/> or <see cref="InvalidOperationException"/> for misuse, and
/// with <see cref="OperationCanceledException"/>, never with the driver's <see cref="MySqlException"/>. Once open, the
/// connection behaves as a <see cref="MySqlConnection"/>: its commands, readers and transactions throw the driver's
/// <see cref="MySqlException"/> (a statement's error, a command timeout, a lost session: <see cref="State"/> then
/// says <see cref="ConnectionState.Broken"/>), unwrapped, because code written against ADO.NET and EF Core's MySQL
/// execution strategies decide what to retry on the driver's error numbers. The helpers of
/// <see cref="TenantDatabase"/>, which own the whole call, translate the same failures into
/// <see cref="TenantConnectionFailedException"/> and <see cref="CommandTimeoutException"/>.
/// </para>
/// </remarks>
public sealed class TenantDbConnection : DbConnection
{
    private const int Closed = 0;
    private const int Opening = 1;
    private const int IsOpen = 2;

    private readonly TenantDatabase _database;
    private readonly TenantDataSource _source;
    private readonly StateChangeEventHandler _onInnerStateChange;
    private TenantConnectionLease? _lease;
    private TenantDbDataReader? _reader;
    private string? _databaseName;
    private int _state;
    private bool _disposed;

    internal TenantDbConnection(TenantDatabase database, TenantDataSource source)
    {
        _database = database;
        _source = source;
        _onInnerStateChange = OnInnerStateChange;
    }

    /// <summary>
    /// The tenant the connection is for: while it is open, the key of the tenant's row (whatever spelling was asked
    /// for); while it is closed, the key its data source was asked for. <c>(master)</c> for the master database.
    /// </summary>
    public string TenantKey => Volatile.Read(ref _lease)?.TenantKey ?? _source.TenantKey;

    /// <summary>The data source's settings (see <see cref="TenantDataSource.ConnectionString"/>); they cannot be changed.</summary>
    /// <exception cref="NotSupportedException">On set: the data source decides where the connection goes.</exception>
    [System.Diagnostics.CodeAnalysis.AllowNull]
    public override string ConnectionString
    {
        get => _source.ConnectionString;
        set => throw new NotSupportedException("A TenantDbGuard connection goes where its data source says; get another data source with TenantDatabase.ForTenant(key) instead of setting a connection string.");
    }

    /// <summary>The tenant's database: the one the server confirmed while open, the last one it was on (or empty) while closed.</summary>
    public override string Database => _databaseName ?? (_source.IsMaster ? new MySqlConnectionStringBuilder(_source.ConnectionString).Database : string.Empty);

    /// <summary>The server's host.</summary>
    public override string DataSource => new MySqlConnectionStringBuilder(_source.ConnectionString).Server;

    /// <summary>The server's version.</summary>
    /// <exception cref="InvalidOperationException">The connection is not open.</exception>
    public override string ServerVersion => Inner.ServerVersion;

    /// <summary>
    /// <see cref="ConnectionState.Open"/> while the connection holds a lease, else <see cref="ConnectionState.Closed"/>;
    /// <see cref="ConnectionState.Broken"/>, as for a <see cref="MySqlConnection"/>, once the server or the network ended
    /// the lease's session (close the connection, which gives the lease back, and open it again).
    /// </summary>
    public override ConnectionState State => Volatile.Read(ref _state) switch
    {
        IsOpen => Volatile.Read(ref _lease)?.ConnectionUnchecked.State == ConnectionState.Broken ? ConnectionState.Broken : ConnectionState.Open,
        Opening => ConnectionState.Connecting,
        _ => ConnectionState.Closed,
    };

    /// <summary>The connect timeout of the master's settings, in seconds (a lease waits up to the acquire timeout).</summary>
    public override int ConnectionTimeout => (int)new MySqlConnectionStringBuilder(_source.ConnectionString).ConnectionTimeout;

    /// <inheritdoc/>
    public override bool CanCreateBatch => true;

    /// <summary>The lease's connection object, for the commands of this connection.</summary>
    internal MySqlConnection Inner => Volatile.Read(ref _lease)?.Connection
        ?? throw new InvalidOperationException("The connection is not open: open it first (TenantDbConnection.OpenAsync).");

    /// <summary>The lease of the moment, for the commands of this connection.</summary>
    internal TenantConnectionLease Lease => Volatile.Read(ref _lease)
        ?? throw new InvalidOperationException("The connection is not open: open it first (TenantDbConnection.OpenAsync).");

    /// <summary>Takes a lease (waiting for room in the budget, first come first served) and opens the connection on it.</summary>
    /// <remarks>
    /// The calling thread waits for the asynchronous acquisition, whose steps run on the thread pool. Callers that
    /// block pool threads this way can starve the pool of the threads their own acquisitions need (many at once on
    /// few cores): so the thread waits at most <see cref="TenantDbGuardOptions.AcquireTimeout"/> plus the connection
    /// string's <c>Connect Timeout</c> plus <see cref="TenantDbGuardOptions.ResetTimeout"/> (what bounds an acquisition
    /// whose steps get threads to run on), after which the acquisition is abandoned (a lease it still gets is given
    /// back at once) and the call fails with a transient <see cref="TenantConnectionFailedException"/> whose inner
    /// exception is a <see cref="TimeoutException"/>. With <c>Connect Timeout=0</c> it waits as long as it takes.
    /// </remarks>
    /// <exception cref="InvalidOperationException">The connection is already open.</exception>
    /// <exception cref="ObjectDisposedException">The connection was disposed.</exception>
    /// <exception cref="TenantConnectionFailedException">
    /// The acquisition did not end in time (see the remarks), or a new connection failed while it was opened.
    /// </exception>
    public override void Open()
    {
        var attempt = new OpenAttempt();
        var opening = OpenCoreAsync(attempt.Token, attempt);
        if (!opening.IsCompleted)
        {
            var limit = _database.SynchronousOpenLimit;
            bool ended;
            try
            {
                // A timed wait of the thread itself: it ends even when no pool thread is free to run a timer.
                ended = opening.Wait(limit);
            }
            catch (AggregateException)
            {
                ended = true;
            }

            if (!ended && attempt.Abandon())
            {
                // The acquisition goes on in the background until it sees the cancellation; a lease it gets is given
                // back.
                Volatile.Write(ref _state, Closed);
                _ = opening.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                attempt.Cancel();
                throw TenantConnectionFailedException.NotOpenedInTime(TenantKey, limit);
            }
        }

        opening.GetAwaiter().GetResult();
    }

    /// <summary>Takes a lease (waiting for room in the budget, first come first served) and opens the connection on it.</summary>
    /// <param name="cancellationToken">Cancels the wait for a connection.</param>
    /// <returns>A task that completes when the connection is open.</returns>
    /// <exception cref="InvalidOperationException">The connection is already open.</exception>
    /// <exception cref="ObjectDisposedException">The connection was disposed (before or while it was being opened).</exception>
    public override Task OpenAsync(CancellationToken cancellationToken) => OpenCoreAsync(cancellationToken, null);

    /// <summary>
    /// Opens the connection; <paramref name="attempt"/>, a synchronous <see cref="Open"/>'s, may be abandoned while it
    /// runs: the connection is then left closed, and a lease had after that is given back.
    /// </summary>
    private async Task OpenCoreAsync(CancellationToken cancellationToken, OpenAttempt? attempt)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed), this);
        if (Interlocked.CompareExchange(ref _state, Opening, Closed) != Closed)
        {
            throw new InvalidOperationException("The connection is already open (or being opened).");
        }

        TenantConnectionLease lease;
        try
        {
            lease = await LeaseForAttemptAsync(attempt, cancellationToken).ConfigureAwait(false)
                ?? throw new OperationCanceledException("The synchronous open was abandoned; the lease it got was given back.");
        }
        catch
        {
            if (attempt is null || attempt.End())
            {
                Volatile.Write(ref _state, Closed);
            }

            throw;
        }

        // Published with a full fence before the disposed flag is read, as Dispose sets the flag before it closes:
        // either Dispose's close finds this lease, or this sees the flag.
        Interlocked.Exchange(ref _lease, lease);
        if (Volatile.Read(ref _disposed))
        {
            // Disposed while the lease was awaited: nobody closes this connection again, so the lease goes back now.
            if (Interlocked.CompareExchange(ref _lease, null, lease) == lease)
            {
                lease.Dispose();
            }

            Volatile.Write(ref _state, Closed);
            throw new ObjectDisposedException(GetType().FullName, "The connection was disposed while it was being opened; the lease it got was given back.");
        }

        _databaseName = lease.DatabaseName;
        lease.ConnectionUnchecked.StateChange += _onInnerStateChange;
        Volatile.Write(ref _state, IsOpen);
        OnStateChange(new StateChangeEventArgs(ConnectionState.Closed, ConnectionState.Open));
    }

    /// <summary>
    /// The lease of an opening; one had after <paramref name="attempt"/> was abandoned is given back at once (null).
    /// </summary>
    [AcquiresConnection]
    private async Task<TenantConnectionLease?> LeaseForAttemptAsync(OpenAttempt? attempt, CancellationToken cancellationToken)
    {
        var lease = await _database.LeaseForConnectionAsync(_source.IsMaster ? null : _source.TenantKey, cancellationToken).ConfigureAwait(false);
        try
        {
            if (attempt is null || attempt.End())
            {
                return lease;
            }
        }
        catch
        {
            lease.Dispose();
            throw;
        }

        // Open gave up on this attempt and left the connection closed: nobody holds this lease.
        lease.Dispose();
        return null;
    }

    /// <summary>Gives the lease back. Closing a closed connection does nothing.</summary>
    public override void Close() => CloseLease(null);

    /// <summary>
    /// Gives the lease back; when <paramref name="expected"/> is set, only if it is still the connection's lease (a
    /// reader or the driver acting for an earlier opening must not close a later one).
    /// </summary>
    internal void CloseLease(TenantConnectionLease? expected)
    {
        var lease = expected is null ? Interlocked.Exchange(ref _lease, null) : Interlocked.CompareExchange(ref _lease, null, expected) == expected ? expected : null;
        if (lease is null)
        {
            return;
        }

        // The lease's connection object is not reached through this connection any more, whatever happens below.
        Volatile.Write(ref _state, Closed);
        lease.ClosedByOwner = expected is null;
        lease.ConnectionUnchecked.StateChange -= _onInnerStateChange;
        if (Interlocked.Exchange(ref _reader, null) is { } reader && ReferenceEquals(reader.Lease, lease))
        {
            // A reader past its last result, never disposed, is over: ended here, its session is reset, not killed.
            reader.EndIfPastLastResult();
        }

        lease.Dispose();
        OnStateChange(new StateChangeEventArgs(ConnectionState.Open, ConnectionState.Closed));
    }

    /// <summary>Notes the reader a command of this connection handed out last (the driver runs one at a time).</summary>
    /// <returns><paramref name="reader"/>, for the command to hand out.</returns>
    internal DbDataReader NoteReader(TenantDbDataReader reader)
    {
        Volatile.Write(ref _reader, reader);
        return reader;
    }

    /// <summary>Gives the lease back. Closing a closed connection does nothing.</summary>
    /// <returns>A completed task.</returns>
    public override Task CloseAsync()
    {
        Close();
        return Task.CompletedTask;
    }

    /// <summary>Not supported: a tenant's connection stays on its tenant's database.</summary>
    /// <param name="databaseName">Ignored.</param>
    /// <exception cref="NotSupportedException">Always.</exception>
    public override void ChangeDatabase(string databaseName) =>
        throw new NotSupportedException("A TenantDbGuard connection stays on its tenant's database: open a connection of the other tenant's data source instead.");

    /// <summary>Starts a transaction on the open connection.</summary>
    /// <param name="isolationLevel">The isolation level.</param>
    /// <returns>The transaction; dispose it (an uncommitted one is rolled back, as is one left open when the connection closes).</returns>
    public new DbTransaction BeginTransaction(IsolationLevel isolationLevel) => BeginDbTransaction(isolationLevel);

    /// <inheritdoc/>
    protected override DbTransaction BeginDbTransaction(IsolationLevel isolationLevel) =>
        new TenantDbTransaction(this, Inner.BeginTransaction(isolationLevel));

    /// <inheritdoc/>
    protected override async ValueTask<DbTransaction> BeginDbTransactionAsync(IsolationLevel isolationLevel, CancellationToken cancellationToken)
    {
        // The statement is short; the caller's token is checked before it (a token given to MySqlConnector would cancel
        // over a connection outside the budget).
        cancellationToken.ThrowIfCancellationRequested();
        var transaction = await Inner.BeginTransactionAsync(isolationLevel, CancellationToken.None).ConfigureAwait(false);
        return new TenantDbTransaction(this, transaction);
    }

    /// <inheritdoc/>
    protected override DbCommand CreateDbCommand() => new TenantDbCommand { Connection = this };

    /// <inheritdoc/>
    protected override DbBatch CreateDbBatch() => new TenantDbBatch { Connection = this };

    /// <summary>Gives the lease back and makes the connection unusable.</summary>
    /// <param name="disposing">Whether called from <see cref="IDisposable.Dispose"/>.</param>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            // Before the close: an open still waiting for its lease sees the flag and gives the lease back (OpenAsync).
            Volatile.Write(ref _disposed, true);
            Close();
        }

        base.Dispose(disposing);
    }

    /// <summary>Gives the lease back and makes the connection unusable.</summary>
    /// <returns>A completed task.</returns>
    public override ValueTask DisposeAsync()
    {
        Volatile.Write(ref _disposed, true);
        Close();
        GC.SuppressFinalize(this);
        return default;
    }

    /// <summary>
    /// A synchronous <see cref="Open"/>'s acquisition: it either ends (with a lease or an error) or is abandoned, once.
    /// </summary>
    private sealed class OpenAttempt
    {
        private readonly CancellationTokenSource _cancel = new();
        private int _state;

        public CancellationToken Token => _cancel.Token;

        /// <summary>Marks the attempt ended; false when it was abandoned first.</summary>
        public bool End() => Interlocked.CompareExchange(ref _state, 1, 0) == 0;

        /// <summary>Marks the attempt abandoned; false when it ended first.</summary>
        public bool Abandon() => Interlocked.CompareExchange(ref _state, 2, 0) == 0;

        /// <summary>
        /// Cancels the abandoned acquisition's wait (its withdrawal from the queue may run on this thread).
        /// </summary>
        public void Cancel()
        {
            try
            {
                _cancel.Cancel();
            }
            catch (AggregateException)
            {
                // A callback of the acquisition failed: the acquisition itself reports nothing to anyone now.
            }
        }
    }

    /// <summary>
    /// The lease's connection object closed under this connection (a reader run with
    /// <see cref="CommandBehavior.CloseConnection"/>, or the driver after a failure): the lease goes back at once.
    /// </summary>
    private void OnInnerStateChange(object? sender, StateChangeEventArgs e)
    {
        if (e.CurrentState == ConnectionState.Closed && Volatile.Read(ref _lease) is { } lease && ReferenceEquals(lease.ConnectionUnchecked, sender))
        {
            CloseLease(lease);
        }
    }
}
