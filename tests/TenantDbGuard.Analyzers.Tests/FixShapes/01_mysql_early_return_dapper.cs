using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

// Leak: the early return for an empty table skips the close.
public sealed class OrderLookup
{
    public async Task<string> LastOrderNumberAsync(string connectionString)
    {
        var conn = new MySqlConnection(connectionString);
        await conn.OpenAsync();
        var count = await conn.ExecuteScalarAsync<long>("select count(*) from orders where total < 0");
        if (count > 0)
        {
            return null;
        }

        var number = await conn.ExecuteScalarAsync<string>("select number from orders order by id desc limit 1");
        await conn.CloseAsync();
        return number;
    }
}
