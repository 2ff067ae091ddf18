using System.Data;
using System.Data.Common;
using MySqlConnector;

// Hand-off: the reader owns the connection; only a failure before it exists leaks.
public sealed class CustomerReader
{
    public DbDataReader Open(string connectionString)
    {
        var conn = new MySqlConnection(connectionString);
        conn.Open();
        var command = new MySqlCommand("select id, name from customers order by id", conn);
        return command.ExecuteReader(CommandBehavior.CloseConnection);
    }
}
