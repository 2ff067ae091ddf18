using System.Collections.Generic;
using Prelude;

// Leak: a tenant skipped with continue keeps the lease taken for it.
public sealed class Recounts
{
    public int Recount(Pool pool, IReadOnlyList<string> tenants)
    {
        var done = 0;
        foreach (var tenant in tenants)
        {
            var lease = pool.GetConnection();
            if (tenant.Length == 1)
            {
                continue;
            }

            lease.Execute("update customers set name = name");
            lease.Release();
            done++;
        }

        return done;
    }
}
