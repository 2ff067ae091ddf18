using Prelude;

// Leak: an early return for a tenant object that is not a string skips the dispose of the lease.
public sealed class TenantTouch
{
    public int Touch(LeasePool pool, object tenant)
    {
        var lease = pool.GetConnection();
        if (tenant is not string name)
        {
            return 0;
        }

        var rows = lease.Execute("update tenants set seen = now() where name = '" + name + "'");
        lease.Dispose();
        return rows;
    }
}
