using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using MySqlConnector;

namespace Leaks;

/// <summary>The same kind of data access written so that every path releases its connection: TDG001 reports nothing here.</summary>
public sealed class CorrectTenantQueries
{
    private readonly TenantConnectionPool _pool;
    private readonly MySqlDataSource _master;
    private readonly LegacyPool _legacy;

    public CorrectTenantQueries(TenantConnectionPool pool, MySqlDataSource master, LegacyPool legacy)
    {
        _pool = pool;
        _master = master;
        _legacy = legacy;
    }

    public async Task<string?> LastOrderNumberAsync(string tenant, CancellationToken ct)
    {
        await using var conn = await _pool.GetConnectionAsync(tenant, ct);
        var count = await conn.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM orders", ct);
        if (count == 0)
        {
            return null;
        }

        return await conn.ExecuteScalarAsync<string>("SELECT number FROM orders ORDER BY id DESC LIMIT 1", ct);
    }

    public void PurgeExpiredSessions(IEnumerable<string> tenants)
    {
        foreach (var tenant in tenants)
        {
            var conn = _pool.GetConnection(tenant);
            try
            {
                if (conn.ExecuteScalar<int>("SELECT archived FROM settings") == 1)
                {
                    continue;
                }

                conn.Execute("DELETE FROM sessions WHERE expires_at < NOW()");
            }
            finally
            {
                conn.Release();
            }
        }
    }

    public async Task CopyPlanAsync(string tenant, CancellationToken ct)
    {
        await using var master = await _master.OpenConnectionAsync(ct);
        await using var conn = await _pool.GetConnectionAsync(tenant, ct);
        await using var read = new MySqlCommand("SELECT plan FROM tenants WHERE tenant_key = @tenant", master);
        read.Parameters.AddWithValue("@tenant", tenant);
        var plan = await read.ExecuteScalarAsync(ct);
        await using var write = new MySqlCommand("UPDATE settings SET plan = @plan", conn.Connection);
        write.Parameters.AddWithValue("@plan", plan);
        await write.ExecuteNonQueryAsync(ct);
    }

    public static int CountTenants(string connectionString)
    {
        using var conn = new MySqlConnection(connectionString);
        conn.Open();
        using var command = new MySqlCommand("SELECT COUNT(*) FROM tenants", conn);
        return (int)(long)command.ExecuteScalar()!;
    }

    // Dispose-on-failure: the caller owns the connection once it is returned, and nobody owns it if setup fails.
    public static async Task<MySqlConnection> OpenReadOnlyAsync(string connectionString, CancellationToken ct)
    {
        var conn = new MySqlConnection(connectionString);
        await conn.OpenAsync(ct);
        try
        {
            await using (var setup = new MySqlCommand("SET SESSION TRANSACTION READ ONLY", conn))
            {
                await setup.ExecuteNonQueryAsync(ct);
            }

            return conn;
        }
        catch
        {
            await conn.DisposeAsync();
            throw;
        }
    }

    public async Task ApplyMigrationAsync(IEnumerable<string> tenants, string script, CancellationToken ct)
    {
        foreach (var tenant in tenants)
        {
            TenantConnection? conn = null;
            try
            {
                conn = await _pool.GetConnectionAsync(tenant, ct);
                await conn.ExecuteAsync(script, ct);
            }
            finally
            {
                conn?.Release();
            }
        }
    }

    public void PurgeLegacyQueue(string tenant)
    {
        var conn = _legacy.Rent(tenant);
        try
        {
            conn.Execute("DELETE FROM queue WHERE done = 1");
        }
        finally
        {
            conn.Return();
        }
    }
}
