using System.Threading.Tasks;
using Prelude;
// Leak: disposed after awaiting the work it started, not when that fails.
public sealed class S11
{
    public async Task<int> RunAsync(LeasePool pool)
    {
        var lease = pool.GetConnection();
        var first = lease.ExecuteAsync("select 1");
        var results = await Task.WhenAll(first);
        lease.Dispose();
        return results[0];
    }
}
