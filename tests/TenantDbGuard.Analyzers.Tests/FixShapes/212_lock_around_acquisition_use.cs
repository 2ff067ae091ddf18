using MySqlConnector;

// Leak: opened and disposed inside a lock; a throw from the command keeps it open.
public sealed class Locked
{
    private readonly object _gate = new();

    public long Count(MySqlDataSource dataSource)
    {
        lock (_gate)
        {
            var connection = dataSource.OpenConnection();
            using var command = new MySqlCommand("select count(*) from customers", connection);
            var n = (long)command.ExecuteScalar()!;
            connection.Dispose();
            return n;
        }
    }
}
