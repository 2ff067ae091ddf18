using System.Threading.Tasks;
using MySqlConnector;

// Hand-off: the helper returns the connection it opened; a failing setup must dispose it.
public sealed class Helpers
{
    public async Task<MySqlConnection> OpenTenantAsync(MySqlDataSource dataSource, string tenant)
    {
        var conn = await dataSource.OpenConnectionAsync();
        await conn.ChangeDatabaseAsync(tenant);
        using (var command = new MySqlCommand("set names utf8mb4", conn))
        {
            await command.ExecuteNonQueryAsync();
        }

        return conn;
    }
}
