using System;
using System.Data.Common;
using MySqlConnector;
using TenantDbGuard.Core;

namespace TenantDbGuard;

/// <summary>
/// The base of every error the runtime raises. It is a <see cref="DbException"/>, so that code written for any ADO.NET
/// provider sees it: a <c>catch (DbException e) when (e.IsTransient)</c> retry, a Polly strategy that handles
/// <see cref="DbException"/>, EF Core's execution strategy.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="IsTransient"/> is <see langword="true"/> when the same call may succeed if it is made again unchanged: a
/// full connection budget (<see cref="ConnectionBudgetExhaustedException"/>), a server that refused connections
/// (<see cref="ServerConnectionLimitException"/>), a connection lost under a helper
/// (<see cref="TenantConnectionFailedException"/>), a new tenant key that was not looked up because too many arrived
/// at once. It is <see langword="false"/> when only a change of the key, the tenants table or the server can help: an
/// unknown tenant, a malformed key, a refused tenants table row, a tenant database that is missing or denied.
/// </para>
/// <para>
/// When the server's error caused this one, the <see cref="MySqlException"/> is the <see cref="Exception.InnerException"/>,
/// and <see cref="ErrorCode"/> and <see cref="SqlState"/> are its error number and SQLSTATE.
/// </para>
/// </remarks>
public abstract class TenantDbGuardException : DbException
{
    /// <summary>Creates the exception; only the runtime's own exceptions derive from this class.</summary>
    /// <param name="tenantKey">The tenant the call was for (the master database is <see cref="TenantDatabase.MasterKey"/>).</param>
    /// <param name="message">The message, which says what happened and what to do.</param>
    /// <param name="innerException">The error that caused this one, when there is one.</param>
    private protected TenantDbGuardException(string tenantKey, string message, Exception? innerException)
        : base(message, innerException)
    {
        TenantKey = tenantKey;
    }

    /// <summary>The tenant the call was for, as given (messages show it with control characters escaped); the master database is <see cref="TenantDatabase.MasterKey"/>.</summary>
    public string TenantKey { get; }

    /// <summary>Whether the same call may succeed if it is made again unchanged (see the remarks of <see cref="TenantDbGuardException"/>).</summary>
    public abstract override bool IsTransient { get; }

    /// <summary>The server's error number when a <see cref="MySqlException"/> is the inner exception (1049 for an unknown database); otherwise as <see cref="DbException"/>.</summary>
    public override int ErrorCode => InnerException is MySqlException server ? server.Number : base.ErrorCode;

    /// <summary>The SQLSTATE of the server's error when a <see cref="MySqlException"/> is the inner exception; otherwise <see langword="null"/>.</summary>
    public override string? SqlState => (InnerException as MySqlException)?.SqlState;
}

/// <summary>
/// The tenant key does not match <see cref="TenantDbGuardOptions.TenantKeyPattern"/>; no query was run. Not transient:
/// the same key is refused again.
/// </summary>
/// <remarks>
/// In 0.1 this was an <see cref="ArgumentException"/> with <see cref="ArgumentException.ParamName"/> <c>tenantKey</c>;
/// catch this type instead. A <see langword="null"/> key is still an <see cref="ArgumentNullException"/>.
/// </remarks>
public sealed class InvalidTenantKeyException : TenantDbGuardException
{
    /// <summary>Creates the exception for a key that does not match the pattern.</summary>
    /// <param name="tenantKey">The key, as given.</param>
    /// <param name="pattern">The pattern it had to match.</param>
    public InvalidTenantKeyException(string tenantKey, string pattern)
        : base(
            tenantKey ?? throw new ArgumentNullException(nameof(tenantKey)),
            $"Tenant key '{LogSafe.Text(tenantKey)}' ({tenantKey.Length} characters) does not match the allowed pattern {LogSafe.Text(pattern)}; no query was run. Check where the key comes from, or widen TenantDbGuardOptions.TenantKeyPattern.",
            innerException: null)
    {
        Pattern = pattern;
    }

    /// <summary>The pattern the key had to match (<see cref="TenantDbGuardOptions.TenantKeyPattern"/>).</summary>
    public string Pattern { get; }

