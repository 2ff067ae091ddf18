using MySqlConnector;

namespace Leaks;

/// <summary>
/// An older in-house pool whose connections go back with <see cref="LegacyConnection.Return"/>.
/// Neither name is one TDG001 knows; the .editorconfig beside this file names them.
/// </summary>
public sealed class LegacyPool
{
    private readonly string _connectionString;

    public LegacyPool(string connectionString)
    {
        _connectionString = connectionString;
    }

    public LegacyConnection Rent(string tenant) => new(_connectionString + ";Database=" + tenant);
}

public sealed class LegacyConnection
{
    private readonly MySqlConnection _connection;

    internal LegacyConnection(string connectionString)
    {
        _connection = new MySqlConnection(connectionString);
        _connection.Open();
    }

    public int Execute(string sql)
    {
        using var command = new MySqlCommand(sql, _connection);
        return command.ExecuteNonQuery();
    }

    public void Return() => _connection.Dispose();
}
