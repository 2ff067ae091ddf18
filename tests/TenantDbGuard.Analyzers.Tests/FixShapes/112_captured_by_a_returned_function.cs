using System;
using Prelude;

// Leak: the lease is captured by a function handed to the caller, and not released when the setup fails.
public sealed class Deferred
{
    public Func<int> Prepare(Pool pool, bool fail)
    {
        var lease = pool.GetConnection();
        lease.Execute("set @x = 1");
        if (fail)
        {
            throw new InvalidOperationException("setup failed");
        }

        return () =>
        {
            var rows = lease.Execute("select 1");
            lease.Release();
            return rows;
        };
    }

    public int Run(Pool pool, bool fail) => Prepare(pool, fail)();
}
