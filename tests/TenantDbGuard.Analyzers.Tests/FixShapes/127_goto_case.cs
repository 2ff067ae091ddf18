using Prelude;

// Leak: a switch statement falls through with goto case; the default section returns before the release.
public sealed class PlanMigrator
{
    public int Run(Pool pool, bool premium)
    {
        var conn = pool.GetConnection();
        var step = premium ? 2 : 1;
        var rows = 0;
        switch (step)
        {
            case 2:
                rows += conn.Execute("update tenants set plan = 'premium'");
                goto case 1;
            case 1:
                rows += conn.Execute("update tenants set seen = now()");
                break;
            default:
                return rows;
        }

        if (rows == 0)
        {
            return 0;
        }

        conn.Release();
        return rows;
    }
}
