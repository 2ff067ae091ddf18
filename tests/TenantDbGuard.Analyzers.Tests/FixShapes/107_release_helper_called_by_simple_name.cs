using Prelude;

// Leak: given back through a static helper named Release on the class; an early return skips it.
public sealed class Returner
{
    public int Run(Pool pool, bool quick)
    {
        var lease = pool.GetConnection();
        var rows = lease.Execute("select 1");
        if (quick)
        {
            return rows;
        }

        Release(lease);
        return rows;
    }

    private static void Release(PooledConnection lease) => lease.Release();
}
