using System.Collections.Generic;
using Prelude;

// Leak: the continue for a disabled tenant skips the release of that iteration's connection.
public sealed class PerTenant
{
    public int Touch(Pool pool, IReadOnlyList<bool> enabled)
    {
        var i = 0;
        var total = 0;
        while (i < enabled.Count)
        {
            var conn = pool.GetConnection();
            i++;
            if (!enabled[i - 1])
            {
                continue;
            }

            total += conn.Execute("update tenants set seen = now()");
            conn.Release();
        }

        return total;
    }
}
