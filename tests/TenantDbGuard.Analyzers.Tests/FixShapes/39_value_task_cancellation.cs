using System.Threading;
using System.Threading.Tasks;
using Prelude;

// Leak: cancelled between starting the acquisition and awaiting it.
public sealed class Cancellable
{
    public async Task<int> RunAsync(LeasePool pool, CancellationToken ct)
    {
        var pending = pool.GetConnectionAsync("tdg_fix");
        ct.ThrowIfCancellationRequested();
        var lease = await pending;
        var rows = await lease.ExecuteAsync("select 1");
        await lease.DisposeAsync();
        return rows;
    }
}
