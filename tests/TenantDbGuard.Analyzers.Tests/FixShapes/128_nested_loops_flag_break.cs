using System.Collections.Generic;
using Prelude;

// Leak: nested loops over tenants and batches leave through a flag; the early return for an empty list skips the release.
public sealed class BatchSweeper
{
    public int Run(Pool pool, List<string> tenants)
    {
        var conn = pool.GetConnection();
        if (tenants.Count == 0)
        {
            return 0;
        }

        var done = false;
        var rows = 0;
        foreach (var tenant in tenants)
        {
            for (var batch = 0; batch < 3; batch++)
            {
                rows += conn.Execute("update queue set done = 1 where done = 0");
                if (rows >= 0)
                {
                    done = true;
                    break;
                }
            }

            if (done)
            {
                break;
            }
        }

        conn.Release();
        return rows;
    }
}
