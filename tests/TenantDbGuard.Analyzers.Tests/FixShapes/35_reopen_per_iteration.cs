using System.Collections.Generic;
using System.Threading.Tasks;
using MySqlConnector;

// Leak: opened and closed in each iteration; a failure skips the close, and the connection is reused after.
public sealed class PerTenant
{
    public async Task<int> RunAsync(string connectionString, IEnumerable<string> tenants)
    {
        var conn = new MySqlConnection(connectionString);
        var total = 0;
        foreach (var tenant in tenants)
        {
            await conn.OpenAsync();
            await conn.ChangeDatabaseAsync(tenant);
            using (var command = new MySqlCommand("select count(*) from customers", conn))
            {
                total += System.Convert.ToInt32(await command.ExecuteScalarAsync());
            }

            await conn.CloseAsync();
        }

        await conn.DisposeAsync();
        return total;
    }
}
