using System;
using System.Threading;
using System.Threading.Tasks;
using MySqlConnector;

namespace TenantDbGuard.Core;

/// <summary>
/// A caller's cancellation token for one statement (or one read) of a <see cref="TenantDbConnection"/>, turned into the
/// runtime's own <c>KILL QUERY</c> within the budget: MySqlConnector gets no token, since it would cancel over a
/// connection opened outside the budget.
/// </summary>
internal static class StatementCancellation
{
    /// <summary>Watches <paramref name="cancellationToken"/> while the statement runs; dispose the registration after it.</summary>
    public static CancellationTokenRegistration Watch(TenantConnectionLease lease, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return cancellationToken.CanBeCanceled
            ? cancellationToken.UnsafeRegister(static state => ((TenantConnectionLease)state!).CancelStatement(), lease)
            : default;
    }

    /// <summary>
    /// Runs one statement (or read) of <paramref name="lease"/>, watching <paramref name="cancellationToken"/>: a
    /// statement killed because it was cancelled ends in an <see cref="OperationCanceledException"/>.
    /// </summary>
    public static Task<TResult> RunAsync<TState, TResult>(TenantConnectionLease lease, TState state, Func<TState, Task<TResult>> run, CancellationToken cancellationToken) =>
        cancellationToken.CanBeCanceled ? WatchedAsync(lease, state, run, cancellationToken) : run(state);

    /// <summary>
    /// Runs a statement of a <see cref="TenantDbConnection"/>'s command or batch (the synchronous API): a failure that
    /// comes from the lease being given back under it (its connection closed or disposed on another thread, a
    /// <c>DbContext</c> disposed by the request's end while a task still queried on it) is reported as that rather
    /// than as what the driver made of a connection closed under it (a <see cref="NullReferenceException"/>,
    /// "Connection must be Open").
    /// </summary>
    public static TResult RunStatement<TState, TResult>(TenantConnectionLease lease, TState state, Func<TState, TResult> run)
    {
        try
        {
            return run(state);
        }
        catch (Exception exception) when (IsClosedUnder(lease, exception))
        {
            throw ClosedWhileRunning(exception);
        }
    }

    /// <summary>
    /// As <see cref="RunAsync"/>, for a statement of a <see cref="TenantDbConnection"/>'s command or batch: a failure
    /// that comes from the lease being given back under it is reported as that (see <see cref="RunStatement"/>).
    /// </summary>
    public static Task<TResult> RunStatementAsync<TState, TResult>(TenantConnectionLease lease, TState state, Func<TState, Task<TResult>> run, CancellationToken cancellationToken)
    {
        var running = RunAsync(lease, state, run, cancellationToken);
        return running.IsCompletedSuccessfully ? running : ClosedUnderAsync(lease, running);
    }

    /// <summary>
    /// Whether <paramref name="exception"/> came from a statement whose connection its owner closed under it.
    /// </summary>
    private static bool IsClosedUnder(TenantConnectionLease lease, Exception exception) =>
        exception is not OperationCanceledException && lease.ClosedByOwner;

    /// <summary>The error of a statement whose connection was closed under it.</summary>
    private static InvalidOperationException ClosedWhileRunning(Exception exception) => new(
        "The connection was closed while the statement ran (it was closed or disposed on another thread, e.g. its " +
        "DbContext by the end of the request or scope while a background task still used it): the lease was given " +
        "back under the statement, and what it did is unknown. Close a connection (or dispose a DbContext) only once " +
        "its work is done; give work that outlives a request a connection or context of its own.",
        exception);

    private static async Task<TResult> ClosedUnderAsync<TResult>(TenantConnectionLease lease, Task<TResult> running)
    {
        try
        {
            return await running.ConfigureAwait(false);
        }
        catch (Exception exception) when (IsClosedUnder(lease, exception))
        {
            throw ClosedWhileRunning(exception);
        }
    }

    private static async Task<TResult> WatchedAsync<TState, TResult>(TenantConnectionLease lease, TState state, Func<TState, Task<TResult>> run, CancellationToken cancellationToken)
    {
        var kills = lease.KillsRequested;
        TResult result;

        // Counted as running before the token is watched: a kill the token sends always finds its statement running.
        var statement = lease.StatementStarted();
        try
        {
            var watch = Watch(lease, cancellationToken);
            try
            {
                result = await run(state).ConfigureAwait(false);
            }
            catch (Exception exception) when (IsCancellation(exception, cancellationToken) || (cancellationToken.IsCancellationRequested && lease.StatementCutOff))
            {
                throw Cancelled(exception, cancellationToken);
            }
            finally
            {
                // Waits for the callback if it is running right now, so that a kill it sends is counted below.
                watch.Dispose();
            }
        }
        finally
        {
            lease.StatementEnded(statement);
        }

        // A statement killed because it was cancelled may end without an error (an interrupted SLEEP returns 1): once a
        // kill went out while it ran, what it returned is not to be trusted.
        if (lease.KillsRequested == kills)
        {
            return result;
        }

        await DiscardAsync(result).ConfigureAwait(false);
        throw Cancelled(cancellationToken);
    }

    /// <summary>Disposes a result that is not handed out (a reader over the killed statement); its own failure is not reported.</summary>
    private static async ValueTask DiscardAsync<TResult>(TResult result)
    {
        try
        {
            if (result is IAsyncDisposable disposable)
            {
                await disposable.DisposeAsync().ConfigureAwait(false);
            }
        }
        catch (Exception exception) when (exception is MySqlException or InvalidOperationException or System.IO.IOException)
        {
            // The statement was killed: the caller gets the cancellation, not what went wrong reading its end.
        }
    }

    /// <summary>Whether <paramref name="exception"/> is the statement killed because <paramref name="cancellationToken"/> was cancelled.</summary>
    private static bool IsCancellation(Exception exception, CancellationToken cancellationToken) =>
        cancellationToken.IsCancellationRequested
        && exception is MySqlException { ErrorCode: MySqlErrorCode.QueryInterrupted } or OperationCanceledException;

    /// <summary>The error the caller sees for a statement it cancelled.</summary>
    private static OperationCanceledException Cancelled(Exception exception, CancellationToken cancellationToken) =>
        new(exception.Message, exception, cancellationToken);

    /// <summary>The error the caller sees for a statement it cancelled that ended without an error after the kill went out.</summary>
    public static OperationCanceledException Cancelled(CancellationToken cancellationToken) =>
        new("The statement was cancelled: the runtime stopped it with KILL QUERY, so what it returned is not to be trusted.", cancellationToken);
}
