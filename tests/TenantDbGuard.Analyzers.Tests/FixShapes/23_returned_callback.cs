using System;
using Prelude;

// Not a leak to fix here: the returned callback uses the connection and releases it.
public sealed class Deferred
{
    public Func<int> Prepare(Pool pool)
    {
        var conn = pool.GetConnection();
        conn.Execute("set names utf8mb4");
        return () =>
        {
            var rows = conn.Execute("select 1");
            conn.Release();
            return rows;
        };
    }
}
