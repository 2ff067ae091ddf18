using Prelude;

// Leak: a throw from the command or the log skips the release.
public sealed class Logged
{
    public int Run(Pool pool, string tenant)
    {
        var conn = pool.GetConnection();
        var n = conn.Execute("update t set x = 1");
        Log.Info($"updated {n} rows for {tenant}");
        conn.Release();
        return n;
    }
}
