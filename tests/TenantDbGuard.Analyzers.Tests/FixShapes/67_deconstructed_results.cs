using Prelude;

// Leak: an early return skips the release; a deconstruction declares what the code reads after it.
public sealed class Counts
{
    public int Both(Pool pool, bool early)
    {
        var conn = pool.GetConnection();
        var (open, closed) = (conn.Execute("select 1"), conn.Execute("select 2"));
        if (early)
        {
            return 0;
        }

        conn.Release();
        Log.Info("counted");
        return open + closed;
    }
}
