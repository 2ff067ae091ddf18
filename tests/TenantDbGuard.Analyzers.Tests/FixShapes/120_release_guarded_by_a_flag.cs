using Prelude;

// Leak: a flag keeps the release from running twice; the early return before either release keeps the lease.
public sealed class Flagged
{
    public int Run(Pool pool, int kind)
    {
        var lease = pool.GetConnection();
        var released = false;
        var rows = lease.Execute("select 1");
        if (kind == 1)
        {
            lease.Release();
            released = true;
        }

        if (kind == 2)
        {
            return rows;
        }

        if (!released)
        {
            lease.Release();
        }

        return rows;
    }
}
