using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;

namespace TenantDbGuard.Core;

/// <summary>
/// Turns tenant keys into tenants: checks the key's shape before anything else happens, resolves it (in the master
/// database's tenants table, or through a custom resolver; see <see cref="TenantResolverCache"/> for the bounds on
/// memory and lookups), and refuses rows that would hand a tenant a database it must not use. The identity of a tenant
/// is the key of its row, whatever spelling of it the caller used.
/// </summary>
internal sealed class TenantRegistry
{
    private static readonly Regex IdentifierPattern = new(@"^[A-Za-z0-9_]{1,64}\z", RegexOptions.CultureInvariant);
    private static readonly string[] SystemSchemas = ["mysql", "information_schema", "performance_schema", "sys"];

    private readonly TenantDbGuardOptions _options;
    private readonly Regex _keyPattern;
    private readonly TenantResolverCache _cache;

    public TenantRegistry(TenantDbGuardOptions options, MasterLocation master, TimeSpan lookupTimeout, Func<CancellationToken, ValueTask<TenantConnectionLease>> openMaster, ILogger logger)
    {
        _options = options;
        _keyPattern = CreateKeyPattern(options.TenantKeyPattern);
        var rules = new TenantRowRules(master, options.AllowSharedTenantDatabases);
        if (options.TenantResolver is { } resolve)
        {
            _cache = new TenantResolverCache(
                async (key, cancellationToken) => await resolve(key, cancellationToken).ConfigureAwait(false) is { } tenant
                    ? new TenantResolverCache.Resolved(tenant.TenantKey, tenant.DatabaseName, tenant.ServerHost, tenant.ServerPort, SharedWith: null)
                    : null,
                tenantsTable: false,
                options,
                rules,
                logger);
        }
        else
        {
            _cache = new TenantResolverCache(new TenantTableLookup(options, master, rules, lookupTimeout, openMaster, logger).LookUpAsync, tenantsTable: true, options, rules, logger);
        }

        _rules = rules;
    }

    private readonly TenantRowRules _rules;

    /// <summary>
    /// The server a row names as <paramref name="host"/>, on the master's port, said it is the master's server: from
    /// now on the rules take that name for the master's (a row naming the master database there is refused, and a
    /// database there is the same as on the master's server for the check of tenants sharing one).
    /// </summary>
    public void AddMasterAlias(string host) => _rules.AddMasterAlias(host);

    /// <summary>Whether <paramref name="name"/> can be put between backticks as it is: letters, digits and '_', 1 to 64 of them.</summary>
    public static bool IsPlainTableName(string? name) => name is not null && IdentifierPattern.IsMatch(name);

    /// <summary>Checks a key against <see cref="TenantDbGuardOptions.TenantKeyPattern"/> before anything else happens.</summary>
    public void Validate(string tenantKey)
    {
        if (tenantKey is null)
        {
            throw new ArgumentNullException(nameof(tenantKey));
        }

        bool valid;
        try
        {
            valid = _keyPattern.IsMatch(tenantKey);
        }
        catch (RegexMatchTimeoutException)
        {
            valid = false;
        }

        if (!valid)
        {
            throw new InvalidTenantKeyException(tenantKey, _options.TenantKeyPattern);
        }
    }

    /// <summary>The tenant <paramref name="tenantKey"/> names, with the key of its row as <see cref="TenantInfo.TenantKey"/>.</summary>
    /// <exception cref="TenantNotFoundException">No active tenant has this key.</exception>
    /// <exception cref="TenantConfigurationException">The tenant's row names a database it must not use.</exception>
    public ValueTask<TenantInfo> ResolveAsync(string tenantKey, CancellationToken cancellationToken) => _cache.ResolveAsync(tenantKey, cancellationToken);

    /// <summary>Forgets what is known about a tenant, so that the next call looks it up again.</summary>
    public void Invalidate(string tenantKey) => _cache.Invalidate(tenantKey);

    /// <summary>
    /// The tenant's database failed (it was dropped, access was revoked): look the tenant up again, in case the tenants
    /// table moved it, but no more often than once per <see cref="TenantDbGuardOptions.UnknownTenantCacheDuration"/>,
    /// so that a tenant whose database stays broken does not turn every request into a read of the tenants table.
    /// </summary>
    public void Suspect(string tenantKey) => _cache.Suspect(tenantKey);

