using Prelude;

// Leak: released inside an if with more work after it; the else path keeps the lease.
public sealed class Partial
{
    public int Run(Pool pool, bool audit)
    {
        var lease = pool.GetConnection();
        var rows = lease.Execute("select 1");
        if (!audit)
        {
            lease.Release();
            Log.Info("released early");
        }

        Log.Info("done");
        return rows;
    }
}
