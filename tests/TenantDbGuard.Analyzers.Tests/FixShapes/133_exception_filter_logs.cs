using System;
using Prelude;

// Leak: an exception filter logs and lets the exception pass; the lease is released only after the try.
public sealed class FilterLogger
{
    private static bool Logged(Exception exception)
    {
        Log.Info(exception.GetType().Name);
        return false;
    }

    public int Run(Pool pool)
    {
        var conn = pool.GetConnection();
        int rows;
        try
        {
            rows = conn.Execute("update tenants set seen = now()");
        }
        catch (Exception exception) when (Logged(exception))
        {
            rows = 0;
        }

        conn.Release();
        return rows;
    }
}
