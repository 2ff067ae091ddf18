using System;
using MySqlConnector;

namespace TenantDbGuard.Core;

/// <summary>
/// The error a helper's caller gets when the work it ran on a connection returned while a statement it started there
/// was still on its way (a task it did not await). When the lease ends, such a statement is stopped and its session
/// closed, never reset for another lease (see <see cref="ConnectionBroker.Release"/>): the work's result is not to be
/// trusted, and the caller is told so instead of getting it.
/// </summary>
internal static class StatementLeftRunning
{
    /// <summary>Throws when a statement sent through <paramref name="connection"/> is still running.</summary>
    public static void ThrowIfAny(MySqlConnection connection, string tenantKey, bool inTransaction)
    {
        if (DriverSession.IsRunningStatement(connection))
        {
            throw new InvalidOperationException(
                $"The work given a connection of tenant '{LogSafe.Text(tenantKey)}' returned while a statement it "
                + "started on that connection was still running (a task it did not await). The lease was given back "
                + "all the same: the statement was stopped and its connection closed, so it may or may not have taken "
                + "effect"
                + (inTransaction ? ", and the transaction was rolled back" : string.Empty)
                + ". Await every statement the work starts before it returns.");
        }
    }
}
