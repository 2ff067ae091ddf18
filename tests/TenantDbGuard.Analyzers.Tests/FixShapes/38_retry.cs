using System;
using Prelude;

// Leak: the retry disposes and takes a new lease, but the last one is never disposed.
public sealed class Retry
{
    public int Run(LeasePool pool)
    {
        var lease = pool.GetConnection();
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return lease.Execute("select 1");
            }
            catch (Exception) when (attempt < 2)
            {
                lease.Dispose();
                lease = pool.GetConnection();
            }
        }
    }
}