    /// <summary>Always <see langword="false"/>: the same key is refused again.</summary>
    public override bool IsTransient => false;
}

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

/// <summary>
/// The tenant key is not in the tenants table (or the custom resolver did not know it). Not transient, except when the
/// key was not looked up at all because too many unknown keys arrived at once (<see cref="IsTransient"/>).
/// </summary>
public sealed class TenantNotFoundException : TenantDbGuardException
{
    private readonly bool _notLookedUp;

    /// <summary>Creates the exception for an unknown tenant.</summary>
    /// <param name="tenantKey">The unknown key, as given.</param>
    public TenantNotFoundException(string tenantKey)
        : base(tenantKey, $"Tenant '{LogSafe.Text(tenantKey)}' was not found: no active row in the tenants table has this key.", innerException: null)
    {
    }

    private TenantNotFoundException(string tenantKey, string message)
        : base(tenantKey, message, innerException: null)
    {
        _notLookedUp = true;
    }

    /// <summary>
    /// <see langword="false"/> when the tenants table (or the resolver) said the key is unknown; <see langword="true"/>
    /// when the key was not looked up because more new keys a second arrived than the runtime looks up.
    /// </summary>
    public override bool IsTransient => _notLookedUp;

    /// <summary>A key never seen before arrived while too many such keys were being looked up: it was not looked up.</summary>
    internal static TenantNotFoundException LookupsLimited(string tenantKey, int perSecond) => new(
        tenantKey,
        $"Tenant '{LogSafe.Text(tenantKey)}' was not looked up: more than {perSecond} unknown tenant keys a second are arriving, and this one was refused without a query. Try again shortly.");
}

/// <summary>
/// No connection could be had within <see cref="TenantDbGuardOptions.AcquireTimeout"/>: a budget was full the whole
/// time. Transient: the call may succeed once connections come back. When the call was made inside the work of a
/// <c>With...ConnectionAsync</c> or <c>With...TransactionAsync</c> callback that itself holds connections of that
/// budget, the message says so: such a call waits for a connection its own work gives back only after it.
/// </summary>
public sealed class ConnectionBudgetExhaustedException : TenantDbGuardException
{
    /// <summary>Creates the exception; the message says which budget ran out and what to change.</summary>
    /// <param name="tenantKey">The tenant that asked (the master database is <see cref="TenantDatabase.MasterKey"/>).</param>
    /// <param name="budget">The budget that ran out.</param>
    /// <param name="limit">The budget's limit.</param>
    /// <param name="held">How many connections counted against it when the wait ended.</param>
    /// <param name="waited">How long the caller waited.</param>
    public ConnectionBudgetExhaustedException(string tenantKey, ConnectionBudgetKind budget, int limit, int held, TimeSpan waited)
        : base(tenantKey, CreateMessage(tenantKey, budget, limit, held, waited), innerException: null)
    {
        Budget = budget;
        Limit = limit;
        Held = held;
        Waited = waited;
    }

    private ConnectionBudgetExhaustedException(ConnectionBudgetExhaustedException timedOut, int heldByWork)
        : base(
            timedOut.TenantKey,
            $"{timedOut.Message} This call was nested in work that holds {heldByWork} of them (a callback of WithTenantConnectionAsync, WithTenantTransactionAsync or their master variants), and work gives its connection back only when it ends: a call nested in it waits for that in vain. Use the work's own connection, or make the call after the work.",
            innerException: null)
    {
        Budget = timedOut.Budget;
        Limit = timedOut.Limit;
        Held = timedOut.Held;
        Waited = timedOut.Waited;
    }

    /// <summary>The budget that ran out.</summary>
    public ConnectionBudgetKind Budget { get; }

    /// <summary>The budget's limit.</summary>
    public int Limit { get; }

    /// <summary>How many connections counted against that budget when the wait ended.</summary>
    public int Held { get; }

    /// <summary>How long the caller waited.</summary>
    public TimeSpan Waited { get; }

    /// <summary>Always <see langword="true"/>: the call may succeed once connections come back.</summary>
    public override bool IsTransient => true;

