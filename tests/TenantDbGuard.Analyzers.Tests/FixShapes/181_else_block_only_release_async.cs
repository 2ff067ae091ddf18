using System.Threading.Tasks;
using Prelude;

// Leak: the lease is disposed in the else of a null check; the then-branch logs and keeps it.
public sealed class ProfileLoader
{
    public async Task<int> LoadAsync(LeasePool pool, string? tenant)
    {
        var lease = await pool.GetConnectionAsync(tenant ?? "default");
        var rows = await lease.ExecuteAsync("select count(*) from profiles");
        if (tenant == null)
        {
            Log.Info("no tenant");
        }
        else
        {
            await lease.DisposeAsync();
        }

        return rows;
    }
}
