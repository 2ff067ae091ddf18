using System;
using Prelude;

// Leak: the lease is taken inside a try whose catch returns; the early return after it keeps the lease.
public sealed class Guarded
{
    public int Run(Pool pool, bool quick)
    {
        PooledConnection lease;
        try
        {
            lease = pool.GetConnection();
        }
        catch (InvalidOperationException)
        {
            return -1;
        }

        var rows = lease.Execute("select 1");
        if (quick)
        {
            return rows;
        }

        lease.Release();
        return rows;
    }
}
