using System;
using System.IO;
using System.Net.Sockets;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;
using MySqlConnector;

namespace TenantDbGuard;

/// <summary>
/// Pomelo's retrying execution strategy that also retries on the runtime's transient errors
/// (<see cref="TenantDbGuardException"/> with <see cref="System.Data.Common.DbException.IsTransient"/>: a full budget,
/// a server at its connection limit, a connection lost under the work). Pomelo's own strategy
/// (<c>EnableRetryOnFailure</c>) only knows the driver's <c>MySqlException</c>, so it gives up as soon as the runtime
/// is in the path. Register it with <see cref="TenantDbRetryingExecutionStrategyExtensions.EnableTenantRetryOnFailure"/>.
/// </summary>
/// <remarks>
/// As with any EF Core retrying strategy, an operation is run again from its start: a user-initiated transaction must
/// be run through <c>context.Database.CreateExecutionStrategy().ExecuteAsync(...)</c>, and work that a lost connection
/// may have applied is run again (<see cref="TenantConnectionFailedException"/> says the statements may or may not have
/// run).
/// </remarks>
public class TenantDbRetryingExecutionStrategy : MySqlRetryingExecutionStrategy
{
    /// <summary>Creates the strategy.</summary>
    /// <param name="dependencies">EF Core's dependencies of an execution strategy.</param>
    /// <param name="maxRetryCount">The most retries of one operation.</param>
    /// <param name="maxRetryDelay">The longest delay between two retries.</param>
    public TenantDbRetryingExecutionStrategy(ExecutionStrategyDependencies dependencies, int maxRetryCount, TimeSpan maxRetryDelay)
        : base(dependencies, maxRetryCount, maxRetryDelay, errorNumbersToAdd: null)
    {
    }

    /// <summary>
    /// The driver's transient errors (as Pomelo's strategy), the runtime's, and a connection lost under a statement
    /// (killed, dropped by the network): the driver reports that as a <c>MySqlException</c> over the socket's error
    /// ("Failed to read the result set"), which it does not count as transient; the next attempt gets a new lease.
    /// </summary>
    /// <param name="exception">The error an attempt ended with.</param>
    /// <returns>Whether to run the operation again.</returns>
    protected override bool ShouldRetryOn(Exception exception) =>
        exception is TenantDbGuardException { IsTransient: true }
        || exception is MySqlException { InnerException: IOException or SocketException }
        || base.ShouldRetryOn(exception);
}

/// <summary>Registers <see cref="TenantDbRetryingExecutionStrategy"/> on a context's MySQL options.</summary>
public static class TenantDbRetryingExecutionStrategyExtensions
{
    /// <summary>
    /// Retries operations that fail with a transient error of the driver or of the runtime, at most
    /// <paramref name="maxRetryCount"/> times, with delays growing up to <paramref name="maxRetryDelay"/> (30 s when
    /// null); for <see cref="TenantDbContextOptions.MySqlOptions"/>: <c>mySql =&gt; mySql.EnableTenantRetryOnFailure()</c>.
    /// </summary>
    /// <param name="builder">Pomelo's options builder.</param>
    /// <param name="maxRetryCount">The most retries of one operation (default 6, as EF Core's).</param>
    /// <param name="maxRetryDelay">The longest delay between two retries.</param>
    /// <returns>The same builder.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxRetryCount"/> or <paramref name="maxRetryDelay"/> is negative.</exception>
    public static MySqlDbContextOptionsBuilder EnableTenantRetryOnFailure(this MySqlDbContextOptionsBuilder builder, int maxRetryCount = 6, TimeSpan? maxRetryDelay = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentOutOfRangeException.ThrowIfNegative(maxRetryCount);
        var delay = maxRetryDelay ?? TimeSpan.FromSeconds(30);
        ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero, nameof(maxRetryDelay));
        return builder.ExecutionStrategy(dependencies => new TenantDbRetryingExecutionStrategy(dependencies, maxRetryCount, delay));
    }
}
