using Prelude;

// Leak: the work sits in a checked block; an overflow keeps the lease.
public sealed class Checked
{
    public int Run(Pool pool, int factor)
    {
        var lease = pool.GetConnection();
        int rows;
        checked
        {
            rows = lease.Execute("select 1") * factor;
        }

        lease.Release();
        return rows;
    }
}
