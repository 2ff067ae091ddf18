using Prelude;

// Leak: a while (true) loop polls the queue and leaves with break; a failing poll skips the release after it.
public sealed class Poller
{
    public int Run(Pool pool)
    {
        var conn = pool.GetConnection();
        var polls = 0;
        while (true)
        {
            polls++;
            if (conn.Execute("select 1") >= 0 || polls > 3)
            {
                break;
            }
        }

        conn.Release();
        return polls;
    }
}
