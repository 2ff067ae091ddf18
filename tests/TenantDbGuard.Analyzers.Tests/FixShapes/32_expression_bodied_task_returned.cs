using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

// No safe fix: the returned task is still using the connection when the method returns.
public sealed class ReturnedTask
{
    public Task<long> CountAsync(MySqlDataSource dataSource) => dataSource.OpenConnection().ExecuteScalarAsync<long>("select count(*) from customers");
}
