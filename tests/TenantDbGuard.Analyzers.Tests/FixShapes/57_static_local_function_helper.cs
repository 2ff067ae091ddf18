using Prelude;
// Leak: released after a static local function that only uses it.
public sealed class S9
{
    public int Run(Pool pool)
    {
        var conn = pool.GetConnection();
        var rows = Work(conn);
        conn.Release();
        return rows;

        static int Work(PooledConnection c) => c.Execute("select 1");
    }
}
