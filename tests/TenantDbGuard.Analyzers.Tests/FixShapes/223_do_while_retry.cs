using System;
using Prelude;

// Leak: a retry loop whose filtered catch lets other exceptions skip the release.
public sealed class Retry
{
    public int Run(Pool pool)
    {
        var attempt = 0;
        int n;
        do
        {
            var conn = pool.GetConnection();
            try
            {
                n = conn.Execute("update t set x = 1");
            }
            catch (InvalidOperationException) when (attempt < 2)
            {
                n = -1;
            }

            conn.Release();
            attempt++;
        }
        while (n < 0);

        return n;
    }
}
