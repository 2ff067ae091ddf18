using System.Collections.Generic;
using Prelude;

// Leak: an iterator holds a lease and stops with yield break before releasing it.
public sealed class Stream
{
    public IEnumerable<int> Rows(Pool pool, int count)
    {
        var lease = pool.GetConnection();
        for (var i = 0; i < count; i++)
        {
            var row = lease.Execute("select 1");
            if (row > 5)
            {
                yield break;
            }

            yield return row;
        }

        lease.Release();
    }

    public int Run(Pool pool, int count)
    {
        var total = 0;
        foreach (var row in Rows(pool, count))
        {
            total += row;
        }

        return total;
    }
}
