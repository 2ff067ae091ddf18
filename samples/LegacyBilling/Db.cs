using System.Threading.Tasks;
using MySqlConnector;

namespace LegacyBilling;

/// <summary>The helpers every repository here calls: they open a connection and hand it to the caller.</summary>
public static class Db
{
    // A connection for one tenant, switched to its database before it is handed out.
    public static MySqlConnection OpenTenant(string connectionString, string tenant)
    {
        var connection = new MySqlConnection(connectionString);
        connection.Open();
        connection.ChangeDatabase(tenant);
        return connection;
    }

    public static async Task<MySqlConnection> OpenTenantAsync(string connectionString, string tenant)
    {
        var connection = new MySqlConnection(connectionString);
        await connection.OpenAsync();
        using (var command = new MySqlCommand("SET SESSION sql_mode = 'STRICT_TRANS_TABLES'", connection))
        {
            await command.ExecuteNonQueryAsync();
        }

        await connection.ChangeDatabaseAsync(tenant);
        return connection;
    }
}
