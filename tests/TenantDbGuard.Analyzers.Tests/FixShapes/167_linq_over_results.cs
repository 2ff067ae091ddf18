using System.Collections.Generic;
using System.Linq;
using Prelude;

// Leak: LINQ runs one command per tenant; the first failure skips the release.
public sealed class Totals
{
    public int Sum(Pool pool, IEnumerable<string> tenants)
    {
        var conn = pool.GetConnection();
        var total = tenants.Select(t => conn.Execute("select count(*) from orders where tenant = '" + t + "'")).Sum();
        conn.Release();
        return total;
    }
}
