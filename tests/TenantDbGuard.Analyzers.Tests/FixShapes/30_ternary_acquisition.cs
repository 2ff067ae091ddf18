using Prelude;

// Leak: a connection only when asked for, released at the end without finally.
public sealed class Optional
{
    public int Run(Pool pool, bool needed)
    {
        var conn = needed ? pool.GetConnection() : null;
        var rows = conn == null ? 0 : conn.Execute("select 1");
        if (conn != null)
        {
            conn.Release();
        }

        return rows;
    }
}
