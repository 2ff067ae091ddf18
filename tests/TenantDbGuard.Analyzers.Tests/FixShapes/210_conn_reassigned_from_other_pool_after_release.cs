using Prelude;

// Leak: the second connection is never released when the check fails.
public sealed class Switcher
{
    public int Run(Pool a, Pool b, bool check)
    {
        var conn = a.GetConnection();
        var n = conn.Execute("select 1");
        conn.Release();
        conn = b.GetConnection();
        n += conn.Execute("select 2");
        if (check && n > 100)
        {
            return n;
        }

        conn.Release();
        return n;
    }
}
