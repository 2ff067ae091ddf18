using System;
using Dapper;

namespace TenantDbGuard;

/// <summary>
/// How the runtime runs one helper's statement (<see cref="TenantDatabase.QueryTenantAsync{T}(string, string, object?, CommandOptions?, System.Threading.CancellationToken)"/>
/// and the other query and execute helpers): its command timeout, and what Dapper caches for it. Reuse one instance for
/// many calls; it does not change.
/// </summary>
/// <example>
/// <code>
/// var report = await db.QueryTenantAsync&lt;Row&gt;(tenantKey, sql, args, new CommandOptions { Timeout = TimeSpan.FromSeconds(2) }, ct);
/// </code>
/// </example>
public sealed class CommandOptions
{
    private readonly TimeSpan? _timeout;

    /// <summary>
    /// How long the statement may run. When it runs out, the runtime stops the statement on the server with
    /// <c>KILL QUERY</c> (sent over a connection within the budget) and the call fails with a
    /// <see cref="CommandTimeoutException"/>; the connection is reset before it serves again, as after any lease. For an
    /// unbuffered query it bounds each wait for the server (the statement up to its first row, then each further read),
    /// not the time the caller spends between rows. <see langword="null"/> (the default) keeps the connection string's
    /// <c>Default Command Timeout</c> (30 s unless set), enforced by MySqlConnector; <see cref="System.Threading.Timeout.InfiniteTimeSpan"/> means none.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Set to zero, a negative value other than the infinite one, or more than <see cref="int.MaxValue"/> milliseconds.</exception>
    public TimeSpan? Timeout
    {
        get => _timeout;
        init => _timeout = value is not { } timeout || timeout == System.Threading.Timeout.InfiniteTimeSpan || (timeout > TimeSpan.Zero && timeout.TotalMilliseconds <= int.MaxValue)
            ? value
            : throw new ArgumentOutOfRangeException(nameof(value), value, "A command timeout must be positive (and at most int.MaxValue milliseconds), or Timeout.InfiniteTimeSpan for none.");
    }

    /// <summary>
    /// Whether Dapper should not cache what it learns about this statement (Dapper's <c>CommandFlags.NoCache</c>): set
    /// it for SQL text built per call, which would otherwise fill Dapper's cache with entries used once. Default
    /// <see langword="false"/>.
    /// </summary>
    public bool NoCache { get; init; }

    /// <summary>The driver's own timeout, in seconds: a backstop a few seconds after <see cref="Timeout"/> for a kill that cannot be sent; 0 for none.</summary>
    internal int? DriverTimeoutSeconds => Timeout switch
    {
        null => null,
        { } timeout when timeout == System.Threading.Timeout.InfiniteTimeSpan => 0,
        { } timeout => (int)Math.Min(int.MaxValue, Math.Ceiling(timeout.TotalSeconds) + DriverBackstopSeconds),
    };

    /// <summary>Dapper's flags for a buffered helper.</summary>
    internal CommandFlags DapperFlags => NoCache ? CommandFlags.Buffered | CommandFlags.NoCache : CommandFlags.Buffered;

    /// <summary>How long after the runtime's own kill the driver gives up and closes the connection.</summary>
    private const int DriverBackstopSeconds = 5;
}
