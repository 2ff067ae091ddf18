using System.Threading.Tasks;
using MySqlConnector;

// Leak: the reader is disposed by using, the connection it read from is not, on the early return.
public sealed class Reader
{
    public async Task<int> CountAsync(MySqlDataSource dataSource, int limit)
    {
        var connection = await dataSource.OpenConnectionAsync();
        var count = 0;
        await using (var command = new MySqlCommand("select id from customers", connection))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                if (++count >= limit)
                {
                    return count;
                }
            }
        }

        await connection.DisposeAsync();
        return count;
    }
}
