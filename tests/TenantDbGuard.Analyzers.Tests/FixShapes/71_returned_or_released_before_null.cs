using Prelude;

// Leak: the command can fail before the connection is returned or released; each 'return null' already releases.
public sealed class Opener
{
    public PooledConnection? Open(Pool pool, bool closed, bool busy)
    {
        var conn = pool.GetConnection();
        var rows = conn.Execute("select 1");
        if (closed)
        {
            conn.Release();
            return null;
        }

        if (busy || rows > 100)
        {
            Log.Info("too many");
            conn.Release();
            return null;
        }

        return conn;
    }

    public int Run(Pool pool, bool closed, bool busy)
    {
        var opened = Open(pool, closed, busy);
        opened?.Release();
        return opened is null ? 0 : 1;
    }
}
