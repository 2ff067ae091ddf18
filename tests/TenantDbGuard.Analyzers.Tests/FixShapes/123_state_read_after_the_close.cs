using System.Data;
using MySqlConnector;

// Leak: an early return skips the dispose; after the dispose the code reads the connection's state.
public sealed class StateAfter
{
    public string Run(MySqlDataSource dataSource, bool quick)
    {
        var connection = dataSource.OpenConnection();
        using (var command = new MySqlCommand("select 1", connection))
        {
            command.ExecuteScalar();
        }

        if (quick)
        {
            return "quick";
        }

        connection.Close();
        return connection.State == ConnectionState.Closed ? "closed" : "open";
    }
}
