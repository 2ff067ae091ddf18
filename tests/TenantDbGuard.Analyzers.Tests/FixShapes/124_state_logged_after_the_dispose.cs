using MySqlConnector;

// Leak: an early return skips the dispose; after the dispose the state is logged.
public sealed class LogAfter
{
    public int Run(MySqlDataSource dataSource, bool quick)
    {
        var connection = dataSource.OpenConnection();
        var value = 0;
        using (var command = new MySqlCommand("select 1", connection))
        {
            value = System.Convert.ToInt32(command.ExecuteScalar());
        }

        if (quick)
        {
            return value;
        }

        connection.Dispose();
        Prelude.Log.Info("state " + connection.State);
        return value;
    }
}
