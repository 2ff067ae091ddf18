using System.Collections.Generic;
using Prelude;

// Leak: a throw from any command of the loop skips the release.
public sealed class Batches
{
    public int Run(Pool pool, IReadOnlyList<int> ids)
    {
        var conn = pool.GetConnection();
        var total = 0;
        for (var i = 0; i < ids.Count; i++)
        {
            total += conn.Execute("delete from t where id = " + ids[i]);
        }

        conn.Release();
        return total;
    }
}
