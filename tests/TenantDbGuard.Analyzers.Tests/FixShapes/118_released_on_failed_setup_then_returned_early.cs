using Prelude;

// Leak: setup failures release and rethrow, but an early return after the setup keeps the lease.
public sealed class SetupThenWork
{
    public int Run(Pool pool, bool quick)
    {
        var lease = pool.GetConnection();
        try
        {
            lease.Execute("set @tenant = 1");
        }
        catch
        {
            lease.Release();
            throw;
        }

        var rows = lease.Execute("select 1");
        if (quick)
        {
            return rows;
        }

        lease.Release();
        return rows;
    }
}
