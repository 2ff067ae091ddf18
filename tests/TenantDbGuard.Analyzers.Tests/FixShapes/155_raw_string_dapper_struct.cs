using System.Linq;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

// Leak: a struct repository runs a raw-string query with Dapper; a failing query skips the dispose.
public readonly struct CustomerReader
{
    private readonly MySqlDataSource _dataSource;

    public CustomerReader(MySqlDataSource dataSource) => _dataSource = dataSource;

    public async Task<int> CountAsync()
    {
        var connection = await _dataSource.OpenConnectionAsync();
        var names = await connection.QueryAsync<string>("""
            select name
            from customers
            order by id
            """);
        await connection.DisposeAsync();
        return names.Count();
    }
}
