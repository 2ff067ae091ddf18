using System;
using Prelude;

// Leak: a retry with goto takes a new lease without giving back the one that failed, and the success path keeps it too.
public sealed class Retries
{
    public int Run(Pool pool)
    {
        var attempts = 0;
    again:
        var lease = pool.GetConnection();
        try
        {
            return lease.Execute("update customers set name = name");
        }
        catch (InvalidOperationException) when (++attempts < 3)
        {
            goto again;
        }
    }
}
