using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

// Leak: disposed at the end without finally; the buffered rows do not need the connection.
public sealed class Customers
{
    public async Task<List<string>> NamesAsync(MySqlDataSource dataSource)
    {
        var conn = await dataSource.OpenConnectionAsync();
        var names = await conn.QueryAsync<string>("select name from customers order by id");
        await conn.DisposeAsync();
        return names.ToList();
    }
}
