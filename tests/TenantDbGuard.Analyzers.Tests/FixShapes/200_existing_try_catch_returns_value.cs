using System;
using Prelude;

// Leak: the catch returns without releasing; work after the try can fail on its own.
public sealed class CatchReturns
{
    public int Run(Pool pool)
    {
        var conn = pool.GetConnection();
        int n;
        try
        {
            n = conn.Execute("select count(*) from a");
        }
        catch (InvalidOperationException)
        {
            return -1;
        }

        n += conn.Execute("select count(*) from b");
        conn.Release();
        return n;
    }
}
