using System;
using Prelude;
// Leak: never released; the exception filter uses the connection too.
public sealed class S7
{
    public int Run(Pool pool)
    {
        var conn = pool.GetConnection();
        try
        {
            return conn.Execute("select 1");
        }
        catch (Exception) when (conn.Execute("select 2") == 0)
        {
            return -1;
        }
    }
}
