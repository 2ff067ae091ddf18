using Prelude;

// Leak: the local is declared first and assigned later; the early return keeps the lease.
public sealed class Totals
{
    public int Total(Pool pool, bool strict)
    {
        PooledConnection lease;
        var total = 0;
        lease = pool.GetConnection();
        total += lease.Execute("select count(*) from orders");
        if (strict && total == 0)
        {
            return -1;
        }

        lease.Release();
        return total;
    }
}
