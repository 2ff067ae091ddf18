using System;
using MySqlConnector;

namespace TenantDbGuard.Core;

/// <summary>Turns the server's errors on connect into the runtime's typed errors.</summary>
internal static class ServerErrors
{
    public static bool IsConnectionLimit(MySqlException exception) =>
        exception.Number is 1040 or 1203 or 1226;

    /// <summary>Errors that mean this tenant's database cannot be used: unknown database, access denied to it.</summary>
    public static bool IsDatabaseUnavailable(MySqlException exception) =>
        exception.ErrorCode is MySqlErrorCode.UnknownDatabase or MySqlErrorCode.DatabaseAccessDenied;

    /// <summary>Errors a query gets when the database its connection is on was dropped (as when a table is missing).</summary>
    public static bool MayMeanDatabaseDropped(MySqlException exception) =>
        exception.ErrorCode is MySqlErrorCode.NoSuchTable or MySqlErrorCode.UnknownDatabase;

    /// <summary>Errors after which the connection itself cannot be trusted.</summary>
    public static bool IsConnectionFailure(Exception exception) =>
        exception is System.IO.IOException or System.Net.Sockets.SocketException
        || exception is MySqlException { ErrorCode: MySqlErrorCode.UnableToConnectToHost or MySqlErrorCode.CommandTimeoutExpired }
        || exception.InnerException is System.IO.IOException or System.Net.Sockets.SocketException;
}
