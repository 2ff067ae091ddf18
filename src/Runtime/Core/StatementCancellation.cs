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

    private static async Task<TResult> WatchedAsync<TState, TResult>(TenantConnectionLease lease, TState state, Func<TState, Task<TResult>> run, CancellationToken cancellationToken)
    {
        using var watch = Watch(lease, cancellationToken);
        try
        {
            return await run(state).ConfigureAwait(false);
        }
        catch (Exception exception) when (IsCancellation(exception, cancellationToken))
        {
            throw Cancelled(exception, cancellationToken);
        }
    }

    /// <summary>Whether <paramref name="exception"/> is the statement killed because <paramref name="cancellationToken"/> was cancelled.</summary>
    private static bool IsCancellation(Exception exception, CancellationToken cancellationToken) =>
        cancellationToken.IsCancellationRequested
        && exception is MySqlException { ErrorCode: MySqlErrorCode.QueryInterrupted } or OperationCanceledException;

    /// <summary>The error the caller sees for a statement it cancelled.</summary>
    private static OperationCanceledException Cancelled(Exception exception, CancellationToken cancellationToken) =>
        new(exception.Message, exception, cancellationToken);
}
