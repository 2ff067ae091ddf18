using System;
using Prelude;

// Leak: the finally releases only when the work succeeded.
public sealed class Stamp
{
    public int Run(Pool pool, bool twice)
    {
        var conn = pool.GetConnection();
        var ok = false;
        try
        {
            var n = conn.Execute("update tenants set seen = now()");
            if (twice)
            {
                n += conn.Execute("update tenants set seen = now()");
            }

            ok = true;
            return n;
        }
        finally
        {
            if (ok)
            {
                conn.Release();
            }
        }
    }
}
