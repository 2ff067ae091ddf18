using System.Collections.Generic;
using Prelude;

// Leak: a lease per tenant in a foreach; continue on a short key skips that tenant's dispose.
public sealed class PerTenant
{
    public int Run(LeasePool pool, List<string> tenants)
    {
        var total = 0;
        foreach (var tenant in tenants)
        {
            var lease = pool.GetConnection();
            if (tenant.Length > 100)
            {
                continue;
            }

            total += lease.Execute("select 1");
            lease.Dispose();
        }

        return total;
    }
}
