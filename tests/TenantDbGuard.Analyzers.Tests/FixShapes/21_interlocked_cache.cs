using System.Threading;
using Prelude;

// Not a leak to fix: the first lease is published to a field and reused by later calls.
public sealed class CachedLease
{
    private ConnectionLease _cached;

    public int Query(LeasePool pool)
    {
        var lease = pool.GetConnection();
        if (Interlocked.CompareExchange(ref _cached, lease, null) != null)
        {
            lease.Dispose();
        }

        return _cached.Execute("select 1");
    }
}
