using System;
using Microsoft.Extensions.Logging;

namespace TenantDbGuard.Core;

/// <summary>The event ids of every TenantDbGuard log message, in one place.</summary>
internal static class LogEvents
{
    public const int PoolCreated = 1001;
    public const int IdleConnectionClosed = 1003;
    public const int BudgetResolved = 1004;
    public const int ServerRefused = 1005;
    public const int BudgetAdjusted = 1006;
    public const int LoadReadFailed = 1007;
    public const int WaitingForBudget = 1010;
    public const int BudgetExhausted = 1011;
    public const int IdleConnectionStolen = 1012;
    public const int ConnectionBroken = 1020;
    public const int ServerLimitReached = 1021;
    public const int TenantDatabaseUnavailable = 1022;
    public const int TenantRowRefused = 1023;
    public const int IdleConnectionFailed = 1024;
    public const int ConnectionLost = 1025;
    public const int AccessDenied = 1026;
    public const int LeakSuspected = 1030;
    public const int LeakReturned = 1031;
    public const int LeakReclaimed = 1032;
    public const int ResetFailed = 1040;
    public const int BusyConnectionKilled = 1041;
    public const int ServerFull = 1042;
    public const int DisposeCutShort = 1043;
    public const int StatementCutOff = 1044;
    public const int StatementLeftRunning = 1045;
    public const int MasterAlias = 1046;
}

/// <summary>
/// The runtime's log messages. Values that came from outside (tenant keys, database names) are passed through
/// <see cref="LogSafe.Text"/> first.
/// </summary>
internal static partial class Log
{
    [LoggerMessage(EventId = LogEvents.PoolCreated, Level = LogLevel.Debug, Message = "Created the connection pool of server {Server}")]
    public static partial void PoolCreated(ILogger logger, string server);

    [LoggerMessage(EventId = LogEvents.IdleConnectionClosed, Level = LogLevel.Trace, Message = "Closed an idle connection to server {Server}")]
    public static partial void IdleConnectionClosed(ILogger logger, string server);

    [LoggerMessage(EventId = LogEvents.BudgetResolved, Level = LogLevel.Information, Message = "Connection budget is {Limit} (server max_connections {ServerMaxConnections}, share {ServerShare}, reserved {Reserved})")]
    public static partial void BudgetResolved(ILogger logger, int limit, int serverMaxConnections, double serverShare, int reserved);

    [LoggerMessage(EventId = LogEvents.ServerRefused, Level = LogLevel.Information, Message = "The server refused a connection for tenant '{TenantKey}' with error {ErrorCode}; the connection budget goes from {Before} to {After} and the caller waits")]
    public static partial void ServerRefused(ILogger logger, string tenantKey, int errorCode, int before, int after);

    [LoggerMessage(EventId = LogEvents.ServerFull, Level = LogLevel.Information, Message = "The server had no room for another connection for tenant '{TenantKey}' (Threads_connected {ThreadsConnected} of max_connections {ServerMaxConnections}, read under the open lock); the connection budget goes from {Before} to {After} and the caller waits")]
    public static partial void ServerFull(ILogger logger, string tenantKey, int threadsConnected, int serverMaxConnections, int before, int after);

    [LoggerMessage(EventId = LogEvents.BudgetAdjusted, Level = LogLevel.Debug, Message = "Connection budget goes from {Before} to {After} (server Threads_connected {ThreadsConnected} of max_connections {ServerMaxConnections})")]
    public static partial void BudgetAdjusted(ILogger logger, int before, int after, int threadsConnected, int serverMaxConnections);

