using MySqlConnector;

// Leak: a throw from the helper that reads keeps the connection open.
public sealed class Tuples
{
    public long Count(MySqlDataSource dataSource)
    {
        var connection = dataSource.OpenConnection();
        var (a, b) = Read(connection);
        connection.Close();
        return a + b;
    }

    private static (long, long) Read(MySqlConnection connection)
    {
        using var command = new MySqlCommand("select 1", connection);
        var n = (long)command.ExecuteScalar()!;
        return (n, n);
    }
}
