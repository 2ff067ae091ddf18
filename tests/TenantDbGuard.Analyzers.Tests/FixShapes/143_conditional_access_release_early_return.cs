using Prelude;

// Leak: released through ?. at the end; an early return on an empty result skips it.
public sealed class ConditionalRelease
{
    public int Run(Pool pool, bool skip)
    {
        PooledConnection? conn = pool.GetConnection();
        var rows = conn.Execute("select 1");
        if (skip)
        {
            return rows;
        }

        conn?.Release();
        return rows;
    }
}
