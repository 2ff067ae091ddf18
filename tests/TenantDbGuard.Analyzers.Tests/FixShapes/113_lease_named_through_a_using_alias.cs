using Prelude;
using Lease = Prelude.ConnectionLease;

// Leak: a disposable lease named through a using alias; an early return skips its dispose.
public sealed class Aliased
{
    public int Run(LeasePool pool, bool quick)
    {
        Lease lease = pool.GetConnection();
        var rows = lease.Execute("select 1");
        if (quick)
        {
            return rows;
        }

        lease.Dispose();
        return rows;
    }
}
