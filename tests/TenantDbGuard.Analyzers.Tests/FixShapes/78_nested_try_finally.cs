// Leak: nested try/finally that logs, the release after the outer try only.
using System;
using Prelude;

public sealed class Nested
{
    public int Run(Pool pool, bool fail)
    {
        var conn = pool.GetConnection();
        int n;
        try
        {
            try
            {
                n = conn.Execute("select 1");
                if (fail)
                {
                    throw new InvalidOperationException("inner");
                }
            }
            finally
            {
                Log.Info("inner done");
            }
        }
        finally
        {
            Log.Info("outer done");
        }

        conn.Release();
        return n;
    }
}
