using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using MySqlConnector;

namespace Leaks;

/// <summary>
/// Data access as it is often first written. Every method here keeps a connection on at least one path,
/// and TDG001 reports each one on the call that acquires it.
/// </summary>
public sealed class LeakyTenantQueries
{
    private readonly TenantConnectionPool _pool;
    private readonly MySqlDataSource _master;
    private readonly LegacyPool _legacy;

    public LeakyTenantQueries(TenantConnectionPool pool, MySqlDataSource master, LegacyPool legacy)
    {
        _pool = pool;
        _master = master;
        _legacy = legacy;
    }

    // Released at the end without finally: when ANALYZE fails for one tenant, that tenant's connection is never released.
    public Task RefreshStatisticsAsync(IEnumerable<string> tenants, CancellationToken cancellationToken) =>
        Parallel.ForEachAsync(tenants, cancellationToken, async (tenant, ct) =>
        {
            var conn = await _pool.GetConnectionAsync(tenant, ct);
            await conn.ExecuteAsync("ANALYZE TABLE orders", ct);
            conn.Release();
        });

    // The early return for a tenant without orders skips the release.
    public async Task<string?> LastOrderNumberAsync(string tenant, CancellationToken ct)
    {
        var conn = await _pool.GetConnectionAsync(tenant, ct);
        var count = await conn.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM orders", ct);
        if (count == 0)
        {
            return null;
        }

        var number = await conn.ExecuteScalarAsync<string>("SELECT number FROM orders ORDER BY id DESC LIMIT 1", ct);
        conn.Release();
        return number;
    }

    // `continue` skips the release: every archived tenant keeps its connection.
    public void PurgeExpiredSessions(IEnumerable<string> tenants)
    {
        foreach (var tenant in tenants)
        {
            var conn = _pool.GetConnection(tenant);
            if (conn.ExecuteScalar<int>("SELECT archived FROM settings") == 1)
            {
                continue;
            }

            conn.Execute("DELETE FROM sessions WHERE expires_at < NOW()");
            conn.Release();
        }
    }

    // Released only in the catch: when the update succeeds, the connection is kept.
    public async Task TouchTenantAsync(string tenant, CancellationToken ct)
    {
        var conn = await _pool.GetConnectionAsync(tenant, ct);
        try
        {
            await conn.ExecuteAsync("UPDATE settings SET touched_at = NOW()", ct);
        }
        catch (MySqlException)
        {
            conn.Release();
            throw;
        }
    }

    // The release sits in the try and the catch swallows the error: a failed insert keeps the connection.
    public async Task<bool> TryRecordLoginAsync(string tenant, CancellationToken ct)
    {
        var conn = await _pool.GetConnectionAsync(tenant, ct);
        try
        {
            await conn.ExecuteAsync("INSERT INTO logins (at) VALUES (NOW())", ct);
            conn.Release();
            return true;
        }
        catch (MySqlException)
        {
            return false;
        }
    }

    // Released only when auditing is on: with audit == false the connection is never given back.
    public void ResetPasswords(string tenant, bool audit)
    {
        var conn = _pool.GetConnection(tenant);
        conn.Execute("UPDATE users SET must_change_password = 1");
        if (audit)
        {
            conn.Execute("INSERT INTO audit (event) VALUES ('passwords reset')");
            conn.Release();
        }
    }

    // "Warming up" by opening a connection and dropping it: nothing can ever release it.
    public async Task WarmUpAsync(CancellationToken ct)
    {
        await _master.OpenConnectionAsync(ct);
    }

    // The master connection is overwritten by the tenant's before it is released.
    public async Task<string?> TenantRegionAsync(string tenant, CancellationToken ct)
    {
        var conn = await _master.OpenConnectionAsync(ct);
        var database = await ScalarAsync<string>(conn, "SELECT database_name FROM tenants WHERE tenant_key = @tenant", tenant, ct);
        conn = await _pool.DataSourceFor(database ?? tenant).OpenConnectionAsync(ct);
        try
        {
            return await ScalarAsync<string>(conn, "SELECT region FROM settings WHERE tenant_key = @tenant", tenant, ct);
        }
        finally
        {
            await conn.DisposeAsync();
        }
    }

    // A new connection on every iteration, but only the last one is released after the loop.
    public async Task ApplyMigrationAsync(IEnumerable<string> tenants, string script, CancellationToken ct)
    {
        TenantConnection? conn = null;
        foreach (var tenant in tenants)
        {
            conn = await _pool.GetConnectionAsync(tenant, ct);
            await conn.ExecuteAsync(script, ct);
        }

        conn?.Release();
    }

    // If the tenant connection cannot be had, the master connection taken just before the try leaks.
    public async Task CopyPlanAsync(string tenant, CancellationToken ct)
    {
        var master = await _master.OpenConnectionAsync(ct);
        var conn = await _pool.GetConnectionAsync(tenant, ct);
        try
        {
            var plan = await ScalarAsync<string>(master, "SELECT plan FROM tenants WHERE tenant_key = @tenant", tenant, ct);
            await ExecuteAsync(conn.Connection, "UPDATE settings SET plan = @value", plan, ct);
        }
        finally
        {
            conn.Release();
            await master.DisposeAsync();
        }
    }

    // A factory that runs session setup after OpenAsync: if the setup fails, the caller never gets the connection to dispose.
    public static async Task<MySqlConnection> OpenReadOnlyAsync(string connectionString, CancellationToken ct)
    {
        var conn = new MySqlConnection(connectionString);
        await conn.OpenAsync(ct);
        await using (var setup = new MySqlCommand("SET SESSION TRANSACTION READ ONLY", conn))
        {
            await setup.ExecuteNonQueryAsync(ct);
        }

        return conn;
    }

    // Rent is an acquisition and Return a release only through .editorconfig; a failing DELETE skips the Return.
    public void PurgeLegacyQueue(string tenant)
    {
        var conn = _legacy.Rent(tenant);
        conn.Execute("DELETE FROM queue WHERE done = 1");
        conn.Return();
    }

    private static async Task ExecuteAsync(MySqlConnection connection, string sql, object? value, CancellationToken ct)
    {
        await using var command = new MySqlCommand(sql, connection);
        command.Parameters.AddWithValue("@value", value);
        await command.ExecuteNonQueryAsync(ct);
    }

    private static async Task<T?> ScalarAsync<T>(MySqlConnection connection, string sql, string tenant, CancellationToken ct)
    {
        await using var command = new MySqlCommand(sql, connection);
        command.Parameters.AddWithValue("@tenant", tenant);
        return await command.ExecuteScalarAsync(ct) is T value ? value : default;
    }
}
