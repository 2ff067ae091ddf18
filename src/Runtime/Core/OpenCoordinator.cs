using System;
using System.Diagnostics;
using System.Globalization;
using System.Threading;
using System.Threading.Tasks;
using MySqlConnector;

namespace TenantDbGuard.Core;

/// <summary>
/// Opens new connections to one server only when the server has room for them, in agreement with every other process
/// that does the same (other instances of the app, other apps on TenantDbGuard): each open runs under a named lock on
/// the server (<c>GET_LOCK</c>), after a reading of the server's <c>Threads_connected</c> and <c>max_connections</c>
/// taken under that lock. One process opens at a time, and it opens only when the server would accept the connection,
/// so the server never has to refuse one of them. Nothing else to deploy: the server is the meeting point.
/// </summary>
/// <remarks>
/// <para>
/// The lock and the readings go over a session of its own (one per server and process, outside the budget), which also
/// serves the budget's periodic readings of the server's load. A process that dies holding the lock loses it with its
/// session. When the session cannot be had (the server refused it, or it failed), opens go ahead uncoordinated for a
/// while, as they did before: a refusal from the server is then waited out as usual.
/// </para>
/// <para>
/// Clients that do not take the lock (an administrator's console, other applications) are not held back by it: a
/// connection of theirs opened between the reading and the open can still make the server refuse one.
/// </para>
/// </remarks>
internal sealed class OpenCoordinator : IAsyncDisposable
{
    /// <summary>The server-wide name of the lock every process takes around an open.</summary>
    public const string LockName = "TenantDbGuard.open";

    /// <summary>How long an open waits for the lock before it goes ahead uncoordinated (the holder is stuck).</summary>
    public static readonly TimeSpan LockWait = TimeSpan.FromSeconds(2);

    /// <summary>How long opens go uncoordinated after the coordination session failed, before it is tried again.</summary>
    public static readonly TimeSpan RetryAfterFailure = TimeSpan.FromSeconds(1);

    private static readonly string LockAndReadSql =
        "SELECT GET_LOCK('" + LockName + "', " + ((int)LockWait.TotalSeconds).ToString(CultureInfo.InvariantCulture) + "); " + ServerLoad.Sql;

    private const string ReleaseSql = "DO RELEASE_LOCK('" + LockName + "')";

    private readonly SemaphoreSlim _turn = new(1, 1);
    private readonly MySqlDataSource _dataSource;
    private readonly TimeSpan _answerTimeout;
    private MySqlConnection? _session;
    private long _retryAtTicks;
    private bool _disposed;

    /// <param name="dataSource">Opens the coordination session (no pooling: it is kept open and never shared).</param>
    /// <param name="answerTimeout">How long the server may take to answer beyond the lock's own wait before the session is given up.</param>
    public OpenCoordinator(MySqlDataSource dataSource, TimeSpan answerTimeout)
    {
        _dataSource = dataSource;
        _answerTimeout = answerTimeout;
    }