    /// <summary>The same timeout, for a call nested in work that itself holds <paramref name="heldByWork"/> of the budget's connections.</summary>
    internal ConnectionBudgetExhaustedException NestedIn(int heldByWork) => new(this, heldByWork);

    private static string CreateMessage(string tenantKey, ConnectionBudgetKind budget, int limit, int held, TimeSpan waited)
    {
        var which = budget switch
        {
            // With room for two or more, one connection stays free while calls that can be cancelled run (to kill a
            // cancelled statement with), so the last one may be idle or not even open.
            ConnectionBudgetKind.Process when limit >= 2 => $"the process connection budget ({held} of {limit} connections open, all in use or the last one kept free to kill cancelled statements with)",
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

/// <summary>
/// The tenant is known but its database cannot be used (it was dropped, access to it was denied, or the server rejects
/// its name). Not transient: an immediate retry meets the same database; the tenant is looked up again after
/// <see cref="TenantDbGuardOptions.UnknownTenantCacheDuration"/> (or at once after <see cref="TenantDatabase.InvalidateTenant"/>),
/// so a tenants table row corrected meanwhile takes effect without a restart.
/// </summary>
public sealed class TenantDatabaseUnavailableException : TenantDbGuardException
{
    /// <summary>Creates the exception for one tenant's database.</summary>
    /// <param name="tenantKey">The tenant whose database failed.</param>
    /// <param name="databaseName">The database that failed.</param>
    /// <param name="innerException">The server's error (a <see cref="MySqlException"/>, whose number becomes <see cref="TenantDbGuardException.ErrorCode"/>).</param>
    public TenantDatabaseUnavailableException(string tenantKey, string databaseName, Exception innerException)
        : base(tenantKey, $"The database '{LogSafe.Text(databaseName)}' of tenant '{LogSafe.Text(tenantKey)}' is unavailable: {LogSafe.Text((innerException ?? throw new ArgumentNullException(nameof(innerException))).Message, 1000)} Other tenants are not affected; check that the database exists and the tenants table points at it.", innerException)
    {
        DatabaseName = databaseName;
    }

    /// <summary>The database that failed.</summary>
    public string DatabaseName { get; }

    /// <summary>Always <see langword="false"/>: the database stays unusable until it is restored or the tenants table row is corrected.</summary>
    public override bool IsTransient => false;
}

/// <summary>
/// The server kept refusing connections for the whole <see cref="TenantDbGuardOptions.AcquireTimeout"/> because one of
/// its own limits was reached: <c>max_connections</c> (error 1040), <c>max_user_connections</c> (1203) or a per-user
/// resource limit (1226); or it stayed full while the caller waited on a process budget that the runtime's readings of
/// the server had shrunk below its options. A refusal alone is not an error: the runtime shrinks its budget and waits
/// for a connection.
/// Transient: the call may succeed once the server has room again.
/// </summary>
public sealed class ServerConnectionLimitException : TenantDbGuardException
{
    private readonly int _errorCode;

    /// <summary>Creates the exception; the message says which server limit and what to change.</summary>
    /// <param name="tenantKey">The tenant whose connection was refused (the master database is <see cref="TenantDatabase.MasterKey"/>).</param>
    /// <param name="errorCode">The server's error number: 1040, 1203 or 1226.</param>
    /// <param name="processBudget">
    /// This process's connection budget when the wait ended; <see langword="null"/> when it was not known yet (the
    /// server refused the first connection, the one that reads <c>max_connections</c>).
    /// </param>
    /// <param name="innerException">The server's refusal (a <see cref="MySqlException"/>).</param>
    public ServerConnectionLimitException(string tenantKey, int errorCode, int? processBudget, Exception innerException)
        : base(tenantKey, CreateMessage(tenantKey, errorCode, processBudget, innerException ?? throw new ArgumentNullException(nameof(innerException))), innerException)
    {
        _errorCode = errorCode;
        ProcessBudget = processBudget;
    }

    /// <summary>The server's error number: 1040, 1203 or 1226.</summary>
    public override int ErrorCode => _errorCode;

    /// <summary>
    /// This process's connection budget when the wait ended (it shrinks when the server refuses); <see langword="null"/>
    /// when the server refused before the budget was known.
    /// </summary>
    public int? ProcessBudget { get; }

    /// <summary>Always <see langword="true"/>: the call may succeed once the server has room again.</summary>
    public override bool IsTransient => true;

    private static string CreateMessage(string tenantKey, int errorCode, int? processBudget, Exception inner)
    {
        var advice = (errorCode, processBudget) switch
        {
            (1040, null) => "The server's max_connections stayed taken by its other clients (other app instances included) from this process's first call on, so it holds no connection and its budget is not known yet. Raise max_connections on the server, have the other clients hold fewer connections, or raise AcquireTimeout.",
            (1040, _) => $"The server's max_connections stayed taken by its clients (other app instances included) while this process waited; its budget shrank to {processBudget}. Raise max_connections on the server, have the other clients hold fewer connections, or raise AcquireTimeout.",
            (1203, _) => UserLimitAdvice("user", "max_user_connections", "raise the user's MAX_USER_CONNECTIONS", processBudget),
            (1226, _) when NamesAccountConnectionLimit(inner) => UserLimitAdvice("account", "MAX_USER_CONNECTIONS", "raise it (ALTER USER ... WITH MAX_USER_CONNECTIONS)", processBudget),
            _ => "The database user reached a resource limit (MAX_CONNECTIONS_PER_HOUR or MAX_QUERIES_PER_HOUR): raise the limit for this user.",
        };
        return $"The server refused a connection for tenant '{LogSafe.Text(tenantKey)}' (error {errorCode}: {LogSafe.Text(inner.Message, 1000)}). {advice}";
    }

    /// <summary>The advice for a limit on the connections of the database user (1203) or of its account (1226).</summary>
    private static string UserLimitAdvice(string holder, string limit, string raise, int? processBudget) =>
        $"The database {holder}'s {limit} stayed reached (by every connection of the {holder}, in any process) "
        + (processBudget is null ? "from this process's first call on, so it holds no connection" : $"while this process waited with a budget of {processBudget}")
        + $": {raise}, or lower MaxConnections or ServerShare of the instances that share the {holder}.";

    /// <summary>Error 1226 names the resource that ran out: an account's simultaneous connections, or an hourly count.</summary>
    private static bool NamesAccountConnectionLimit(Exception inner) =>
        inner.Message.Contains("'max_user_connections'", StringComparison.OrdinalIgnoreCase);
}

/// <summary>
/// The tenants table (or the custom resolver) maps a tenant to a database it must not use: the master database (under
/// any name of the master's server), a system schema, a database another active tenant maps to, a database or server
/// no connection can reach (a name holding a NUL character, a port outside 1 to 65535), or one of two active rows for
/// one key. The tenant is refused until its row is corrected. Not transient.
/// </summary>
public sealed class TenantConfigurationException : TenantDbGuardException
{
    /// <summary>Creates the exception for one tenant's refused row.</summary>
    /// <param name="tenantKey">The tenant whose row is refused.</param>
    /// <param name="databaseName">The database the row names.</param>
    /// <param name="reason">Why it is refused, as a sentence fragment ("it is a system schema").</param>
    public TenantConfigurationException(string tenantKey, string databaseName, string reason)
        : base(tenantKey, $"The tenants table row of tenant '{LogSafe.Text(tenantKey)}' is refused: its database '{LogSafe.Text(databaseName)}' {reason}. Correct the row in the tenants table; the tenant is refused until then (call TenantDatabase.InvalidateTenant to look it up again at once).", innerException: null)
    {
        DatabaseName = databaseName;
    }

    /// <summary>The database the row names.</summary>
    public string DatabaseName { get; }

    /// <summary>Always <see langword="false"/>: the row is refused until it is corrected.</summary>
    public override bool IsTransient => false;
}

/// <summary>
/// The server refused the account the runtime connects with (error 1045, "Access denied for user"): a wrong user name
/// or password, a host the account may not connect from, or an account that requires TLS or a client certificate the
/// connection does not present. Nothing of the work was sent, and no connection was kept. Not transient: every new
/// connection with the same credentials is refused the same way; a password provider's next value (see
/// <see cref="TenantDatabaseBuilder"/>) is used by the next connection opened after it.
/// </summary>
/// <remarks>
/// <see cref="TenantDbGuardException.TenantKey"/> is the tenant whose connection was refused, or
/// <see cref="TenantDatabase.MasterKey"/> when the master database's connection was (to look a tenant up, say).
/// </remarks>
public sealed class ServerAccessDeniedException : TenantDbGuardException
{
    /// <summary>Creates the exception for one refused connection.</summary>
    /// <param name="tenantKey">The tenant whose connection the server refused (the master database is <see cref="TenantDatabase.MasterKey"/>).</param>
    /// <param name="innerException">The server's error (a <see cref="MySqlException"/>, whose number becomes <see cref="TenantDbGuardException.ErrorCode"/>).</param>
    public ServerAccessDeniedException(string tenantKey, Exception innerException)
        : base(tenantKey, Describe(tenantKey, innerException ?? throw new ArgumentNullException(nameof(innerException))), innerException)
    {
    }

    /// <summary>Always <see langword="false"/>: the server refuses the same credentials again until the account or the connection string is corrected.</summary>
    public override bool IsTransient => false;

    private static string Describe(string tenantKey, Exception innerException)
    {
        var which = tenantKey == TenantDatabase.MasterKey ? "the master database" : $"tenant '{LogSafe.Text(tenantKey)}'";
        return $"The server refused the account of the connection for {which}: {LogSafe.Text(innerException.Message, 1000)} Nothing of the work was sent. " +
               "Check the user name and password of the connection string (or what the password provider returns), the hosts the account may connect from, and whether it requires TLS or a client certificate.";
    }
}

/// <summary>
/// The connection to a tenant's database failed while the work ran (the server closed it, or the network failed), after
/// the work's statements were sent: they may or may not have run. Transient (the failed connection is closed and the
/// next call gets another), but retry only work that is safe to repeat. Also what a new connection that could not be
/// opened or set up throws (the server is out of reach, killed the session during its handshake or its <c>USE</c>, or did
/// not answer its first statements within <see cref="TenantDbGuardOptions.ResetTimeout"/>),
/// and what a call gets when the master database's connection failed while it looked the tenant up, or the lookup's
/// statement was stopped on the server (<c>KILL QUERY</c>) time after time: nothing of the work was sent then.
/// </summary>
public sealed class TenantConnectionFailedException : TenantDbGuardException
{
    /// <summary>Creates the exception for one tenant's failed connection.</summary>
    /// <param name="tenantKey">The tenant whose connection failed.</param>
    /// <param name="innerException">The driver's or the network's error.</param>
    public TenantConnectionFailedException(string tenantKey, Exception innerException)
        : base(tenantKey, $"The connection of tenant '{LogSafe.Text(tenantKey)}' failed while the work ran: {LogSafe.Text((innerException ?? throw new ArgumentNullException(nameof(innerException))).Message, 1000)} The statements sent may or may not have run; retry only work that is safe to repeat.", innerException)
    {
    }

    private TenantConnectionFailedException(string tenantKey, string message, Exception? innerException)
        : base(tenantKey, message, innerException)
    {
    }

    /// <summary>Always <see langword="true"/>: the failed connection is closed and the next call gets another.</summary>
    public override bool IsTransient => true;

    /// <summary>A new connection for the tenant failed while it was opened or set up, before anything of the work was sent.</summary>
    internal static TenantConnectionFailedException Opening(string tenantKey, Exception innerException) =>
        new(tenantKey, $"A new connection for tenant '{LogSafe.Text(tenantKey)}' failed while it was opened: {LogSafe.Text(innerException.Message, 1000)} Nothing of the work was sent; the server may be out of reach or have ended the session.", innerException);

    /// <summary>
    /// A synchronous open's acquisition did not end within <paramref name="limit"/> (the acquire timeout, the connect
    /// timeout and the reset timeout): it was abandoned before anything of the work was sent.
    /// </summary>
    internal static TenantConnectionFailedException NotOpenedInTime(string tenantKey, TimeSpan limit) =>
        new(tenantKey, $"A connection for tenant '{LogSafe.Text(tenantKey)}' was not opened within {limit.TotalMilliseconds:F0} ms (TenantDbGuardOptions.AcquireTimeout, the Connect Timeout and ResetTimeout) by the synchronous Open, and the open was abandoned. Nothing of the work was sent. The thread pool may be starved: threads blocked in synchronous opens hold the threads their acquisitions need; prefer OpenAsync.", new TimeoutException($"The synchronous open did not end within {limit.TotalMilliseconds:F0} ms."));

    /// <summary>
    /// The master database's connection failed while it looked the tenant up in the tenants table, before anything of the
    /// work was sent.
    /// </summary>
    internal static TenantConnectionFailedException LookingUp(string tenantKey, Exception innerException) =>
        new(tenantKey, $"The connection to the master database failed while tenant '{LogSafe.Text(tenantKey)}' was looked up: {LogSafe.Text(innerException.Message, 1000)} Nothing of the work was sent; the server may be out of reach or have ended the session.", innerException);

    /// <summary>
    /// The tenant's lookup in the tenants table was stopped on the server (<c>KILL QUERY</c>) in a way that returned a
    /// partial answer without an error, <paramref name="reads"/> times in a row, before anything of the work was sent.
    /// </summary>
    internal static TenantConnectionFailedException LookupCutShort(string tenantKey, int reads) =>
        new(tenantKey, $"Looking tenant '{LogSafe.Text(tenantKey)}' up in the tenants table was stopped on the server (KILL QUERY) {reads} times in a row, and the server's partial answers could not be trusted. Nothing of the work was sent; retrying is safe. Something kills the master connection's statements.", null);
}

/// <summary>
/// A helper's statement did not finish within its command timeout (<see cref="CommandOptions.Timeout"/>, or the connection
/// string's <c>Default Command Timeout</c>): the runtime stopped it on the server (or, when that could not be done, closed
/// its connection), and its connection serves no one before that is over. Transient, as a timeout under load may not
/// recur, but the statement may or may not have taken effect: retry only work that is safe to repeat.
/// </summary>
public sealed class CommandTimeoutException : TenantDbGuardException
{
    /// <summary>Creates the exception for one statement that ran out of time.</summary>
    /// <param name="tenantKey">The tenant the statement ran for (the master database is <see cref="TenantDatabase.MasterKey"/>).</param>
    /// <param name="timeout">The timeout that ran out.</param>
    /// <param name="innerException">The driver's or the server's error (a <see cref="MySqlException"/>), when there is one.</param>
    public CommandTimeoutException(string tenantKey, TimeSpan timeout, Exception? innerException)
        : this(
            tenantKey,
            timeout,
            $"A statement for tenant '{LogSafe.Text(tenantKey)}' did not finish within its command timeout of {timeout.TotalSeconds:0.###} s and was stopped. It may or may not have taken effect; retry only work that is safe to repeat. Give it more time (CommandOptions.Timeout, or Default Command Timeout in the connection string) or make it faster.",
            innerException)
    {
    }

    private CommandTimeoutException(string tenantKey, TimeSpan timeout, string message, Exception? innerException)
        : base(tenantKey, message, innerException)
    {
        Timeout = timeout;
    }

    /// <summary>The timeout that ran out.</summary>
    public TimeSpan Timeout { get; }

    /// <summary>Always <see langword="true"/>: a statement that ran out of time under load may finish when made again.</summary>
    public override bool IsTransient => true;

    /// <summary>
    /// Looking the tenant up in the master database's tenants table did not finish within the master connection string's
    /// <c>Default Command Timeout</c>, before anything of the work was sent.
    /// </summary>
    internal static CommandTimeoutException LookingUp(string tenantKey, TimeSpan timeout, Exception innerException) =>
        new(tenantKey, timeout, $"Looking tenant '{LogSafe.Text(tenantKey)}' up in the tenants table did not finish within the master connection's command timeout of {timeout.TotalSeconds:0.###} s and was stopped. Nothing of the work was sent; retrying is safe. The tenants table may be locked or the server busy; Default Command Timeout in the master connection string sets the timeout.", innerException);
}
