using System;
using TenantDbGuard.Core;

namespace TenantDbGuard;

/// <summary>Which connection budget ran out.</summary>
public enum ConnectionBudgetKind
{
    /// <summary>The whole process's budget (<see cref="TenantDbGuardOptions.MaxConnections"/>).</summary>
    Process,

    /// <summary>One tenant's cap (<see cref="TenantDbGuardOptions.MaxConnectionsPerTenant"/>).</summary>
    Tenant,

    /// <summary>The master database's cap (<see cref="TenantDbGuardOptions.MaxMasterConnections"/>).</summary>
    Master,
}

/// <summary>The tenant key is not in the tenants table (or the custom resolver did not know it).</summary>
public sealed class TenantNotFoundException : Exception
{
    /// <summary>Creates the exception for an unknown tenant.</summary>
    public TenantNotFoundException(string tenantKey)
        : base($"Tenant '{LogSafe.Text(tenantKey)}' was not found: no active row in the tenants table has this key.")
    {
        TenantKey = tenantKey;
    }

    /// <summary>The unknown key, as given (the message shows it with control characters escaped).</summary>
    public string TenantKey { get; }

    /// <summary>A key never seen before arrived while too many such keys were being looked up: it was not looked up.</summary>
    internal static TenantNotFoundException LookupsLimited(string tenantKey, int perSecond) => new(
        tenantKey,
        $"Tenant '{LogSafe.Text(tenantKey)}' was not found: more than {perSecond} unknown tenant keys a second are arriving, and this one was not looked up (no query was run). Try again shortly.");

    private TenantNotFoundException(string tenantKey, string message)
        : base(message)
    {
        TenantKey = tenantKey;
    }
}

/// <summary>No connection could be had within <see cref="TenantDbGuardOptions.AcquireTimeout"/>: a budget was full the whole time.</summary>
public sealed class ConnectionBudgetExhaustedException : TimeoutException
{
    /// <summary>Creates the exception; the message says which budget ran out and what to change.</summary>
    public ConnectionBudgetExhaustedException(string tenantKey, ConnectionBudgetKind budget, int limit, int held, TimeSpan waited)
        : base(CreateMessage(tenantKey, budget, limit, held, waited))
    {
        TenantKey = tenantKey;
        Budget = budget;
        Limit = limit;
        Held = held;
        Waited = waited;
    }

    /// <summary>The tenant that asked (the master database is named <c>(master)</c>).</summary>
    public string TenantKey { get; }

    /// <summary>The budget that ran out.</summary>
    public ConnectionBudgetKind Budget { get; }

    /// <summary>The budget's limit.</summary>
    public int Limit { get; }

    /// <summary>How many connections counted against that budget when the wait ended.</summary>
    public int Held { get; }

    /// <summary>How long the caller waited.</summary>
    public TimeSpan Waited { get; }

    private static string CreateMessage(string tenantKey, ConnectionBudgetKind budget, int limit, int held, TimeSpan waited)
    {
        var which = budget switch
        {
            ConnectionBudgetKind.Process => $"the process connection budget ({held} of {limit} connections open, all in use)",
            ConnectionBudgetKind.Tenant => $"the per-tenant cap of tenant '{LogSafe.Text(tenantKey)}' ({held} of {limit} connections in use)",
            _ => $"the master database cap ({held} of {limit} connections in use)",
        };
        var advice = budget switch
        {
            ConnectionBudgetKind.Process => "Release connections sooner (look for leases held across slow work or leaked: enable LeakDetectionThreshold), or raise MaxConnections/ServerShare if the server allows.",
            ConnectionBudgetKind.Tenant => "Release this tenant's connections sooner, or raise MaxConnectionsPerTenant.",
            _ => "Release master connections sooner, or raise MaxMasterConnections.",
        };
        return $"No connection for tenant '{LogSafe.Text(tenantKey)}' within {waited.TotalSeconds:0.###} s: {which}. {advice}";
    }
}

/// <summary>The tenant is known but its database cannot be used (it was dropped, or access to it was denied).</summary>
public sealed class TenantDatabaseUnavailableException : Exception
{
    /// <summary>Creates the exception for one tenant's database.</summary>
    public TenantDatabaseUnavailableException(string tenantKey, string databaseName, Exception innerException)
        : base($"The database '{LogSafe.Text(databaseName)}' of tenant '{LogSafe.Text(tenantKey)}' is unavailable: {LogSafe.Text(innerException.Message, 1000)} Other tenants are not affected; check that the database exists and the tenants table points at it.", innerException)
    {
        TenantKey = tenantKey;
        DatabaseName = databaseName;
    }

