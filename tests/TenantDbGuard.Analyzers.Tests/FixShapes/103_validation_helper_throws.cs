using System;
using Prelude;

// Leak: a validation throws after the lease is taken; the release is only on the success path.
public sealed class Validate
{
    public int Run(Pool pool, int limit)
    {
        var lease = pool.GetConnection();
        var rows = lease.Execute("select 3");
        Ensure(rows <= limit, "too many rows");
        lease.Release();
        return rows;
    }

    private static void Ensure(bool condition, string message)
    {
        if (!condition)
        {
            throw new InvalidOperationException(message);
        }
    }
}
