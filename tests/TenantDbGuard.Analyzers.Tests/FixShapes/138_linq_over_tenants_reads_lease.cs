using System.Collections.Generic;
using System.Linq;
using Prelude;

// Leak: a LINQ query over the tenants runs a command per tenant on the lease; a failing command skips the release.
public sealed class LinqSum
{
    public int Run(Pool pool, List<string> tenants)
    {
        var conn = pool.GetConnection();
        var total = tenants.Select(t => conn.Execute("select 1")).Sum();
        conn.Release();
        return total;
    }
}
