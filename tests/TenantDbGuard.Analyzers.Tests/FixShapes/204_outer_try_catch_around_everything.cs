using System;
using Prelude;

// Leak: the early return inside the outer try skips the release.
public sealed class Outer
{
    public int Run(Pool pool, bool skip)
    {
        try
        {
            var conn = pool.GetConnection();
            if (skip)
            {
                return 0;
            }

            var n = conn.Execute("select 1");
            conn.Release();
            return n;
        }
        catch (InvalidOperationException)
        {
            return -1;
        }
    }
}
