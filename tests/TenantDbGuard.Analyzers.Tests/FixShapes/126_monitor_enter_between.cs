using System.Threading;
using Prelude;

// Leak: a Monitor.Enter/Exit pair guards a counter between the acquisition and the release; a quota check returns early.
public sealed class QuotaGate
{
    private readonly object _gate = new();
    private int _calls;

    public int Run(Pool pool, bool overQuota)
    {
        var conn = pool.GetConnection();
        Monitor.Enter(_gate);
        try
        {
            _calls++;
        }
        finally
        {
            Monitor.Exit(_gate);
        }

        if (overQuota)
        {
            return -1;
        }

        var rows = conn.Execute("update tenants set seen = now()");
        conn.Release();
        return rows + _calls;
    }
}
