using System;
using System.Threading.Tasks;
using Prelude;

// Leak: an async lambda given to a retry helper returns early without releasing its lease.
public sealed class Retrying
{
    private static async Task<T> RetryAsync<T>(Func<Task<T>> work)
    {
        try
        {
            return await work();
        }
        catch (InvalidOperationException)
        {
            return await work();
        }
    }

    public Task<int> RunAsync(Pool pool, bool quick) => RetryAsync(async () =>
    {
        var lease = await pool.GetConnectionAsync();
        var rows = await lease.ExecuteAsync("select 1");
        if (quick)
        {
            return rows;
        }

        lease.Release();
        return rows;
    });
}
