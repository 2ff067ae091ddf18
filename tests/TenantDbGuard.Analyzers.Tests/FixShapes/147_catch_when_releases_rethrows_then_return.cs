using System;
using Prelude;

// Leak: catch (Exception) when (...) releases and rethrows; other exceptions pass the catch and keep the lease.
public sealed class WhenRelease
{
    public int Run(Pool pool, bool strict)
    {
        var conn = pool.GetConnection();
        try
        {
            var rows = conn.Execute("update tenants set seen = now()");
            conn.Release();
            return rows;
        }
        catch (Exception) when (strict)
        {
            conn.Release();
            throw;
        }
    }
}
