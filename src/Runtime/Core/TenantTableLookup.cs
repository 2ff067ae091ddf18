using System;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using Microsoft.Extensions.Logging;
using MySqlConnector;

namespace TenantDbGuard.Core;

/// <summary>
/// Looks one tenant up in the master database's tenants table. The server compares the key as the key column's
/// collation says (so <c>ACME</c> finds the row <c>acme</c> under a case-insensitive collation) and the row's own key
/// comes back as the tenant's identity; the same query tells whether another active tenant maps to the same database
/// (names compared without regard to case, but byte for byte otherwise: <c>db</c> and <c>db </c> are not one database,
/// the second one is no database at all).
/// </summary>
/// <remarks>
/// A <c>KILL QUERY</c> from outside (an administrator, a watchdog that kills long statements) that lands while MariaDB
/// evaluates the scalar subquery does not always fail the statement: the row comes back with the subquery's value as
/// NULL and no error or warning (measured on MariaDB 10.11: from one interrupted lookup in ten to one in two hundred,
/// the longer the subquery runs the rarer; the bench's <c>killcut</c>). Read as "no other
/// tenant", that would serve a tenant on a database another tenant holds. So the subquery is an aggregate, which
/// always has a value when it runs to its end (<see cref="Shared"/> followed by the other tenant's key, which may be
/// empty, or <see cref="NotShared"/>); NULL means it was cut short, and the lookup is read again. The row itself, read by its key, was never seen
/// lost that way (no row without an error in thousands of lookups the kills interrupted; a join that scans can lose it).
/// </remarks>
internal sealed class TenantTableLookup
{
    /// <summary>What the subquery's answer starts with when it ran to its end and found another tenant (its key follows).</summary>
    private const string Shared = "+";

    /// <summary>The subquery's answer when it ran to its end and found no other tenant.</summary>
    private const string NotShared = "-";

    /// <summary>How many times in a row a lookup cut short is read again before the call fails.</summary>
    private const int Reads = 3;

    private readonly Func<CancellationToken, ValueTask<TenantConnectionLease>> _openMaster;
    private readonly MasterLocation _master;
    private readonly TenantRowRules _rules;
    private readonly TimeSpan _timeout;
    private readonly ILogger _logger;
    private readonly string _sql;

    /// <param name="options">The options; their tenants table is the one looked in.</param>
    /// <param name="master">Where the master database is.</param>
    /// <param name="rules">The rules' names of the master's server, which the check of a shared database takes for
    /// it.</param>
    /// <param name="timeout">The master connection string's <c>Default Command Timeout</c>, which the driver applies to the lookup.</param>
    /// <param name="openMaster">Leases a master connection within the budget.</param>
    /// <param name="logger">Where a lost master connection is logged, as the helpers log theirs.</param>
    public TenantTableLookup(TenantDbGuardOptions options, MasterLocation master, TenantRowRules rules, TimeSpan timeout, Func<CancellationToken, ValueTask<TenantConnectionLease>> openMaster, ILogger logger)
    {
        _rules = rules;
        _openMaster = openMaster;
        _logger = logger;
        _master = master;
        _timeout = timeout;
        var table = "`" + options.TenantsTable + "`";
        _sql =
            "SELECT t.tenant_key AS TenantKey, t.database_name AS DatabaseName, t.server_host AS ServerHost, t.server_port AS ServerPort, " +
            $"(SELECT IF(COUNT(*) = 0, '{NotShared}', CONCAT('{Shared}', MIN(o.tenant_key))) FROM {table} o WHERE o.is_active = 1 AND o.tenant_key <> t.tenant_key " +
            "AND CAST(LOWER(o.database_name) AS BINARY) = CAST(LOWER(t.database_name) AS BINARY) " +
            "AND CAST(LOWER(" + Host("o") + ") AS BINARY) = CAST(LOWER(" + Host("t") + ") AS BINARY) " +
            "AND COALESCE(o.server_port, @port) = COALESCE(t.server_port, @port)) AS SharedWith " +
            $"FROM {table} t WHERE t.tenant_key = @key AND t.is_active = 1 LIMIT 2";
    }

