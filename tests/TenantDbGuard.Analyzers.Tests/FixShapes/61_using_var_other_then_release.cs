using Prelude;
// Leak: one connection under a using, the other released at the end only.
public sealed class S13
{
    public int Run(Pool pool, LeasePool leases)
    {
        using var lease = leases.GetConnection();
        var conn = pool.GetConnection();
        var rows = conn.Execute("select 1") + lease.Execute("select 2");
        conn.Release();
        return rows;
    }
}
