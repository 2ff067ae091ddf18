using Prelude;

// Leak: a Try method that opens, then returns false on one path without releasing what it opened.
public sealed class Opener
{
    public bool TryCount(Pool pool, int minimum, out int count)
    {
        var lease = pool.GetConnection();
        count = lease.Execute("select count(*) from jobs");
        if (count < minimum)
        {
            return false;
        }

        lease.Release();
        return true;
    }
}
