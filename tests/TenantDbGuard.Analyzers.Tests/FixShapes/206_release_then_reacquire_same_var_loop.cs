using System;
using Prelude;

// Leak: the last iteration's connection is never released when the limit is hit.
public sealed class Batches
{
    public int Run(Pool pool, int batches, int limit)
    {
        var total = 0;
        for (var i = 0; i < batches; i++)
        {
            var conn = pool.GetConnection();
            total += conn.Execute("select 1");
            if (total >= limit)
            {
                break;
            }

            conn.Release();
        }

        return total;
    }
}
