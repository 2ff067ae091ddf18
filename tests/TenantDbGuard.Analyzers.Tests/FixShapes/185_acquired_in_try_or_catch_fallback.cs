using System;
using Prelude;

// Leak: whichever pool gave the connection, an empty result returns without releasing it.
public sealed class Fallback
{
    public int Read(Pool primary, Pool backup, bool empty)
    {
        PooledConnection conn;
        try
        {
            conn = primary.GetConnection();
        }
        catch (InvalidOperationException)
        {
            conn = backup.GetConnection();
        }

        var n = conn.Execute("select 1");
        if (empty)
        {
            return 0;
        }

        conn.Release();
        return n;
    }
}
