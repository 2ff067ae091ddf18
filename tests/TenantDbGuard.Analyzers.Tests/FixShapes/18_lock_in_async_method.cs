using System.Threading.Tasks;
using Prelude;

// Leak: inside a lock of an async method, disposed at the end only.
public sealed class Exclusive
{
    private readonly object _gate = new object();

    public async Task RunAsync(LeasePool pool)
    {
        await Task.Yield();
        lock (_gate)
        {
            var lease = pool.GetConnection();
            lease.Execute("delete from queue where done = 1");
            lease.Dispose();
        }
    }
}
