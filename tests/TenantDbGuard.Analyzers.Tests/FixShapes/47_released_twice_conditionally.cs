using Prelude;

// Leak: the early exit for an empty queue releases, the normal path releases, a failure does not.
public sealed class Queue
{
    public int Drain(Pool pool)
    {
        var conn = pool.GetConnection();
        var pending = conn.Execute("select count(*) from queue where done = 0");
        if (pending > 0)
        {
            conn.Release();
            return 0;
        }

        var rows = conn.Execute("delete from queue where done = 1");
        conn.Release();
        return rows;
    }
}
