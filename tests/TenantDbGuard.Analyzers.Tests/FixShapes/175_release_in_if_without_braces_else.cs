using Prelude;

// Leak: the release is the body of an if that has an else; on the else path nothing releases.
public sealed class Reconciler
{
    public int Reconcile(Pool pool, bool dryRun)
    {
        var conn = pool.GetConnection();
        var rows = conn.Execute("update balances set checked = 1");
        if (!dryRun)
            conn.Release();
        else
            Log.Info("dry run");

        return rows;
    }
}
