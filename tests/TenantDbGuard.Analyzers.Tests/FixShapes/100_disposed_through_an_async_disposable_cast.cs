using System;
using System.Threading.Tasks;
using Prelude;

// Leak: disposed through an IAsyncDisposable cast at the end; an early return skips it.
public sealed class Casted
{
    public async Task<int> RunAsync(LeasePool pool, bool quick)
    {
        var lease = pool.GetConnection();
        var rows = await lease.ExecuteAsync("select 1");
        if (quick)
        {
            return rows;
        }

        await ((IAsyncDisposable)lease).DisposeAsync();
        return rows;
    }
}
