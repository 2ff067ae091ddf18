using System;
using MySqlConnector;

// Not a leak to fix: the transaction the class keeps needs the connection until Commit.
public sealed class UnitOfWork : IDisposable
{
    private MySqlTransaction _transaction;

    public void Begin(string connectionString)
    {
        var conn = new MySqlConnection(connectionString);
        conn.Open();
        _transaction = conn.BeginTransaction();
    }

    public void Commit()
    {
        using var command = new MySqlCommand("update orders set total = total", _transaction.Connection, _transaction);
        command.ExecuteNonQuery();
        _transaction.Commit();
    }

    public void Dispose()
    {
        var connection = _transaction?.Connection;
        _transaction?.Dispose();
        connection?.Dispose();
    }
}
