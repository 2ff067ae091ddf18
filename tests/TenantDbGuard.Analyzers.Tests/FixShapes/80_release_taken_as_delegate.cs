// Leak: released through a local action bound to the connection's Release.
using System;
using Prelude;

public sealed class MethodGroup
{
    public int Run(Pool pool, bool fail)
    {
        var conn = pool.GetConnection();
        Action release = conn.Release;
        var n = conn.Execute("select 1");
        if (fail)
        {
            throw new InvalidOperationException("x");
        }

        release();
        return n;
    }
}
