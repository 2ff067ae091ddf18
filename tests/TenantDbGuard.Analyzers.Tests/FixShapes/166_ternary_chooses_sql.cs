using Prelude;

// Leak: a ternary picks the statement; a failing command skips the release.
public sealed class Purger
{
    public int Purge(Pool pool, bool hard)
    {
        var conn = pool.GetConnection();
        var rows = hard ? conn.Execute("delete from carts") : conn.Execute("update carts set deleted = 1");
        conn.Release();
        return rows;
    }
}
