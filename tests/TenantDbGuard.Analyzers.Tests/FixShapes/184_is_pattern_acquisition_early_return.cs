using Prelude;

// Leak: the pattern names the connection and the early return skips the release.
public sealed class Probe
{
    public int Count(Pool pool, bool quick)
    {
        if (pool.GetConnection() is { } conn)
        {
            var n = conn.Execute("select count(*) from orders");
            if (quick)
            {
                return n;
            }

            conn.Release();
            return n + 1;
        }

        return -1;
    }
}
