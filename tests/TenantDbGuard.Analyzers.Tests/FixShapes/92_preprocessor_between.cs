using Prelude;

// Leak: a debug-only early return between the lease and its release, inside #if.
public sealed class Sync
{
    public int Run(Pool pool, bool dryRun)
    {
        var lease = pool.GetConnection();
#if DEBUG
        Log.Info("sync starts");
#endif
        if (dryRun)
        {
            return 0;
        }

        var rows = lease.Execute("update accounts set synced = 1");
        lease.Release();
        return rows;
    }
}
