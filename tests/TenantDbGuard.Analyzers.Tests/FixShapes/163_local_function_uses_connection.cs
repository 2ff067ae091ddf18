using Prelude;

// Leak: a local function runs the commands; a failure in the second skips the release.
public sealed class Archiver
{
    public int Archive(Pool pool, int days)
    {
        var conn = pool.GetConnection();
        int Run(string sql) => conn.Execute(sql);
        var moved = Run("insert into archive select * from events where age > " + days);
        var removed = Run("delete from events where age > " + days);
        conn.Release();
        return moved + removed;
    }
}
