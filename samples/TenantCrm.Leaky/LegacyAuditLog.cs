using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace TenantCrm.Leaky;

/// <summary>
/// An audit writer from before the runtime, on MySqlConnector directly, with one connection string per tenant: each
/// connection it forgets stays open on the server and in that tenant's pool.
/// </summary>
public sealed class LegacyAuditLog(string tenantConnectionString)
{
    // LEAK: opened without `await using`; the connection is never closed.
    public async Task WriteAsync(string action, CancellationToken ct)
    {
        var connection = new MySqlConnection(tenantConnectionString);
        await connection.OpenAsync(ct);
        await connection.ExecuteAsync("INSERT INTO audit_log (action, at) VALUES (@action, NOW())", new { action });
    }

    // Correct: `await using` closes the connection on every path.
    public async Task<long> CountAsync(CancellationToken ct)
    {
        await using var connection = new MySqlConnection(tenantConnectionString);
        await connection.OpenAsync(ct);
        return await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM audit_log");
    }
}
