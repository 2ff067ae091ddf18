using System;
using Prelude;

// Leak: released only when the update fails.
public sealed class Touch
{
    public void Run(Pool pool)
    {
        var conn = pool.GetConnection();
        try
        {
            conn.Execute("update tenants set seen = now()");
        }
        catch (InvalidOperationException)
        {
            conn.Release();
            throw;
        }
    }
}
