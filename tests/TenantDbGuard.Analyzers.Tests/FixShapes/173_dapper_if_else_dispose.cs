using System.Linq;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

// Leak: the connection is disposed in the else branch only; the if branch returns with it open.
public sealed class ProductNames
{
    public async Task<int> CountAsync(MySqlDataSource dataSource, bool cached)
    {
        var connection = await dataSource.OpenConnectionAsync();
        var names = await connection.QueryAsync<string>("select name from products");
        if (cached)
        {
            return names.Count();
        }
        else
        {
            await connection.DisposeAsync();
        }

        return names.Count();
    }
}
