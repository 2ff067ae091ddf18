// Leak: released with conn!.Release() at the end only.
using Prelude;

public sealed class Bang
{
    public int Run(Pool pool, bool fail)
    {
        PooledConnection? conn = pool.GetConnection();
        var n = conn!.Execute("select 1");
        if (fail)
        {
            throw new System.InvalidOperationException("x");
        }

        conn!.Release();
        return n;
    }
}
