using MySqlConnector;

// Leak: the master connection is overwritten by the tenant's before it is disposed.
public sealed class Regions
{
    public string Region(MySqlDataSource master, MySqlDataSource tenant)
    {
        var conn = master.OpenConnection();
        using (var command = new MySqlCommand("select tenant_key from tenants order by id limit 1", conn))
        {
            command.ExecuteScalar();
        }

        conn = tenant.OpenConnection();
        try
        {
            using var command = new MySqlCommand("select plan from tenants order by id limit 1", conn);
            return (string)command.ExecuteScalar();
        }
        finally
        {
            conn.Dispose();
        }
    }
}
