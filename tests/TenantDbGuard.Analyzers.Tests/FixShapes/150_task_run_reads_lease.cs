using System.Threading.Tasks;
using Prelude;

// Leak: Task.Run runs the command on the lease and is awaited; when it fails, the release after it is skipped.
public sealed class Offloaded
{
    public async Task<int> RunAsync(Pool pool)
    {
        var conn = pool.GetConnection();
        var rows = await Task.Run(() => conn.Execute("update tenants set seen = now()"));
        conn.Release();
        return rows;
    }
}
