using Prelude;

// Leak: the release happens inside a lock that also counts; a failing command skips both.
public sealed class CountedWriter
{
    private readonly object _gate = new();
    private int _done;

    public int Write(Pool pool)
    {
        var conn = pool.GetConnection();
        var rows = conn.Execute("update counters set n = n + 1");
        lock (_gate)
        {
            _done++;
            conn.Release();
        }

        return rows + _done;
    }
}
