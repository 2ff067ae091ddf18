using System;
using Prelude;

// Leak: the goto leaves the try before the release.
public sealed class Jumper
{
    public int Run(Pool pool, int limit)
    {
        var total = 0;
        var conn = pool.GetConnection();
        try
        {
            for (var i = 0; i < 5; i++)
            {
                total += conn.Execute("select 1");
                if (total > limit)
                {
                    goto done;
                }
            }

            conn.Release();
        }
        catch (InvalidOperationException)
        {
            conn.Release();
            throw;
        }

    done:
        return total;
    }
}
