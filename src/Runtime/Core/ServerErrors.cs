using System;
using System.IO;
using System.Net.Sockets;
using MySqlConnector;

namespace TenantDbGuard.Core;

/// <summary>Sorts the server's and the driver's errors into what the runtime does about them.</summary>
internal static class ServerErrors
{
    /// <summary>MariaDB's ER_CONNECTION_KILLED, sent to a session that another session killed.</summary>
    private const int ConnectionKilled = 1927;

    public static bool IsConnectionLimit(MySqlException exception) =>
        exception.Number is 1040 or 1203 or 1226;

    /// <summary>The server refuses the account itself (1045): its password, the host it connects from, or TLS it requires.</summary>
    public static bool IsAccessDenied(MySqlException exception) =>
        exception.ErrorCode == MySqlErrorCode.AccessDenied;

    /// <summary>
    /// Errors that mean this tenant's database cannot be used: unknown database, access denied to it, a name the server
    /// rejects. The connection itself is fine.
    /// </summary>
    public static bool IsDatabaseUnavailable(MySqlException exception) =>
        exception.ErrorCode is MySqlErrorCode.UnknownDatabase or MySqlErrorCode.DatabaseAccessDenied or MySqlErrorCode.WrongDatabaseName;

    /// <summary>Errors a query gets when the database its connection is on was dropped (as when a table is missing).</summary>
    public static bool MayMeanDatabaseDropped(MySqlException exception) =>
        exception.ErrorCode is MySqlErrorCode.NoSuchTable or MySqlErrorCode.UnknownDatabase;

    /// <summary>Errors after which the connection itself cannot be trusted: it is closed, or the network failed.</summary>
    public static bool IsConnectionFailure(Exception exception) =>
        exception is IOException or SocketException
        || exception is MySqlException { ErrorCode: MySqlErrorCode.UnableToConnectToHost or MySqlErrorCode.ServerShutdown or MySqlErrorCode.ClientInteractionTimeout }
        || exception is MySqlException { Number: ConnectionKilled }
        || exception.InnerException is IOException or SocketException;

    /// <summary>The driver gave up waiting for the server: the statement may still run there.</summary>
    public static bool IsCommandTimeout(Exception exception) =>
        exception is MySqlException { ErrorCode: MySqlErrorCode.CommandTimeoutExpired };
}
