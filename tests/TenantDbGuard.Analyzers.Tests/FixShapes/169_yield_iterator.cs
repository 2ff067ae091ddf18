using System.Collections.Generic;
using Prelude;

// Leak: an iterator releases after its loop; a caller that stops early never gets there.
public sealed class TenantCounts
{
    public IEnumerable<int> Counts(Pool pool, IReadOnlyList<string> tenants)
    {
        var conn = pool.GetConnection();
        foreach (var tenant in tenants)
        {
            yield return conn.Execute("select count(*) from orders where tenant = '" + tenant + "'");
        }

        conn.Release();
    }
}
