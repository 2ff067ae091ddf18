using Prelude;

// Hand-off: the session keeps the connection in a field; a failing setup must give it back.
public sealed class Session
{
    private readonly PooledConnection _conn;

    public Session(Pool pool, string tenant)
    {
        var conn = pool.GetConnection();
        conn.Execute("use " + tenant);
        _conn = conn;
    }

    public int Count() => _conn.Execute("select count(*) from customers");
}
