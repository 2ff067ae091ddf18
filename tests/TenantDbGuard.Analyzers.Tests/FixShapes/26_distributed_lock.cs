using Prelude;

// Hand-off: the lock takes the connection; only a failure before that leaks.
public sealed class JobLock
{
    private readonly PooledConnection _conn;

    public JobLock(PooledConnection conn) => _conn = conn;

    public void Release()
    {
        _conn.Execute("select release_lock('jobs')");
        _conn.Release();
    }
}

public sealed class Jobs
{
    public JobLock Lock(Pool pool)
    {
        var conn = pool.GetConnection();
        conn.Execute("select get_lock('jobs', 1)");
        return new JobLock(conn);
    }
}
