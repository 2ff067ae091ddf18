using System;
using Prelude;

// Leak: a failed warm-up loses whichever connection the fallback gave, before it is returned.
public sealed class Opener
{
    public PooledConnection Open(Pool primary, Pool backup)
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

        conn.Execute("set @warm = 1");
        return conn;
    }
}
