using Prelude;

// Leak: the connection is never kept, so nothing releases it; the statement declares what later code reads.
public sealed class Probe
{
    public int Parse(Pool pool)
    {
        int.TryParse(pool.GetConnection().Execute("select 1").ToString(), out var value);
        Log.Info("probed");
        return value;
    }
}
