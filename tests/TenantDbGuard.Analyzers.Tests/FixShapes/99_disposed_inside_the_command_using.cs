using MySqlConnector;

// Leak: the connection is disposed inside the command's using block; a throw from the command keeps it open.
public sealed class Inside
{
    public long Count(MySqlDataSource dataSource, bool twice)
    {
        var connection = dataSource.OpenConnection();
        long total;
        using (var command = new MySqlCommand("select count(*) from customers", connection))
        {
            total = (long)command.ExecuteScalar()!;
            if (twice)
            {
                total += (long)command.ExecuteScalar()!;
            }

            connection.Dispose();
        }

        return total;
    }
}
