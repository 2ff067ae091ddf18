using MySqlConnector;

// Leak: a repository is made from the connection on one path; a failing check before it keeps the connection.
public sealed class Repository
{
    public Repository(MySqlConnection connection) => Connection = connection;

    public MySqlConnection Connection { get; }

    public static Repository? Open(MySqlDataSource dataSource, bool check)
    {
        var connection = dataSource.OpenConnection();
        if (check)
        {
            using var command = new MySqlCommand("select 1", connection);
            if (System.Convert.ToInt32(command.ExecuteScalar()) != 1)
            {
                return null;
            }
        }

        return new Repository(connection);
    }

    public static int Run(MySqlDataSource dataSource, bool check)
    {
        var repository = Open(dataSource, check);
        using var connection = repository?.Connection;
        return repository is null ? 0 : 1;
    }
}
