using System.Threading;
using System.Threading.Tasks;
using MySqlConnector;

// Leak: a factory that hands its caller an open connection loses it when the setup statement fails.
public sealed class Sessions
{
    public async Task<MySqlConnection> OpenAsync(string connectionString, CancellationToken cancellationToken)
    {
        var connection = new MySqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using (var command = new MySqlCommand("select count(*) from customers", connection))
        {
            await command.ExecuteScalarAsync(cancellationToken);
        }

        return connection;
    }
}
