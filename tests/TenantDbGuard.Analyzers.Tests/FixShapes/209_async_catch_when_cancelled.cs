using System;
using System.Threading;
using System.Threading.Tasks;
using Prelude;

// Leak: a cancelled query leaves with the connection.
public sealed class Cancellable
{
    public async Task<int> RunAsync(Pool pool, CancellationToken token)
    {
        var conn = await pool.GetConnectionAsync(token);
        try
        {
            var n = await conn.ExecuteAsync("select 1", token);
            conn.Release();
            return n;
        }
        catch (OperationCanceledException) when (!token.IsCancellationRequested)
        {
            conn.Release();
            return -1;
        }
    }
}
