using System;
using System.Linq;
using Prelude;
// Leak: released after a LINQ query that runs on the spot, not when it fails.
public sealed class S4
{
    public int Run(Pool pool, int[] ids)
    {
        var conn = pool.GetConnection();
        var total = ids.Select(id => conn.Execute("select " + id)).Sum();
        conn.Release();
        return total;
    }
}
