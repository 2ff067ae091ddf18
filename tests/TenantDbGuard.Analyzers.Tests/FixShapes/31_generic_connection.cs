using System;
using System.Data.Common;

// Leak: a generic connection type, closed at the end only.
public sealed class Generic
{
    public int Count<TConnection>(string connectionString) where TConnection : DbConnection, new()
    {
        var conn = new TConnection();
        conn.ConnectionString = connectionString;
        conn.Open();
        using var command = conn.CreateCommand();
        command.CommandText = "select count(*) from orders";
        var count = Convert.ToInt32(command.ExecuteScalar());
        conn.Close();
        return count;
    }
}
