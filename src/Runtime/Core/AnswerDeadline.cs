using System;
using System.Threading.Tasks;
using MySqlConnector;

namespace TenantDbGuard.Core;

/// <summary>
/// Bounds the wait for a statement of the runtime's own (a reading of the server's load, the coordination lock, the reset
/// and the switch to the tenant's database at a lease's start) that was sent without a cancellation token. A token would not do: MySqlConnector cancels a statement whose token fires by
/// opening another connection to the server, outside the budget, and sending <c>KILL QUERY</c> over it, synchronously
/// on the thread that cancels (a timer's, from the thread pool) for up to its connect timeout. Past the deadline the
/// session's socket is shut instead, which fails the statement at once and ends the session on the server.
/// </summary>
internal static class AnswerDeadline
{
    /// <summary>
    /// The result of <paramref name="statement"/>, running on <paramref name="connection"/>, when it completes within
    /// <paramref name="timeout"/>. Otherwise shuts the session's socket, waits for the statement to fail (so that the
    /// caller never closes the connection while the driver still reads from it: it is not for concurrent use), and
    /// throws <see cref="TimeoutException"/>; the caller closes the connection. When the socket cannot be reached
    /// (another version of MySqlConnector), waits for the statement's own end instead.
    /// </summary>
    public static async Task<T> WithinAsync<T>(MySqlConnection connection, Task<T> statement, TimeSpan timeout)
    {
        if (!statement.IsCompleted)
        {
            try
            {
                await statement.WaitAsync(timeout < TimeSpan.Zero ? TimeSpan.Zero : timeout).ConfigureAwait(false);
            }
            catch (TimeoutException) when (!statement.IsCompleted)
            {
                var shut = SocketProbe.ShutDown(SocketProbe.SocketOf(connection));
                try
                {
                    await statement.ConfigureAwait(false);
                }
                catch (Exception) when (shut)
                {
                    // The statement failed because its socket was shut: the timeout is what the caller is told.
                }

                if (shut)
                {
                    throw new TimeoutException($"The server did not answer within {timeout.TotalMilliseconds:F0} ms (TenantDbGuardOptions.ResetTimeout bounds the runtime's own statements); the session was ended.");
                }
            }
            catch (Exception)
            {
                // The statement failed within the time: its own exception follows.
            }
        }

        return await statement.ConfigureAwait(false);
    }
}
