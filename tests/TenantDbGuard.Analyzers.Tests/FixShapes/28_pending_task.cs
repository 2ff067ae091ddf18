using System.Threading.Tasks;
using Prelude;

// Leak: the task is awaited later; a failure in between loses its connection, and the release is not in a finally.
public sealed class Pending
{
    public async Task<int> RunAsync(LeasePool pool, string tenant)
    {
        var pending = pool.GetConnectionAsync(tenant);
        Log.Info("acquiring for " + tenant);
        var lease = await pending;
        var rows = await lease.ExecuteAsync("select 1");
        lease.Dispose();
        return rows;
    }
}
