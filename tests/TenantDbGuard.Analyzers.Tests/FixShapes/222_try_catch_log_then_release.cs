using System;
using Prelude;

// Leak: the catch handles only one exception type; any other skips the release.
public sealed class CatchLog
{
    public int Run(Pool pool)
    {
        var conn = pool.GetConnection();
        int n;
        try
        {
            n = conn.Execute("update t set x = 1");
        }
        catch (InvalidOperationException e)
        {
            Log.Info(e.Message);
            n = -1;
        }

        conn.Release();
        return n;
    }
}
