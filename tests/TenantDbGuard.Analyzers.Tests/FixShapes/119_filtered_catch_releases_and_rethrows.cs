using System;
using Prelude;

// Leak: a filtered catch releases and rethrows; an early return after the try keeps the lease.
public sealed class Filtered
{
    public int Run(Pool pool, bool quick)
    {
        var lease = pool.GetConnection();
        int rows;
        try
        {
            rows = lease.Execute("select 1");
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            lease.Release();
            throw;
        }

        if (quick)
        {
            return rows;
        }

        lease.Release();
        return rows;
    }
}
