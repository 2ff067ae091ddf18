using Prelude;

// Leak: only one section of the switch gives the lease back.
public sealed class Archives
{
    public int Archive(Pool pool, string tier)
    {
        var lease = pool.GetConnection();
        switch (tier)
        {
            case "gold":
                var kept = lease.Execute("insert into audit_log (action, at) values ('archive', now())");
                lease.Release();
                return kept;
            default:
                lease.Execute("update customers set name = name");
                return 0;
        }
    }
}
