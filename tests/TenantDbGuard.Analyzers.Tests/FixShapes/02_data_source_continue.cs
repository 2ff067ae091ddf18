using Dapper;
using MySqlConnector;

// Leak: a failing delete skips the dispose, in every iteration.
public sealed class SessionPurge
{
    public int Purge(MySqlDataSource dataSource, string[] tenants)
    {
        var purged = 0;
        foreach (var tenant in tenants)
        {
            var conn = dataSource.OpenConnection();
            if (tenant.Length == 0)
            {
                continue;
            }

            purged += conn.Execute("delete from sessions where tenant = @tenant", new { tenant });
            conn.Dispose();
        }

        return purged;
    }
}
