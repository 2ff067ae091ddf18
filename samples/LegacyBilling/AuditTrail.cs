using Dapper;
using MySqlConnector;

namespace LegacyBilling;

/// <summary>An audit writer that opens its connection on first use and keeps it: nothing ever gives it back.</summary>
public sealed class AuditTrail
{
    private readonly string _connectionString;
    private MySqlConnection? _connection;

    public AuditTrail(string connectionString) => _connectionString = connectionString;

    public void Write(string tenant, string eventName)
    {
        if (_connection is null)
        {
            _connection = new MySqlConnection(_connectionString);
            _connection.Open();
        }

        _connection.ChangeDatabase(tenant);
        _connection.Execute("INSERT INTO audit (event) VALUES (@eventName)", new { eventName });
    }
}
