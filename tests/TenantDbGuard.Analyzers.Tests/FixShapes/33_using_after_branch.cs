using Prelude;

// Leak: the setup branch can fail before the using takes the lease.
public sealed class Prepared
{
    public int Run(LeasePool pool, bool setup)
    {
        var lease = pool.GetConnection();
        if (setup)
        {
            lease.Execute("set names utf8mb4");
        }

        using (lease)
        {
            return lease.Execute("select 1");
        }
    }
}
