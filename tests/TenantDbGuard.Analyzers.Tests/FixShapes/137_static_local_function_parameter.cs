using Prelude;

// Leak: a static local function takes the lease as a parameter; its failure skips the release.
public sealed class StaticLocal
{
    public int Run(Pool pool, bool twice)
    {
        var conn = pool.GetConnection();
        var rows = Touch(conn);
        if (twice)
        {
            rows += Touch(conn);
        }

        conn.Release();
        return rows;

        static int Touch(PooledConnection c) => c.Execute("update tenants set seen = now()");
    }
}
