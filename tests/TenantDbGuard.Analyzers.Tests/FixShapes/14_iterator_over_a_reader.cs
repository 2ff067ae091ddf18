using System.Collections.Generic;
using MySqlConnector;

// Leak: the connection is closed only when the caller reads to the end.
public sealed class OrderNumbers
{
    public IEnumerable<string> All(string connectionString)
    {
        var conn = new MySqlConnection(connectionString);
        conn.Open();
        using var command = new MySqlCommand("select number from orders order by id", conn);
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            yield return reader.GetString(0);
        }

        conn.Close();
    }
}