    /// <summary>The tenant whose database failed.</summary>
    public string TenantKey { get; }

    /// <summary>The database that failed.</summary>
    public string DatabaseName { get; }
}

/// <summary>
/// The server kept refusing connections for the whole <see cref="TenantDbGuardOptions.AcquireTimeout"/> because one of
/// its own limits was reached: <c>max_connections</c> (error 1040), <c>max_user_connections</c> (1203) or a per-user
/// resource limit (1226). A refusal alone is not an error: the runtime shrinks its budget and waits for a connection.
/// </summary>
public sealed class ServerConnectionLimitException : Exception
{
    /// <summary>Creates the exception; the message says which server limit and what to change.</summary>
    public ServerConnectionLimitException(string tenantKey, int errorCode, int processBudget, Exception innerException)
        : base(CreateMessage(tenantKey, errorCode, processBudget, innerException), innerException)
    {
        TenantKey = tenantKey;
        ErrorCode = errorCode;
        ProcessBudget = processBudget;
    }

    /// <summary>The tenant whose connection was refused.</summary>
    public string TenantKey { get; }

    /// <summary>The server's error number: 1040, 1203 or 1226.</summary>
    public int ErrorCode { get; }

    /// <summary>This process's connection budget when the wait ended (it shrinks when the server refuses).</summary>
    public int ProcessBudget { get; }

    private static string CreateMessage(string tenantKey, int errorCode, int processBudget, Exception inner)
    {
        var advice = errorCode switch
        {
            1040 => $"The server's max_connections stayed taken by its clients (other app instances included) while this process waited; its budget shrank to {processBudget}. Raise max_connections on the server, have the other clients hold fewer connections, or raise AcquireTimeout.",
            1203 => $"The database user's max_user_connections stayed reached (by every connection of the user, in any process) while this process waited with a budget of {processBudget}: raise the user's MAX_USER_CONNECTIONS, or lower MaxConnections or ServerShare of the instances that share the user.",
            _ => "The database user reached a resource limit (MAX_CONNECTIONS_PER_HOUR or MAX_QUERIES_PER_HOUR): raise the limit for this user.",
        };
        return $"The server refused a connection for tenant '{LogSafe.Text(tenantKey)}' (error {errorCode}: {LogSafe.Text(inner.Message, 1000)}). {advice}";
    }
}

/// <summary>
/// The tenants table (or the custom resolver) maps a tenant to a database it must not use: the master database, a
/// system schema, or a database another active tenant maps to. The tenant is refused until its row is corrected.
/// </summary>
public sealed class TenantConfigurationException : Exception
{
    /// <summary>Creates the exception for one tenant's refused row.</summary>
    /// <param name="tenantKey">The tenant whose row is refused.</param>
    /// <param name="databaseName">The database the row names.</param>
    /// <param name="reason">Why it is refused, as a sentence fragment ("it is a system schema").</param>
    public TenantConfigurationException(string tenantKey, string databaseName, string reason)
        : base($"The tenants table row of tenant '{LogSafe.Text(tenantKey)}' is refused: its database '{LogSafe.Text(databaseName)}' {reason}. Correct the row in the tenants table; the tenant is refused until then (call TenantDatabase.InvalidateTenant to look it up again at once).")
    {
        TenantKey = tenantKey;
        DatabaseName = databaseName;
    }

    /// <summary>The tenant whose row is refused.</summary>
    public string TenantKey { get; }

    /// <summary>The database the row names.</summary>
    public string DatabaseName { get; }
}

/// <summary>
/// The connection to a tenant's database failed while the work ran (the server closed it, or the network failed), after
/// the work's statements were sent: they may or may not have run.
/// </summary>
public sealed class TenantConnectionFailedException : Exception
{
    /// <summary>Creates the exception for one tenant's failed connection.</summary>
    public TenantConnectionFailedException(string tenantKey, Exception innerException)
        : base($"The connection of tenant '{LogSafe.Text(tenantKey)}' failed while the work ran: {LogSafe.Text(innerException.Message, 1000)} The statements sent may or may not have run; retry only work that is safe to repeat.", innerException)
    {
        TenantKey = tenantKey;
    }

    /// <summary>The tenant whose connection failed.</summary>
    public string TenantKey { get; }
}
