using Prelude;

// Leak: the release runs only when an audit call says so; the audit runs either way.
public sealed class AuditedWriter
{
    private int _audits;

    private bool Audit(string what)
    {
        _audits++;
        Log.Info(what);
        return _audits % 2 == 1;
    }

    public int Write(Pool pool)
    {
        var conn = pool.GetConnection();
        var rows = conn.Execute("insert into audit values (1)");
        if (Audit("written"))
        {
            conn.Release();
        }

        return rows;
    }
}
