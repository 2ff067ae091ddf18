using Prelude;

// Leak: a throw from the log or the command skips the dispose of the lease.
public sealed class LeaseIf
{
    public int Run(LeasePool pool, bool audit)
    {
        var lease = pool.GetConnection();
        if (audit)
        {
            Log.Info("audit");
        }

        var n = lease.Execute("select 1");
        lease.Dispose();
        return n;
    }
}
