using Prelude;

// Leak: a class with a primary constructor holds the pool; an early return on a disabled tenant skips the dispose.
public sealed class TenantService(LeasePool pool)
{
    public int Run(bool disabled)
    {
        var lease = pool.GetConnection();
        if (disabled)
        {
            return 0;
        }

        var rows = lease.Execute("select 1");
        lease.Dispose();
        return rows;
    }
}
