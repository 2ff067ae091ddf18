using System;
using Prelude;

// Leak: the second statement's failure leaves with the connection.
public sealed class Swallow
{
    public int Run(Pool pool)
    {
        var conn = pool.GetConnection();
        var n = 0;
        try
        {
            n = conn.Execute("select 1");
        }
        catch
        {
            n = -1;
        }

        n += conn.Execute("select 2");
        conn.Release();
        return n;
    }
}
