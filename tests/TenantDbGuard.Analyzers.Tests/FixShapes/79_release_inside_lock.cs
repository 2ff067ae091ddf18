// Leak: the release sits in a lock after the work, acquisition outside it.
using Prelude;

public sealed class LockRelease
{
    private readonly object _gate = new();
    private int _total;

    public int Run(Pool pool, bool fail)
    {
        var conn = pool.GetConnection();
        var n = conn.Execute("select 1");
        if (fail)
        {
            throw new System.InvalidOperationException("x");
        }

        lock (_gate)
        {
            _total += n;
            conn.Release();
        }

        return _total;
    }
}
