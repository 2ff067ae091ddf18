using System;
using System.Threading.Tasks;
using Prelude;
// Leak when the callback fails: released at the end only.
public sealed class S12
{
    public async Task RunAsync(Pool pool, Func<PooledConnection, Task> work)
    {
        var conn = await pool.GetConnectionAsync();
        await work(conn);
        conn.Release();
    }
}
