using System;
using MySqlConnector;

// Leak: the command is a using declaration but the connection is closed only after the try/catch succeeds.
public sealed class SettingsStore
{
    public static int Save(string connectionString, string key)
    {
        var connection = new MySqlConnection(connectionString);
        connection.Open();
        using var command = new MySqlCommand("update settings set value = 1 where name = @key", connection);
        command.Parameters.AddWithValue("@key", key);
        int rows;
        try
        {
            rows = command.ExecuteNonQuery();
        }
        catch (MySqlException)
        {
            rows = -1;
        }

        connection.Close();
        return rows;
    }
}
