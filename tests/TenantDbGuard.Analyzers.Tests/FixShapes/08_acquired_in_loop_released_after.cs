using System.Collections.Generic;
using System.Threading.Tasks;
using Prelude;

// Leak: a connection per tenant, only the last one released.
public sealed class Migration
{
    public async Task ApplyAsync(Pool pool, IEnumerable<string> tenants, string script)
    {
        PooledConnection conn = null;
        foreach (var tenant in tenants)
        {
            conn = await pool.GetConnectionAsync();
            await conn.ExecuteAsync(script);
        }

        conn?.Release();
    }
}