    /// <summary>
    /// The key check runs in linear time where the pattern allows it, with no timeout: a match timeout counts
    /// wall-clock time, so a GC pause or a busy CPU made it refuse valid keys. Patterns the linear engine cannot run
    /// (backreferences, lookarounds) keep the backtracking engine and its timeout against catastrophic backtracking.
    /// </summary>
    private static Regex CreateKeyPattern(string pattern)
    {
        try
        {
            return new Regex(pattern, RegexOptions.CultureInvariant | RegexOptions.NonBacktracking);
        }
        catch (NotSupportedException)
        {
            return new Regex(pattern, RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100));
        }
    }

    /// <summary>Whether <paramref name="database"/> is one of the server's own schemas.</summary>
    internal static bool IsSystemSchema(string database)
    {
        foreach (var schema in SystemSchemas)
        {
            if (string.Equals(schema, database, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>Where the master database is: tenant rows must not name it.</summary>
internal readonly record struct MasterLocation(string Host, uint Port, string Database);

/// <summary>
/// What a tenant's row must not name: no database, a name or port no server can have, the master database (on the
/// master's server under any of its names found so far), a system schema, or (unless
/// <see cref="TenantDbGuardOptions.AllowSharedTenantDatabases"/>) the database of another active tenant on the same
/// server. Database names are compared without regard to case, the safe side on servers whose names are case-sensitive.
/// </summary>
internal sealed class TenantRowRules
{
    private readonly MasterLocation _master;

    private readonly object _aliasGate = new();
    private string[] _masterHosts;

    public TenantRowRules(MasterLocation master, bool allowShared)
    {
        _master = master;
        AllowShared = allowShared;
        _masterHosts = [master.Host.Trim().ToLowerInvariant()];
    }

    public bool AllowShared { get; }

    /// <summary>Why a row is refused on its own (as a sentence fragment), or null.</summary>
    public string? Refusal(string databaseName, string? serverHost, int? serverPort)
    {
        if (string.IsNullOrWhiteSpace(databaseName))
        {
            return "is empty: the row names no database";
        }

        if (databaseName.Contains('\0', StringComparison.Ordinal))
        {
            return "holds a NUL character, which no database name can hold";
        }

        if (serverHost is not null && serverHost.Contains('\0', StringComparison.Ordinal))
        {
            return $"is on the server '{LogSafe.Text(serverHost)}', whose name holds a NUL character, which no host name can hold";
        }

        if (serverPort is < 1 or > 65535)
        {
            return $"is on port {serverPort.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)}, which is no TCP port (1 to 65535)";
        }

        if (TenantRegistry.IsSystemSchema(databaseName))
        {
            return "is a system schema of the server";
        }

        if (string.Equals(databaseName, _master.Database, StringComparison.OrdinalIgnoreCase) && IsMasterServer(serverHost, serverPort))
        {
            return "is the master database, which holds the tenants table";
        }

        return null;
    }

    /// <summary>The server and database a row names, as one comparable key.</summary>
    public string Place(string databaseName, string? serverHost, int? serverPort) =>
        string.Concat(
            (string.IsNullOrWhiteSpace(serverHost) || IsMasterHost(serverHost) ? _master.Host : serverHost.Trim()).ToUpperInvariant(),
            ":",
            (serverPort is { } port ? (uint)port : _master.Port).ToString(System.Globalization.CultureInfo.InvariantCulture),
            "/",
            databaseName.ToUpperInvariant());

    /// <summary>Why a tenant answered with the key <see cref="TenantDatabase.MasterKey"/> is refused: the runtime's
    /// leases of the master database go by that key, and a tenant's would be taken for them.</summary>
    public const string ReservedKeyRefusal = "belongs to a tenant whose key is '(master)', the key the runtime keeps for the master database (a tenant cannot have it)";

    /// <summary>
    /// Why a key that names more than one active row is refused: serving either could split its data over two
    /// databases.
    /// </summary>
    public const string AmbiguousRefusal = "is named by one of several active rows for this key (which one the server reads first is not defined, and a tenant served on either could have its data split over two databases); keep one active row per key, with tenant_key the table's primary key";

    public static string SharedRefusal(string otherTenant) =>
        $"is also the database of tenant '{LogSafe.Text(otherTenant)}' (two tenants on one database would read each other's data; if that is intended, set AllowSharedTenantDatabases)";

    private bool IsMasterServer(string? serverHost, int? serverPort) =>
        (string.IsNullOrWhiteSpace(serverHost) || IsMasterHost(serverHost))
        && (serverPort is null || (uint)serverPort.Value == _master.Port);

    /// <summary>
    /// The master's host, and the other names of it found so far (see <see cref="AddMasterAlias"/>), lower case.
    /// </summary>
    public IReadOnlyList<string> MasterHosts => Volatile.Read(ref _masterHosts);

    /// <summary>
    /// Takes <paramref name="host"/>, on the master's port, for another name of the master's server, which the server
    /// behind it said it is: <c>localhost</c> for <c>127.0.0.1</c>, another DNS name, an address written otherwise.
    /// </summary>
    public void AddMasterAlias(string host)
    {
        var alias = host.Trim().ToLowerInvariant();
        lock (_aliasGate)
        {
            if (!_masterHosts.Contains(alias, StringComparer.Ordinal))
            {
                Volatile.Write(ref _masterHosts, [.. _masterHosts, alias]);
            }
        }
    }

    private bool IsMasterHost(string host)
    {
        var trimmed = host.Trim();
        foreach (var name in MasterHosts)
        {
            if (string.Equals(name, trimmed, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}
