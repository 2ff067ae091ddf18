using System;
using Prelude;

// Leak: the early return skips the release; the existing finally only logs.
public sealed class LogsInFinally
{
    public int Run(Pool pool, bool skip)
    {
        var conn = pool.GetConnection();
        try
        {
            if (skip)
            {
                return 0;
            }

            var n = conn.Execute("select 1");
            conn.Release();
            return n;
        }
        finally
        {
            Log.Info("done");
        }
    }
}
