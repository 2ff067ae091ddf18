using System.Collections.Generic;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

// Leak: a caller that stops reading after the first customer leaves the connection open.
public sealed class CustomerStream
{
    public async IAsyncEnumerable<string> NamesAsync(MySqlDataSource dataSource)
    {
        var conn = await dataSource.OpenConnectionAsync();
        foreach (var name in await conn.QueryAsync<string>("select name from customers order by id"))
        {
            yield return name;
        }

        await conn.DisposeAsync();
    }
}
