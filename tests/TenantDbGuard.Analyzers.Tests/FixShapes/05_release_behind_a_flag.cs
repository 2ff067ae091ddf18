using Prelude;

// Leak: released only when auditing is on.
public sealed class Passwords
{
    public void Reset(LeasePool pool, bool audit)
    {
        var lease = pool.GetConnection();
        lease.Execute("update customers set name = name");
        if (audit)
        {
            lease.Execute("insert into audit_log (action, at) values ('reset', now())");
            lease.Dispose();
        }
    }
}
