using System;
using Prelude;

// Leak: a generic helper maps the count with a callback; a throwing callback skips the release.
public sealed class Queries
{
    public T Scalar<T>(Pool pool, string sql, Func<int, T> map)
    {
        var conn = pool.GetConnection();
        var count = conn.Execute(sql);
        var value = map(count);
        conn.Release();
        return value;
    }
}
