using System;
using System.Collections.Generic;
using System.Data;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace ValidCode;

public sealed class ReleaseThenReuse
{
    private readonly TenantDataSources _sources;
    private readonly TenantPools _pools;
    private readonly TenantConnectionFactory _factory;

    public ReleaseThenReuse(TenantDataSources sources, TenantPools pools, TenantConnectionFactory factory)
    {
        _sources = sources;
        _pools = pools;
        _factory = factory;
    }

    // Close, then open again on the same object, then close for good.
    public int CloseAndReopen(string connectionString)
    {
        using var connection = new MySqlConnection(connectionString);
        connection.Open();
        var first = connection.ExecuteScalar<int>("SELECT 1");
        connection.Close();
        connection.Open();
        var second = connection.ExecuteScalar<int>("SELECT 2");
        connection.Close();
        return first + second;
    }

    // Released, set to null, tested later.
    public async Task<bool> ReleaseAndForgetAsync(string tenant, CancellationToken ct)
    {
        MySqlConnection? connection = await _sources.GetDataSource(tenant).OpenConnectionAsync(ct);
        try
        {
            await connection.ExecuteAsync("SELECT 1");
        }
        finally
        {
            await connection.DisposeAsync();
            connection = null;
        }

        return connection is null;
    }

    // A value read from the lease before the release is used after it.
    public async Task<string> TenantOfAsync(TenantDatabase db, string tenant, CancellationToken ct)
    {
        var lease = await db.GetConnectionAsync(tenant, ct);
        var name = lease.Tenant;
        await lease.DisposeAsync();
        return name;
    }

    // A loop that takes a fresh connection each turn into the same variable, releasing the previous first.
    public int Rotate(IReadOnlyList<string> tenants)
    {
        var total = 0;
        MySqlConnection? connection = null;
        try
        {
            foreach (var tenant in tenants)
            {
                connection?.Dispose();
                connection = _factory.Open(tenant);
                total += connection.Execute("UPDATE heartbeat SET at = NOW()");
            }
        }
        finally
        {
            connection?.Dispose();
        }

        return total;
    }

    // A pooled lease given back, then a new one taken into the same variable in a retry loop.
    public async Task<int> RetryAsync(string tenant, CancellationToken ct)
    {
        for (var attempt = 0; ; attempt++)
        {
            var pooled = await _pools.For(tenant).GetConnectionAsync(ct);
            try
            {
                return await pooled.ExecuteAsync("UPDATE counters SET n = n + 1", cancellationToken: ct);
            }
            catch (MySqlException e) when (e.IsTransient && attempt < 3)
            {
                await Task.Delay(50 * (attempt + 1), ct);
            }
            finally
            {
                pooled.Release();
            }
        }
    }

    // The state of a connection read after it was disposed (allowed on MySqlConnection).
    public ConnectionState StateAfterDispose(string tenant)
    {
        var connection = _factory.Open(tenant);
        connection.Dispose();
        return connection.State;
    }

    // A reader that closes the connection (CloseConnection) inside the connection's own using.
    public async Task<List<string>> ReaderOwnsAsync(string tenant, CancellationToken ct)
    {
        var names = new List<string>();
        await using var connection = await _sources.GetDataSource(tenant).OpenConnectionAsync(ct);
        await using var command = new MySqlCommand("SELECT name FROM customers", connection);
        await using (var reader = await command.ExecuteReaderAsync(CommandBehavior.CloseConnection, ct))
        {
            while (await reader.ReadAsync(ct))
            {
                names.Add(reader.GetString(0));
            }
        }

        return names;
    }

    // Two connections, the first released before the second is taken, under different names.
    public async Task<long> SequentialAsync(string a, string b, CancellationToken ct)
    {
        long first;
        await using (var connection = await _sources.GetDataSource(a).OpenConnectionAsync(ct))
        {
            first = await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM orders");
        }

        await using var other = await _sources.GetDataSource(b).OpenConnectionAsync(ct);
        return first + await other.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM orders");
    }
}
