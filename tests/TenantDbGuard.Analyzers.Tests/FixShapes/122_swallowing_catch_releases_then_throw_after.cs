using System;
using Prelude;

// Leak: a catch that swallows releases and returns; the normal path releases at the end; a throw from the log keeps it.
public sealed class Swallow
{
    public int Run(Pool pool, int limit)
    {
        var lease = pool.GetConnection();
        int rows;
        try
        {
            rows = lease.Execute("select 1");
        }
        catch (InvalidOperationException)
        {
            lease.Release();
            return -1;
        }

        if (rows > limit)
        {
            throw new ArgumentOutOfRangeException(nameof(limit));
        }

        lease.Release();
        return rows;
    }
}
