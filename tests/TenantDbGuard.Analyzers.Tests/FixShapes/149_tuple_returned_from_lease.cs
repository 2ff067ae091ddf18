using System.Threading.Tasks;
using Prelude;

// Leak: a named tuple is built from the lease's results; the second query failing skips the dispose.
public sealed class TupleResult
{
    public async Task<(int Tenants, int Sessions)> RunAsync(LeasePool pool, string tenant)
    {
        var lease = await pool.GetConnectionAsync(tenant);
        var tenants = await lease.ExecuteAsync("select 1");
        var sessions = await lease.ExecuteAsync("select 2");
        await lease.DisposeAsync();
        return (tenants, sessions);
    }
}
