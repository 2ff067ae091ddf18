using Prelude;

// Leak: a switch releases in two of its sections; the default keeps the connection.
public sealed class Migrations
{
    public int Apply(Pool pool, int step)
    {
        var conn = pool.GetConnection();
        var rows = conn.Execute("select version from schema_info");
        switch (step)
        {
            case 1:
                rows += conn.Execute("alter table a add b int");
                conn.Release();
                break;
            case 2:
                conn.Release();
                break;
            default:
                Log.Info("nothing to do");
                break;
        }

        return rows;
    }
}