    /// <summary>
    /// The server a row names, with the master's other names (<see cref="TenantRowRules.MasterHosts"/>) as the
    /// master's.
    /// </summary>
    private static string Host(string row) =>
        $"CASE WHEN LOWER(TRIM({row}.server_host)) IN @masterHosts THEN @host ELSE COALESCE(NULLIF(TRIM({row}.server_host), ''), @host) END";

    public async ValueTask<TenantResolverCache.Resolved?> LookUpAsync(string tenantKey, CancellationToken cancellationToken)
    {
        var lease = await _openMaster(cancellationToken).ConfigureAwait(false);
        await using (lease.ConfigureAwait(false))
        {
            // The token cancels the wait for the master connection; the lookup itself, one row by its key, runs to its end
            // (MySqlConnector gets no token: it would cancel over a connection opened outside the budget).
            Row? row = null;
            var rows = 0;
            try
            {
                for (var read = 1; ; read++)
                {
                    var found = (await lease.Connection.QueryAsync<Row>(
                        new CommandDefinition(_sql, new { key = tenantKey, host = _master.Host, port = (long)_master.Port, masterHosts = _rules.MasterHosts }, cancellationToken: CancellationToken.None)).ConfigureAwait(false)).AsList();
                    rows = found.Count;
                    row = rows == 0 ? null : found[0];
                    if (row is null || found.TrueForAll(r => r.SharedWith is not null))
                    {
                        break;
                    }

                    // Cut short by a KILL QUERY (see the remarks): whether another tenant holds the database is not known.
                    if (read == Reads)
                    {
                        throw TenantConnectionFailedException.LookupCutShort(tenantKey, Reads);
                    }
                }
            }
            catch (MySqlException exception) when (exception.ErrorCode is MySqlErrorCode.CannotAggregateTwoCollations or MySqlErrorCode.CannotAggregateThreeCollations or MySqlErrorCode.CannotAggregateNCollations)
            {
                // The key holds characters the key column's character set has no room for (a latin1 tenants table, a
                // key in another script): the server refuses to compare them ("Illegal mix of collations"), and no row
                // can have this key. The session answered the error and is idle.
                return null;
            }
            catch (Exception exception) when (ServerErrors.IsCommandTimeout(exception))
            {
                // The lookup waited past the master connection string's command timeout (a locked tenants table, a
                // busy server): the driver stopped it, and the connection is not trusted with the next caller.
                lease.MarkFailed();
                throw CommandTimeoutException.LookingUp(tenantKey, _timeout, exception);
            }
            catch (Exception exception) when (ServerErrors.IsConnectionFailure(exception))
            {
                // The master connection was lost (killed, the network failed): closed, not given to the next caller.
                lease.MarkFailed();
                Log.ConnectionLost(_logger, exception, LogSafe.Text(lease.TenantKey));
                throw TenantConnectionFailedException.LookingUp(tenantKey, exception);
            }

            if (row?.TenantKey is null)
            {
                return null;
            }

            var sharedWith = row.SharedWith!.StartsWith(Shared, StringComparison.Ordinal) ? row.SharedWith[Shared.Length..] : null;
            // The host as the sharing check above compares it: white space around it is no part of the name.
            return new TenantResolverCache.Resolved(row.TenantKey, row.DatabaseName ?? string.Empty, row.ServerHost?.Trim(), row.ServerPort, sharedWith)
            {
                // A tenants table without a unique key on tenant_key can hold two active rows the key names (or two
                // spellings of it under the key column's collation): which one the server reads first is not defined.
                Ambiguous = rows > 1,
            };
        }
    }

    private sealed class Row
    {
        public string? TenantKey { get; set; }

        public string? DatabaseName { get; set; }

        public string? ServerHost { get; set; }

        public int? ServerPort { get; set; }

        /// <summary><see cref="Shared"/> and the key of another active tenant on the same database, or <see cref="NotShared"/>; null when cut short.</summary>
        public string? SharedWith { get; set; }
    }
}
