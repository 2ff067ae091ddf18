using Prelude;

// Leak: the lease is kept in a nullable local and used with !; an early return on a flag skips the dispose.
public sealed class Forgiving
{
    private static int Count(ConnectionLease lease) => lease.Execute("select 1");

    public int Run(LeasePool pool, bool dryRun)
    {
        ConnectionLease? lease = pool.GetConnection();
        var rows = Count(lease!);
        if (dryRun)
        {
            return rows;
        }

        lease!.Dispose();
        return rows;
    }
}
