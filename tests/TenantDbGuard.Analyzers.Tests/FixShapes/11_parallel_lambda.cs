using System.Collections.Generic;
using System.Threading.Tasks;
using Prelude;

// Leak: the lambda releases at the end, not when the command fails.
public sealed class Statistics
{
    public Task RefreshAsync(Pool pool, IEnumerable<string> tenants) =>
        Parallel.ForEachAsync(tenants, async (tenant, ct) =>
        {
            var conn = await pool.GetConnectionAsync(ct);
            await conn.ExecuteAsync("analyze table orders", ct);
            conn.Release();
        });
}
