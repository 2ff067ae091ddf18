using System.Data;
using MySqlConnector;

// Leak: opened once inside the loop, closed after it; a failing statement skips the close.
public sealed class Batch
{
    public int Run(string connectionString, string[] statements)
    {
        var conn = new MySqlConnection(connectionString);
        var done = 0;
        foreach (var sql in statements)
        {
            if (conn.State == ConnectionState.Closed)
            {
                conn.Open();
            }

            using var command = new MySqlCommand(sql, conn);
            command.ExecuteScalar();
            done++;
        }

        conn.Close();
        return done;
    }
}
