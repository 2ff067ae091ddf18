using Prelude;

// Leak: the lease goes to the caller when asked for, and is released otherwise; a failing query keeps it.
public sealed class MaybeKeep
{
    public PooledConnection Run(Pool pool, bool keep)
    {
        var lease = pool.GetConnection();
        lease.Execute("select 1");
        if (keep)
        {
            return lease;
        }

        lease.Execute("select 2");
        lease.Release();
        return null;
    }
}
