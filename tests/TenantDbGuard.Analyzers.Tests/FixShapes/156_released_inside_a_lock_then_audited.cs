using Prelude;

// Leak: the connection is released inside a lock; a failing command keeps it. The audit after the lock takes a second one.
public sealed class LockedCounter
{
    private readonly object _gate = new();
    private int _total;

    public int Run(Pool pool)
    {
        var conn = pool.GetConnection();
        var rows = 0;
        lock (_gate)
        {
            rows = conn.Execute("update tenants set seen = now()");
            _total += rows;
            conn.Release();
        }

        var audit = pool.GetConnection();
        try
        {
            audit.Execute("insert into audit_log (action, at) values ('touch', now())");
        }
        finally
        {
            audit.Release();
        }

        return rows + _total;
    }
}
