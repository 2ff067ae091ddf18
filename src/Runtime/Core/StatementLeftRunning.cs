using System;
using MySqlConnector;

namespace TenantDbGuard.Core;

/// <summary>
/// The error a helper's caller gets when the work it ran on a connection returned while a statement it started there
/// was still on its way (a task it did not await). When the lease ends, such a statement is left to end on the lease's
/// session, which is reset only after it (or killed and closed when it takes longer than the reset timeout; see
/// <see cref="ConnectionBroker.Release"/>): the work's result is not to be trusted, and the caller is told so instead
/// of getting it.
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
                + "all the same: the statement may or may not take effect (it is killed, and its connection closed, if "
                + "it does not end within the reset timeout)"
                + (inTransaction ? ", and the transaction is rolled back" : string.Empty)
                + ". Await every statement the work starts before it returns.");
        }
    }
}
