using Prelude;
// Leak: released at the end of a switch section, not when the query fails.
public sealed class S1
{
    public int Run(Pool pool, int kind)
    {
        switch (kind)
        {
            case 2:
                var conn = pool.GetConnection();
                var rows = conn.Execute("select 1");
                conn.Release();
                return rows;
            default:
                return 0;
        }
    }
}
