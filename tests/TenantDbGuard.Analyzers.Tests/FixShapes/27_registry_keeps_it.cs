using System.Collections.Generic;
using Prelude;

// Not a leak to fix: the registry keeps every connection it is given.
public sealed class Registry
{
    private readonly List<PooledConnection> _all = new List<PooledConnection>();

    public void Track(PooledConnection connection) => _all.Add(connection);
}

public sealed class Tracked
{
    public void Open(Pool pool, Registry registry)
    {
        var conn = pool.GetConnection();
        registry.Track(conn);
        conn.Execute("select 1");
    }
}
