using System;
using Prelude;

// Leak: the command can fail before the connection is returned; the code releases it itself before it throws.
public sealed class Checked
{
    public PooledConnection Open(Pool pool, bool empty)
    {
        var conn = pool.GetConnection();
        if (conn.Execute("select 1") < 0 || empty)
        {
            conn.Release();
            throw new InvalidOperationException("no rows");
        }

        return conn;
    }

    public int Run(Pool pool, bool empty)
    {
        try
        {
            var opened = Open(pool, empty);
            opened.Release();
            return 1;
        }
        catch (InvalidOperationException)
        {
            return 0;
        }
    }
}
