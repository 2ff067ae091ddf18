using MySqlConnector;

// Leak: if the session setup fails, nobody can dispose the connection.
public static class ReadOnlyConnections
{
    public static MySqlConnection Open(string connectionString)
    {
        var conn = new MySqlConnection(connectionString);
        conn.Open();
        using (var setup = new MySqlCommand("SET SESSION TRANSACTION READ ONLY", conn))
        {
            setup.ExecuteNonQuery();
        }

        return conn;
    }
}
