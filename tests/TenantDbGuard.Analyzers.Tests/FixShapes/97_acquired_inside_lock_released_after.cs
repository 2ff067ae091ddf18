using Prelude;

// Leak: acquired inside a lock and released after it; a throw inside the lock keeps it.
public sealed class Serialized
{
    private readonly object _gate = new();

    public int Run(Pool pool, int limit)
    {
        PooledConnection lease;
        int rows;
        lock (_gate)
        {
            lease = pool.GetConnection();
            rows = lease.Execute("select count(*) from queue");
            if (rows > limit)
            {
                throw new System.InvalidOperationException("queue too long");
            }
        }

        lease.Release();
        return rows;
    }
}
