using Prelude;

// Leak: a do/while retries a command on the lease; a command that fails on its last try skips the release.
public sealed class DoRetry
{
    public int Run(Pool pool)
    {
        var conn = pool.GetConnection();
        var attempts = 0;
        int rows;
        do
        {
            attempts++;
            rows = conn.Execute("update queue set done = 1 where done = 0");
        }
        while (rows < 0 && attempts < 3);

        conn.Release();
        return rows + attempts;
    }
}
