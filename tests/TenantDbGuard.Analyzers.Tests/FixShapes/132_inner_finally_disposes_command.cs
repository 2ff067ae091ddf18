using System;
using MySqlConnector;

// Leak: an inner finally disposes the command, not the connection; a failing scalar leaves the connection open.
public sealed class TenantCount
{
    public static long Run(MySqlDataSource dataSource)
    {
        var connection = dataSource.OpenConnection();
        var command = new MySqlCommand("select count(*) from tenants", connection);
        long count;
        try
        {
            try
            {
                count = Convert.ToInt64(command.ExecuteScalar());
            }
            catch (MySqlException)
            {
                count = -1;
                throw;
            }
        }
        finally
        {
            command.Dispose();
        }

        connection.Dispose();
        return count;
    }
}