    /// <summary>
    /// Opens <paramref name="physical"/>'s session once the server has room for it, under the server-wide lock. Throws
    /// <see cref="ServerFullException"/> (nothing opened) when the server has no room; the server's own error when it
    /// refuses the open all the same (a client outside the agreement took the room).
    /// </summary>
    public async Task OpenAsync(PhysicalConnection physical, CancellationToken cancellationToken)
    {
        await _turn.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var (locked, load) = await LockAndReadAsync().ConfigureAwait(false);
            try
            {
                if (load is { } reading && reading.ThreadsConnected + 1 > reading.MaxConnections)
                {
                    throw new ServerFullException(reading);
                }

                await physical.OpenSessionAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                if (locked)
                {
                    await ReleaseAsync().ConfigureAwait(false);
                }
            }
        }
        finally
        {
            _turn.Release();
        }
    }

    /// <summary>
    /// Reads the server's load over the coordination session (no lock needed for that); null when the session cannot be
    /// had, for the caller to read it another way.
    /// </summary>
    public async Task<ServerLoad?> TryReadLoadAsync()
    {
        await _turn.WaitAsync().ConfigureAwait(false);
        try
        {
            if (await SessionAsync().ConfigureAwait(false) is not { } session)
            {
                return null;
            }

            try
            {
                // No token for the statement (see AnswerDeadline): a session that does not answer is dropped.
                return await AnswerDeadline.WithinAsync(session, ServerLoad.ReadAsync(session, CancellationToken.None), _answerTimeout).ConfigureAwait(false);
            }
            catch (Exception exception) when (IsSessionFailure(exception))
            {
                await DropSessionAsync().ConfigureAwait(false);
                return null;
            }
        }
        finally
        {
            _turn.Release();
        }
    }

    /// <summary>Closes the coordination session (the next open or reading opens it again).</summary>
    public async Task CloseSessionAsync()
    {
        await _turn.WaitAsync().ConfigureAwait(false);
        try
        {
            await DropSessionAsync().ConfigureAwait(false);
        }
        finally
        {
            _turn.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _turn.WaitAsync().ConfigureAwait(false);
        try
        {
            _disposed = true;
            await DropSessionAsync().ConfigureAwait(false);
            await _dataSource.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            _turn.Release();
        }
    }

    /// <summary>Takes the lock and reads the load under it; (false, null) when the session cannot be had (an uncoordinated open).</summary>
    private async Task<(bool Locked, ServerLoad? Load)> LockAndReadAsync()
    {
        if (await SessionAsync().ConfigureAwait(false) is not { } session)
        {
            return (false, null);
        }

        try
        {
            // No token for the statement (see AnswerDeadline): a session that does not answer is dropped.
            return await AnswerDeadline.WithinAsync(session, ReadAsync(session), LockWait + _answerTimeout).ConfigureAwait(false);
        }
        catch (Exception exception) when (IsSessionFailure(exception))
        {
            await DropSessionAsync().ConfigureAwait(false);
            return (false, null);
        }

        static async Task<(bool Locked, ServerLoad? Load)> ReadAsync(MySqlConnection session)
        {
            var command = new MySqlCommand(LockAndReadSql, session);
            await using var disposeCommand = command.ConfigureAwait(false);
            var reader = await command.ExecuteReaderAsync(CancellationToken.None).ConfigureAwait(false);
            await using var disposeReader = reader.ConfigureAwait(false);
            await reader.ReadAsync(CancellationToken.None).ConfigureAwait(false);

            // 1: taken; 0: another process held it for the whole wait (stuck); NULL: an error. Only 1 coordinates.
            var locked = !reader.IsDBNull(0) && Convert.ToInt64(reader.GetValue(0), CultureInfo.InvariantCulture) == 1;
            await reader.NextResultAsync(CancellationToken.None).ConfigureAwait(false);
            var load = await ServerLoad.ReadAsync(reader, CancellationToken.None).ConfigureAwait(false);
            return (locked, load);
        }
    }

    private async Task ReleaseAsync()
    {
        try
        {
            // No token for the statement (see AnswerDeadline): a session that does not answer is dropped. Called only
            // while the session holds the lock, so it is there.
            var session = _session!;
            var command = new MySqlCommand(ReleaseSql, session);
            await using var disposeCommand = command.ConfigureAwait(false);
            await AnswerDeadline.WithinAsync(session, command.ExecuteNonQueryAsync(CancellationToken.None), _answerTimeout).ConfigureAwait(false);
        }
        catch (Exception exception) when (IsSessionFailure(exception))
        {
            // Closing the session releases the lock on the server.
            await DropSessionAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The coordination session, opened when needed; null when it cannot be had now.</summary>
    private async Task<MySqlConnection?> SessionAsync()
    {
        if (_disposed)
        {
            return null;
        }

        if (_session is { State: System.Data.ConnectionState.Open } open)
        {
            return open;
        }

        if (_session is not null)
        {
            await DropSessionAsync().ConfigureAwait(false);
        }

        if (Stopwatch.GetTimestamp() < _retryAtTicks)
        {
            return null;
        }

        var session = _dataSource.CreateConnection();
        try
        {
            using var deadline = new CancellationTokenSource(_answerTimeout + TimeSpan.FromSeconds(session.ConnectionTimeout));
            await session.OpenAsync(deadline.Token).ConfigureAwait(false);
            Volatile.Write(ref _session, session);
            return session;
        }
        catch (Exception exception) when (IsSessionFailure(exception))
        {
            await PhysicalConnection.DisposeQuietlyAsync(session).ConfigureAwait(false);
            _retryAtTicks = Stopwatch.GetTimestamp() + (long)(RetryAfterFailure.TotalSeconds * Stopwatch.Frequency);
            return null;
        }
    }

    private async Task DropSessionAsync()
    {
        if (Interlocked.Exchange(ref _session, null) is { } session)
        {
            await PhysicalConnection.DisposeQuietlyAsync(session).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// What ends the coordination session (it is dropped, and opens go uncoordinated until it is had again): the server's
    /// or the network's errors, a statement that got no answer in time (<see cref="TimeoutException"/>, from
    /// <see cref="AnswerDeadline"/> or the driver's own timeouts), an answer that cannot be read.
    /// </summary>
    private static bool IsSessionFailure(Exception exception) =>
        exception is MySqlException or InvalidOperationException or OperationCanceledException or TimeoutException or System.IO.IOException or FormatException or InvalidCastException;
}

/// <summary>
/// The server had no room for another connection when the runtime read it under the open lock (see
/// <see cref="OpenCoordinator"/>): opening one would have been refused with error 1040. Handled like that refusal
/// (the budget shrinks and the caller waits), without the server ever having refused anyone. Also what a periodic
/// reading of a congested server (<paramref name="periodic"/>) reports when it shrank the budget that a caller then
/// waited on in vain.
/// </summary>
internal sealed class ServerFullException(ServerLoad load, bool periodic = false)
    : Exception(periodic
        ? $"The server had {load.ThreadsConnected} of its max_connections {load.MaxConnections} connections in use, most of them by its other clients, when this process last read it and shrank its budget."
        : $"The server had {load.ThreadsConnected} of its max_connections {load.MaxConnections} connections in use when this process read it before opening another; the server would have refused it (error 1040).")
{
    public ServerLoad Load { get; } = load;
}
