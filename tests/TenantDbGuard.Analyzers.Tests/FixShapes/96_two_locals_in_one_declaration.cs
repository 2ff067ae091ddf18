using Prelude;

// Leak: two leases declared in one statement; an early return skips the second one's release.
public sealed class Copier
{
    public int Copy(Pool source, Pool target, bool skip)
    {
        PooledConnection from = source.GetConnection(), to = target.GetConnection();
        var rows = from.Execute("select count(*) from items");
        from.Release();
        if (skip)
        {
            return 0;
        }

        rows += to.Execute("insert into items_copy select * from items");
        to.Release();
        return rows;
    }
}
