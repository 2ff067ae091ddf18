using System;
using System.Threading;
using System.Threading.Tasks;

namespace TenantDbGuard;

/// <summary>Settings of a <see cref="TenantDatabase"/>.</summary>
public sealed class TenantDbGuardOptions
{
    /// <summary>
    /// The connection string of the master database, which holds the <c>tenants</c> table. Tenant databases are
    /// reached with the same credentials and settings, on the same server unless a tenant names another. Required, and
    /// it must name the master database (<c>Database=...</c>).
    /// </summary>
    public string MasterConnectionString { get; set; } = string.Empty;

    /// <summary>
    /// The most physical connections this process may have open at once, across the master and every tenant,
    /// idle ones included. <see langword="null"/> (the default) derives it from the server:
    /// <c>floor(@@max_connections * ServerShare) - ReservedConnections</c>.
    /// </summary>
    public int? MaxConnections { get; set; }

    /// <summary>
    /// This process's share of the server's <c>max_connections</c> when <see cref="MaxConnections"/> is derived;
    /// with four app instances on one server use 0.25. Default 1.
    /// </summary>
    public double ServerShare { get; set; } = 1.0;

    /// <summary>Connections left to administrators and other clients when <see cref="MaxConnections"/> is derived. Default 10.</summary>
    public int ReservedConnections { get; set; } = 10;

    /// <summary>
    /// The most connections one tenant may hold at once, so that one busy tenant cannot starve the others. Default 10.
    /// Tenants on one server share its connections: a lease switches an idle connection to its tenant's database.
    /// </summary>
    public int MaxConnectionsPerTenant { get; set; } = 10;

    /// <summary>The most connections the master database may hold. Default 10.</summary>
    public int MaxMasterConnections { get; set; } = 10;

    /// <summary>How long an acquisition may wait for room in the budget before it fails. Default 15 seconds.</summary>
    public TimeSpan AcquireTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>An idle physical connection is closed after this long. Default 60 seconds.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How long a resolved tenant is cached before it is looked up again. Default 5 minutes.</summary>
    public TimeSpan TenantCacheDuration { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long an unknown tenant key is remembered as unknown. Default 5 seconds.</summary>
    public TimeSpan UnknownTenantCacheDuration { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// A connection idle longer than this is checked with a ping before it is handed out. Default 5 seconds.
    /// After a connection was found broken, every idle connection is checked once.
    /// </summary>
    public TimeSpan ValidateAfterIdle { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Resets the session (user variables, temporary tables, open transactions) when a connection comes back,
    /// in the background, as MySqlConnector's own pool does. Default <see langword="true"/>.
    /// </summary>
    public bool ResetSessionOnRelease { get; set; } = true;

    /// <summary>
    /// When set, a lease held longer than this is logged as a probable leak, with the stack trace of the code that
    /// acquired it (like HikariCP's <c>leakDetectionThreshold</c>). Capturing the stack costs a little on every
    /// acquisition, so it is off by default.
    /// </summary>
    public TimeSpan? LeakDetectionThreshold { get; set; }

    /// <summary>The table in the master database that maps tenant keys to databases. Default <c>tenants</c>.</summary>
    public string TenantsTable { get; set; } = "tenants";

    /// <summary>
    /// The pattern every tenant key must match before any SQL runs. Default: a letter or digit followed by up to 63
    /// letters, digits, '_' or '-'. End a custom pattern with <c>\z</c>, not <c>$</c>: in .NET, <c>$</c> also matches
    /// before a final line break.
    /// </summary>
    public string TenantKeyPattern { get; set; } = @"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}\z";

    /// <summary>
    /// Resolves a tenant key to its database instead of the <see cref="TenantsTable"/> lookup; returns
    /// <see langword="null"/> for an unknown tenant.
    /// </summary>
    public Func<string, CancellationToken, ValueTask<TenantInfo?>>? TenantResolver { get; set; }
}
