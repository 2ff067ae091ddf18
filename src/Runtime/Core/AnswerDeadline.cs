using System;
using System.Threading.Tasks;

namespace TenantDbGuard.Core;

/// <summary>
/// Bounds the wait for a statement of the runtime's own (a reading of the server's load, the coordination lock) that was
/// sent without a cancellation token. A token would not do: MySqlConnector cancels a statement whose token fires by
/// opening another connection to the server, outside the budget, and sending <c>KILL QUERY</c> over it, synchronously
/// on the thread that cancels (a timer's, from the thread pool) for up to its connect timeout. Past the deadline the
/// caller closes the connection instead, which ends the statement on the server.
/// </summary>
internal static class AnswerDeadline
{
    /// <summary>
    /// The result of <paramref name="statement"/> when it completes within <paramref name="timeout"/>; otherwise
    /// throws <see cref="TimeoutException"/>, and a later failure of the statement is observed and dropped.
    /// </summary>
    public static async Task<T> WithinAsync<T>(Task<T> statement, TimeSpan timeout)
    {
        try
        {
            return await statement.WaitAsync(timeout < TimeSpan.Zero ? TimeSpan.Zero : timeout).ConfigureAwait(false);
        }
        catch (TimeoutException) when (!statement.IsCompleted)
        {
            _ = statement.ContinueWith(static ended => _ = ended.Exception, default, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            throw;
        }
    }
}
