using System.Threading.Tasks;
using Prelude;

// Leak: a ValueTask method disposes its lease at the end; a failing command skips the dispose.
public sealed class ValueTaskQuery
{
    public async ValueTask<int> RunAsync(LeasePool pool, string tenant)
    {
        var lease = await pool.GetConnectionAsync(tenant);
        var rows = await lease.ExecuteAsync("select 1");
        rows += await lease.ExecuteAsync("select 2");
        await lease.DisposeAsync();
        return rows;
    }
}
