using Prelude;

// Leak: the conditional expression returns before the release on one side.
public sealed class Ternary
{
    public int Run(Pool pool, bool cached, int cache)
    {
        var conn = pool.GetConnection();
        if (cached)
        {
            return cache > 0 ? cache : conn.Execute("select count(*) from orders");
        }

        var n = conn.Execute("select count(*) from orders");
        conn.Release();
        return n;
    }
}
