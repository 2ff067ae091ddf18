using Prelude;

// Leak: two of the three cases return before the release.
public sealed class Switch
{
    public int Run(Pool pool, int kind)
    {
        var conn = pool.GetConnection();
        switch (kind)
        {
            case 0:
                return 0;
            case 1:
                return conn.Execute("select 1");
        }

        var rows = conn.Execute("select 2");
        conn.Release();
        return rows;
    }
}
