using MySqlConnector;
// Leak: closed after a using block, not when the command fails.
public sealed class S8
{
    public long Run(string connectionString)
    {
        var conn = new MySqlConnection(connectionString);
        conn.Open();
        long count;
        using (var command = new MySqlCommand("select count(*) from orders", conn))
        {
            count = (long)command.ExecuteScalar();
        }

        conn.Close();
        return count;
    }
}
