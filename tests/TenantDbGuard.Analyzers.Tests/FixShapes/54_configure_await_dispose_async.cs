using System.Threading.Tasks;
using Dapper;
using MySqlConnector;
// Leak: disposed at the end without finally, with ConfigureAwait(false) throughout.
public sealed class S6
{
    public async Task<long> CountAsync(MySqlDataSource dataSource)
    {
        var conn = await dataSource.OpenConnectionAsync().ConfigureAwait(false);
        var count = await conn.ExecuteScalarAsync<long>("select count(*) from customers").ConfigureAwait(false);
        await conn.DisposeAsync().ConfigureAwait(false);
        return count;
    }
}
