using System;
using System.Threading;

namespace TenantDbGuard.Core;

/// <summary>
/// A helper's command timeout, enforced by the runtime: when it runs out, the lease's statement is stopped with the
/// runtime's own <c>KILL QUERY</c> within the budget (<see cref="TenantConnectionLease.CancelStatement"/>). It follows the
/// real clock, as the driver's timeouts do. Dispose it once the statement is over.
/// </summary>
internal sealed class StatementTimeout : IDisposable
{
    private readonly CancellationTokenSource _timer = new();
    private readonly CancellationTokenRegistration _registration;

    private StatementTimeout(TenantConnectionLease lease, TimeSpan timeout)
    {
        Timeout = timeout;
        _registration = _timer.Token.UnsafeRegister(static state => ((TenantConnectionLease)state!).CancelStatement(), lease);
        _timer.CancelAfter(timeout);
    }

    /// <summary>The timeout.</summary>
    public TimeSpan Timeout { get; }

    /// <summary>Whether it ran out (and the statement was killed).</summary>
    public bool Expired => _timer.IsCancellationRequested;

    /// <summary>A timeout for <paramref name="lease"/>'s statement; null when there is none to enforce (none set, or infinite).</summary>
    public static StatementTimeout? Start(TenantConnectionLease lease, TimeSpan? timeout) =>
        timeout is { } value && value != System.Threading.Timeout.InfiniteTimeSpan ? new StatementTimeout(lease, value) : null;

    /// <summary>Stops the clock while the caller, not the server, has the statement (between the rows of an unbuffered query).</summary>
    public void Pause()
    {
        if (!Expired)
        {
            _timer.CancelAfter(System.Threading.Timeout.Infinite);
        }
    }

    /// <summary>Starts the clock again, for a whole <see cref="Timeout"/>.</summary>
    public void Resume()
    {
        if (!Expired)
        {
            _timer.CancelAfter(Timeout);
        }
    }

    public void Dispose()
    {
        // First the registration: a kill it is starting right now is seen by the lease before the statement ends.
        _registration.Dispose();
        _timer.Dispose();
    }
}
