using Prelude;

// Leak: an inner try/catch logs a failure of the first statement; the early return after it keeps the lease.
public sealed class Logged
{
    public int Run(Pool pool, bool quick)
    {
        var lease = pool.GetConnection();
        var rows = 0;
        try
        {
            rows = lease.Execute("select 1");
        }
        catch (System.InvalidOperationException exception)
        {
            Log.Info(exception.Message);
        }

        if (quick)
        {
            return rows;
        }

        rows += lease.Execute("select 2");
        lease.Release();
        return rows;
    }
}
