using MySqlConnector;

// Leak: a using declaration of the transaction after the open; the connection is closed only after the commit.
public sealed class TransactionAfterOpen
{
    public static int Run(string connectionString)
    {
        var connection = new MySqlConnection(connectionString);
        connection.Open();
        using var transaction = connection.BeginTransaction();
        using var command = new MySqlCommand("update tenants set seen = now()", connection, transaction);
        var rows = command.ExecuteNonQuery();
        transaction.Commit();
        connection.Close();
        return rows;
    }
}
