using System.Collections.Generic;
using Prelude;

// Leak: a return inside a nested loop and if leaves the connection held.
public sealed class FirstEmpty
{
    public string? Find(Pool pool, List<string> tenants)
    {
        var conn = pool.GetConnection();
        foreach (var tenant in tenants)
        {
            if (tenant.Length > 0)
            {
                if (conn.Execute("select count(*) from orders where tenant = '" + tenant + "'") == 0)
                {
                    return tenant;
                }
            }
        }

        conn.Release();
        return null;
    }
}
