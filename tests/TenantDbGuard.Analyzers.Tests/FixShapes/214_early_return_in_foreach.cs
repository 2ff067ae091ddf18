using System.Collections.Generic;
using MySqlConnector;

// Leak: a loop returns early with the connection of the current iteration still open.
public sealed class FirstNonEmpty
{
    public long Find(IEnumerable<MySqlDataSource> sources)
    {
        foreach (var source in sources)
        {
            var connection = source.OpenConnection();
            using var command = new MySqlCommand("select count(*) from customers", connection);
            var n = (long)command.ExecuteScalar()!;
            if (n > 0)
            {
                return n;
            }

            connection.Dispose();
        }

        return 0;
    }
}
