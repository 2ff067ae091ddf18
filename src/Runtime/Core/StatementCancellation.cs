using System;
using System.Threading;
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

    /// <summary>Whether <paramref name="exception"/> is the statement killed because <paramref name="cancellationToken"/> was cancelled.</summary>
    public static bool IsCancellation(Exception exception, CancellationToken cancellationToken) =>
        cancellationToken.IsCancellationRequested
        && exception is MySqlException { ErrorCode: MySqlErrorCode.QueryInterrupted } or OperationCanceledException;

    /// <summary>The error the caller sees for a statement it cancelled.</summary>
    public static OperationCanceledException Cancelled(Exception exception, CancellationToken cancellationToken) =>
        new(exception.Message, exception, cancellationToken);
}
