using Prelude;

public static class ConnectionExtensions
{
    public static void Finish(this PooledConnection conn)
    {
        Log.Info("finishing");
        conn.Release();
    }
}

// Leak: the extension that releases is called on one path only.
public sealed class Sweeper
{
    public int Sweep(Pool pool, bool dry)
    {
        var conn = pool.GetConnection();
        if (dry)
        {
            return 0;
        }

        var n = conn.Execute("delete from sessions where expired");
        conn.Finish();
        return n;
    }
}
