using Prelude;

// Leak: an endless loop ends with break after the work; the break before the release keeps the lease.
public sealed class Poller
{
    public int Run(Pool pool, int limit)
    {
        var polls = 0;
        while (true)
        {
            var lease = pool.GetConnection();
            var rows = lease.Execute("select 1");
            polls++;
            if (polls >= limit)
            {
                break;
            }

            lease.Release();
        }

        return polls;
    }
}
