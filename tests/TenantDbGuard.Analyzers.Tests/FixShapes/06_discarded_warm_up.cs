using System.Threading.Tasks;
using Prelude;

// Leak: a connection taken to warm the pool and dropped.
public sealed class WarmUp
{
    public async Task RunAsync(LeasePool pool)
    {
        await pool.GetConnectionAsync("tdg_fix");
        Log.Info("warm");
    }
}
