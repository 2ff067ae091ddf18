using Prelude;

// Leak: the first statement runs before the try that releases.
public sealed class Totals
{
    public int Sum(Pool pool, bool more)
    {
        var conn = pool.GetConnection();
        var rows = conn.Execute("select 1");
        try
        {
            if (more)
            {
                rows += conn.Execute("select 2");
            }
        }
        finally
        {
            conn.Release();
        }

        return rows;
    }
}
