using System;
using System.Collections.Generic;
using Prelude;

// Leak: the early yield break skips the release.
public sealed class Rows
{
    public IEnumerable<int> Read(Pool pool, int count)
    {
        var conn = pool.GetConnection();
        if (count == 0)
        {
            yield break;
        }

        for (var i = 0; i < count; i++)
        {
            yield return conn.Execute("select " + i);
        }

        conn.Release();
    }
}
