using Prelude;

// Leak: two sections of the switch return before the release.
public sealed class Router
{
    public string Route(Pool pool, int kind, bool audit)
    {
        var conn = pool.GetConnection();
        switch (kind)
        {
            case 0 when audit:
                conn.Execute("insert into audit values (0)");
                return "audited";
            case 1:
                return "skipped";
            default:
                conn.Execute("select 1");
                break;
        }

        conn.Release();
        return "done";
    }
}
