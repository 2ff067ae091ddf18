using Prelude;

// Leak: the lease comes out of a Try method with out var; the tenant check returns before the release.
public sealed class TryLease
{
    private static bool TryGet(Pool pool, out PooledConnection conn)
    {
        conn = pool.GetConnection();
        return true;
    }

    public int Run(Pool pool, bool suspended)
    {
        if (!TryGet(pool, out var conn))
        {
            return 0;
        }

        if (suspended)
        {
            return -1;
        }

        var rows = conn.Execute("update tenants set seen = now()");
        conn.Release();
        return rows;
    }
}
