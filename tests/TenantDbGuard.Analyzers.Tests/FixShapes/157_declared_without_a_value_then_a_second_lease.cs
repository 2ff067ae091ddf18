using Prelude;

// Leak: a failing update keeps the connection; after its release the method takes a second one for the audit.
public sealed class AuditedTouch
{
    public int Run(Pool pool, bool full)
    {
        var conn = pool.GetConnection();
        int rows;
        if (full)
        {
            rows = conn.Execute("update tenants set seen = now()");
        }
        else
        {
            rows = conn.Execute("update tenants set seen = now() where id = 1");
        }

        conn.Release();
        var audit = pool.GetConnection();
        try
        {
            audit.Execute("insert into audit_log (action, at) values ('touch', now())");
        }
        finally
        {
            audit.Release();
        }

        return rows;
    }
}
