using System;
using MySqlConnector;

// Not a connection: GetConnection here returns the shared data source.
public sealed class Tenants
{
    private readonly MySqlDataSource _shared;

    public Tenants(MySqlDataSource shared) => _shared = shared;

    public MySqlDataSource GetConnection() => _shared;
}

public sealed class CustomerCount
{
    public int Count(Tenants tenants)
    {
        var pool = tenants.GetConnection();
        using var conn = pool.OpenConnection();
        using var command = new MySqlCommand("select count(*) from customers", conn);
        return Convert.ToInt32(command.ExecuteScalar());
    }
}
