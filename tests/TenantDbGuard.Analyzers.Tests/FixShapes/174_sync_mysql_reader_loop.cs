using System.Collections.Generic;
using MySqlConnector;

// Leak: a reader loop adds names; a failing read skips the close of the connection.
public sealed class NameReader
{
    public static List<string> Read(string connectionString)
    {
        var names = new List<string>();
        var connection = new MySqlConnection(connectionString);
        connection.Open();
        using (var command = new MySqlCommand("select name from tenants", connection))
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                names.Add(reader.GetString(0));
            }
        }

        connection.Close();
        return names;
    }
}
