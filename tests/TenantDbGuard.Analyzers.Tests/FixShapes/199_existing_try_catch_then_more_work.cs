using System;
using Prelude;

// Leak: the early return after the guarded warm-up skips the release.
public sealed class WarmThenWork
{
    public int Run(Pool pool, bool quick)
    {
        var conn = pool.GetConnection();
        try
        {
            conn.Execute("select 1");
        }
        catch (InvalidOperationException)
        {
            Log.Info("warm-up failed");
        }

        if (quick)
        {
            return 0;
        }

        var n = conn.Execute("update t set n = n + 1");
        conn.Release();
        return n;
    }
}
