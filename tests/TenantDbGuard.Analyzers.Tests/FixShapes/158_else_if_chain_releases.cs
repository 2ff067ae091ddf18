using Prelude;

// Leak: the release sits in one branch of an if/else-if chain; the other branches keep the connection.
public sealed class TenantQuota
{
    public int Check(Pool pool, string tenant)
    {
        var conn = pool.GetConnection();
        var used = conn.Execute("select count(*) from usage where tenant = '" + tenant + "'");
        if (used > 1000)
        {
            Log.Info("over quota: " + tenant);
        }
        else if (used == 0)
        {
            conn.Release();
        }
        else
        {
            Log.Info("within quota: " + tenant);
        }

        return used;
    }
}
