using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using Prelude;

// Leak: each task's lambda releases only when its command succeeds.
public sealed class FanOut
{
    public async Task<int> Run(IReadOnlyList<Pool> pools)
    {
        var results = await Task.WhenAll(pools.Select(async pool =>
        {
            var conn = await pool.GetConnectionAsync();
            var n = await conn.ExecuteAsync("select 1");
            conn.Release();
            return n;
        }));
        return results.Sum();
    }
}
