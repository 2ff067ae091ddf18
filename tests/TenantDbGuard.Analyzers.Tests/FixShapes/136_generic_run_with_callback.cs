using System;
using Prelude;

// Leak: a generic method runs a callback on the lease; a callback that throws leaves the lease out.
public sealed class GenericRunner
{
    public static T Run<T>(Pool pool, Func<PooledConnection, T> work)
    {
        var conn = pool.GetConnection();
        conn.Execute("select 1");
        var result = work(conn);
        conn.Release();
        return result;
    }

    public static int Count(Pool pool) => Run(pool, c => c.Execute("select 2"));
}
