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
    /// <c>floor(@@max_connections * ServerShare) - ReservedConnections</c>, read again while the runtime runs. Either
    /// way it is a ceiling: below it, the budget follows what the server can give
    /// (<see cref="ConnectionBudgetSnapshot.Limit"/>).
    /// </summary>
    public int? MaxConnections { get; set; }

    /// <summary>
    /// An explicit cap: the most of the server's <c>max_connections</c> this process takes when
    /// <see cref="MaxConnections"/> is derived. Not needed for several app instances on one server: every instance's
    /// budget follows the server (it shrinks when the server refuses a connection or is nearly full, and grows back
    /// when it has room), and the instances converge on equal shares. Default 1.
    /// </summary>
    public double ServerShare { get; set; } = 1.0;

    /// <summary>
    /// Connections left to administrators and other clients when <see cref="MaxConnections"/> is derived. Half of it
    /// (at least 1) is also the margin below the server's <c>max_connections</c> under which the budget stops growing
    /// and, when other clients hold connections too, shrinks. Default 10.
    /// </summary>
    public int ReservedConnections { get; set; } = 10;

    /// <summary>
    /// Opens every new connection in agreement with the other processes that use TenantDbGuard on the same server
    /// (other instances of the app, other apps): under a named lock on the server (<c>GET_LOCK</c>), and only when a
    /// reading of the server taken under that lock shows room for it. The server then never has to refuse one of their
    /// connections (error 1040): a process that finds no room waits for a connection as it would after a refusal. It
    /// costs one more connection per server and process, kept open for the lock and for the budget's readings of the
    /// server, and two round trips per new connection (none per query). Clients that do not take the lock can still
    /// take the room between the reading and the open. Applies when the budget is derived from the server
    /// (<see cref="MaxConnections"/> null, the default): an explicit <see cref="MaxConnections"/> is kept to the letter,
    /// without that extra connection. The session is closed when the process has no other connection to the server.
    /// Default <see langword="true"/>.
    /// </summary>
    public bool CoordinateOpens { get; set; } = true;

    /// <summary>
    /// The most connections one tenant may hold at once, so that one busy tenant cannot starve the others. Default 10.
    /// Tenants on one server share its connections: a lease switches an idle connection to its tenant's database.
    /// </summary>
    public int MaxConnectionsPerTenant { get; set; } = 10;

    /// <summary>The most connections the master database may hold. Default 10.</summary>
    public int MaxMasterConnections { get; set; } = 10;

    /// <summary>
    /// How long an acquisition may wait for room in the budget (or its tenant's cap), or for a server that refuses
    /// connections to have room again, before it fails. Waiters are served first come, first served. Default 15 seconds;
    /// at least 1 millisecond and at most 49 days (the longest a .NET timer waits).
    /// </summary>
    public TimeSpan AcquireTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>An idle physical connection is closed after this long. Default 60 seconds.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// How long the tenants are cached before the tenants table is read again (the whole table, active rows only; with a
    /// <see cref="TenantResolver"/>, each tenant). A tenant disabled or moved in the table takes effect within this time,
    /// or at once after <see cref="TenantDatabase.InvalidateTenant"/>. Default 5 minutes.
    /// </summary>
    public TimeSpan TenantCacheDuration { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How long a key that names no tenant is known to be unknown: such a key reads the tenants table again only when
    /// the copy in memory is older than this, so any number of unknown keys costs at most one read per this interval
    /// (and no memory). A tenant added to the table is found within this time. Default 5 seconds.
    /// </summary>
    public TimeSpan UnknownTenantCacheDuration { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// No longer has any effect; kept so that existing configuration still binds. Every lease now starts with a round
    /// trip that the server must answer (it selects the tenant's database), so a connection that died while idle is
    /// always noticed, closed and replaced before the lease gets it. Default 5 seconds.
    /// </summary>
    public TimeSpan ValidateAfterIdle { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Resets the session when a connection comes back from a lease (a helper returns once its connection is reset and
    /// idle again, so that a caller never holds one connection in use and another being reset; a lease that code held
    /// is reset in the background after it is given back): user
    /// variables, temporary tables, session variables (<c>sql_mode</c>, <c>time_zone</c>, character set, ...), an open
    /// transaction (rolled back), named locks, table locks and SQL <c>PREPARE</c>d statements, and what the server's
    /// reset keeps (on MariaDB the role <c>SET ROLE</c> made current; what <c>FOUND_ROWS()</c> reports; the profiling
    /// history); a session left in an XA transaction is closed instead. Default
    /// <see langword="true"/>. When <see langword="false"/>, a connection keeps its session only for its next lease of
    /// the same tenant: before it serves another tenant it is reset all the same.
    /// </summary>
    public bool ResetSessionOnRelease { get; set; } = true;

    /// <summary>
    /// How long a connection that came back from a lease may take to finish what the lease left (an open reader, a
    /// transaction to roll back) and to answer its reset. A connection that takes longer is busy with something the
    /// lease left running: what runs on it is killed (over another connection, within the budget) and it is closed,
    /// never handed out. Also how long the server may take to answer the runtime's own statements at a lease's start
    /// (the reset, the switch to the tenant's database) and its readings of the server's load: a session that does not
    /// answer in time is ended, and the lease goes to another connection. Default 1 second; at least 10 milliseconds
    /// (shorter than a round trip to the server, every lease would fail) and at most 16 days (disposal waits three
    /// times as long).
    /// </summary>
    public TimeSpan ResetTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// When set, a lease held longer than this is logged as a probable leak, with the stack trace of the code that
    /// acquired it (like HikariCP's <c>leakDetectionThreshold</c>). Capturing the stack costs a little on every
    /// acquisition, so it is off by default.
    /// </summary>
    public TimeSpan? LeakDetectionThreshold { get; set; }

    /// <summary>
    /// Allows two active tenants to map to one database (on one server). By default such rows are refused, both of them,
    /// with a <see cref="TenantConfigurationException"/>: two tenants on one database read each other's data. Rows that
    /// name the master database or a system schema (<c>mysql</c>, <c>information_schema</c>,
    /// <c>performance_schema</c>, <c>sys</c>) are refused whatever this says. Default <see langword="false"/>.
    /// </summary>
    public bool AllowSharedTenantDatabases { get; set; }

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
    /// <see langword="null"/> for an unknown tenant. The token is cancelled once every caller waiting for the lookup has
    /// cancelled; a lookup that is cancelled or throws is not remembered. With dependency injection, an
    /// <see cref="ITenantResolver"/> service (which may be scoped) is the other way to resolve tenants; set one or the other.
    /// </summary>
    public Func<string, CancellationToken, ValueTask<TenantInfo?>>? TenantResolver { get; set; }

    /// <summary>
    /// How many tenants carry their key on the per-tenant metrics (<c>db.client.connection.count</c> with state
    /// <c>used</c>, and <c>tenantdbguard.connections.in_use</c>): at each reading, the tenants holding the most
    /// connections; the others are summed under the tenant <c>(other)</c>, so that the number of series stays bounded
    /// however many tenants there are. The leak counter names the first this many tenants that leaked. 0 leaves the
    /// tenant out of every metric. Default 10.
    /// </summary>
    public int MetricsTopTenants { get; set; } = 10;

    /// <summary>
    /// The clock the runtime measures its own times with: acquire timeouts, idle timeouts, tenant cache expiry, leak
    /// detection, the password provider's refresh. Default <see cref="TimeProvider.System"/>; tests can pass a fake one
    /// (<c>FakeTimeProvider</c>) to move time without waiting. Waits on the server (connect and command timeouts) and
    /// MySqlConnector's own timers follow the real clock.
    /// </summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>A copy of every setting: a member-wise copy, so that no option added later can be left out.</summary>
    internal TenantDbGuardOptions Clone() => (TenantDbGuardOptions)MemberwiseClone();
}