    [LoggerMessage(EventId = LogEvents.LoadReadFailed, Level = LogLevel.Debug, Message = "Reading the server's connection count failed; the budget stays as it is until the next reading")]
    public static partial void LoadReadFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = LogEvents.WaitingForBudget, Level = LogLevel.Debug, Message = "Tenant '{TenantKey}' waits for a connection: {Budget} budget is full")]
    public static partial void WaitingForBudget(ILogger logger, string tenantKey, ConnectionBudgetKind budget);

    [LoggerMessage(EventId = LogEvents.BudgetExhausted, Level = LogLevel.Warning, Message = "Tenant '{TenantKey}' got no connection within {WaitedMs} ms: {Budget} budget of {Limit} is full")]
    public static partial void BudgetExhausted(ILogger logger, string tenantKey, double waitedMs, ConnectionBudgetKind budget, int limit);

    [LoggerMessage(EventId = LogEvents.IdleConnectionStolen, Level = LogLevel.Debug, Message = "Closed an idle connection to server {VictimServer} to make room for server {Server}")]
    public static partial void IdleConnectionStolen(ILogger logger, string victimServer, string server);

    [LoggerMessage(EventId = LogEvents.ConnectionBroken, Level = LogLevel.Information, Message = "A connection of tenant '{TenantKey}' failed and is closed")]
    public static partial void ConnectionBroken(ILogger logger, string tenantKey);

    [LoggerMessage(EventId = LogEvents.ServerLimitReached, Level = LogLevel.Error, Message = "The server refused a connection for tenant '{TenantKey}' with error {ErrorCode}")]
    public static partial void ServerLimitReached(ILogger logger, Exception exception, string tenantKey, int errorCode);

    [LoggerMessage(EventId = LogEvents.AccessDenied, Level = LogLevel.Error, Message = "The server refused the account of the connection for tenant '{TenantKey}' (access denied)")]
    public static partial void AccessDenied(ILogger logger, Exception exception, string tenantKey);

    [LoggerMessage(EventId = LogEvents.TenantDatabaseUnavailable, Level = LogLevel.Error, Message = "The database '{DatabaseName}' of tenant '{TenantKey}' is unavailable")]
    public static partial void TenantDatabaseUnavailable(ILogger logger, Exception exception, string tenantKey, string databaseName);

    [LoggerMessage(EventId = LogEvents.TenantRowRefused, Level = LogLevel.Error, Message = "The tenants table row of tenant '{TenantKey}' is refused: its database '{DatabaseName}' {Reason}")]
    public static partial void TenantRowRefused(ILogger logger, string tenantKey, string databaseName, string reason);

    [LoggerMessage(EventId = LogEvents.MasterAlias, Level = LogLevel.Warning, Message = "The server '{Server}' that the row of tenant '{TenantKey}' names is the master's server under another name; rows naming it are checked as rows on the master's server")]
    public static partial void MasterAlias(ILogger logger, string server, string tenantKey);

    [LoggerMessage(EventId = LogEvents.IdleConnectionFailed, Level = LogLevel.Debug, Message = "An idle connection to server {Server} failed before a lease used it; it is closed and another one is tried")]
    public static partial void IdleConnectionFailed(ILogger logger, Exception exception, string server);

    [LoggerMessage(EventId = LogEvents.ConnectionLost, Level = LogLevel.Warning, Message = "The connection of tenant '{TenantKey}' failed while its work ran")]
    public static partial void ConnectionLost(ILogger logger, Exception exception, string tenantKey);

    [LoggerMessage(EventId = LogEvents.LeakSuspected, Level = LogLevel.Warning, Message = "A connection of tenant '{TenantKey}' has been held for {HeldMs} ms, longer than the leak detection threshold; it was acquired at:\n{AcquiredAt}")]
    public static partial void LeakSuspected(ILogger logger, string tenantKey, double heldMs, string acquiredAt);

    [LoggerMessage(EventId = LogEvents.LeakReturned, Level = LogLevel.Information, Message = "The connection of tenant '{TenantKey}' reported as a possible leak came back after {HeldMs} ms")]
    public static partial void LeakReturned(ILogger logger, string tenantKey, double heldMs);

    [LoggerMessage(EventId = LogEvents.LeakReclaimed, Level = LogLevel.Warning, Message = "A lease of tenant '{TenantKey}' was never given back and is no longer reachable: its connection is closed and its place in the budget returned. It was acquired at:\n{AcquiredAt}")]
    public static partial void LeakReclaimed(ILogger logger, string tenantKey, string acquiredAt);

    [LoggerMessage(EventId = LogEvents.ResetFailed, Level = LogLevel.Debug, Message = "Taking back a connection of tenant '{TenantKey}' failed; it is closed")]
    public static partial void ResetFailed(ILogger logger, Exception exception, string tenantKey);

    [LoggerMessage(EventId = LogEvents.BusyConnectionKilled, Level = LogLevel.Warning, Message = "A connection of tenant '{TenantKey}' came back from its lease still busy (no answer within {TimeoutMs} ms): what runs on it is killed and it is closed, on server {Server}")]
    public static partial void BusyConnectionKilled(ILogger logger, string tenantKey, string server, double timeoutMs);

    [LoggerMessage(
        EventId = LogEvents.StatementLeftRunning,
        Level = LogLevel.Warning,
        Message = "A lease of tenant '{TenantKey}' was given back while a statement sent on its connection was still "
            + "running (a task not awaited): its session is reset once the statement ends, or killed and closed if it "
            + "runs past the reset timeout, on server {Server}")]
    public static partial void StatementLeftRunning(ILogger logger, string tenantKey, string server);

    [LoggerMessage(EventId = LogEvents.DisposeCutShort, Level = LogLevel.Warning, Message = "Disposing the runtime stopped waiting after {WaitedMs} ms, with {Connections} connections still being reset, killed or closed and {Closing} more closes under way; they go on in the background")]
    public static partial void DisposeCutShort(ILogger logger, long waitedMs, int connections, int closing);

    [LoggerMessage(EventId = LogEvents.StatementCutOff, Level = LogLevel.Warning, Message = "A statement of tenant '{TenantKey}' that the runtime killed (cancelled, or past its command timeout) had not ended {TimeoutMs} ms after the kill; its session was ended from this side and its connection is closed, on server {Server}")]
    public static partial void StatementCutOff(ILogger logger, string tenantKey, string server, double timeoutMs);
}
