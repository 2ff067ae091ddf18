using Prelude;

// Leak: the Try method returns false without giving the lease back.
public sealed class Counters
{
    public bool TryCount(Pool pool, string table, out int count)
    {
        var lease = pool.GetConnection();
        count = lease.Execute("select count(*) from " + table);
        if (table.Length > 8)
        {
            return false;
        }

        lease.Release();
        return true;
    }
}
