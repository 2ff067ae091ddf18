using System.Threading;
using System.Threading.Tasks;
using MySqlConnector;

// Leak: the command is disposed, the connection it ran on is not.
public sealed class Counts
{
    public async Task<long> CountAsync(string connectionString, CancellationToken cancellationToken)
    {
        var connection = new MySqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new MySqlCommand("select count(*) from customers", connection);
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }
}
