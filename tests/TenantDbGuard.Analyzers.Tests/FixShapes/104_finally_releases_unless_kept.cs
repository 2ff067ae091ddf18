using System.Collections.Generic;
using Prelude;

// Correct: the finally releases the lease unless it was kept in the list.
public sealed class Keeper
{
    private readonly List<PooledConnection> _kept = new();

    public int Run(Pool pool, bool keep, bool quick)
    {
        var lease = pool.GetConnection();
        var kept = false;
        try
        {
            var rows = lease.Execute("select 1");
            if (keep)
            {
                _kept.Add(lease);
                kept = true;
            }

            if (quick)
            {
                return rows;
            }

            return rows + 1;
        }
        finally
        {
            if (!kept)
            {
                lease.Release();
            }
        }
    }
}
