using Prelude;

// Leak: the getter keeps the connection when the query fails.
public sealed class Stats
{
    private readonly LeasePool _pool = new LeasePool();

    public int Sessions
    {
        get
        {
            var lease = _pool.GetConnection();
            var count = lease.Execute("select count(*) from sessions");
            lease.Dispose();
            return count;
        }
    }
}
