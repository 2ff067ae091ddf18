using Prelude;

// Leak: a connection taken only on one branch is released only when its command succeeds.
public sealed class Conditional
{
    public int Run(Pool pool, bool work)
    {
        PooledConnection? conn = work ? pool.GetConnection() : null;
        var n = conn?.Execute("select 1") ?? 0;
        conn?.Release();
        return n;
    }
}
