using Prelude;

// Leak: the lease is checked with an empty property pattern before use; the failed check path returns early.
public sealed class PatternCheck
{
    public int Run(LeasePool pool, bool strict)
    {
        var lease = pool.GetConnection();
        if (lease.Connection is not { } connection)
        {
            return 0;
        }

        if (strict)
        {
            return -1;
        }

        var rows = lease.Execute("select 1");
        lease.Dispose();
        return rows;
    }
}
