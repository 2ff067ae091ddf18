using System;
using System.Diagnostics.CodeAnalysis;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace ValidCode;

public enum ReadPreference
{
    Primary,
    Replica,
}

/// <summary>Factories that open a connection and hand it to the caller, closing it when the open fails.</summary>
public sealed class OpenedConnections(TenantDataSources sources, MySqlDataSource replica)
{
    public async Task<MySqlConnection> OpenAsync(string tenant, ReadPreference preference, CancellationToken ct)
    {
        var dataSource = preference switch
        {
            ReadPreference.Replica => replica,
            _ => sources.GetDataSource(tenant),
        };
        var connection = dataSource.CreateConnection();
        try
        {
            await connection.OpenAsync(ct).ConfigureAwait(false);
            await connection.ExecuteAsync("SET SESSION sql_mode = 'STRICT_ALL_TABLES'").ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public bool TryOpen(string tenant, [NotNullWhen(true)] out MySqlConnection? connection)
    {
        try
        {
            connection = sources.GetDataSource(tenant).OpenConnection();
            return true;
        }
        catch (MySqlException)
        {
            connection = null;
            return false;
        }
    }

    public (MySqlConnection Connection, string Version) OpenWithVersion(string tenant)
    {
        var connection = sources.GetDataSource(tenant).OpenConnection();
        return (connection, connection.ServerVersion);
    }

    public ValueTask<MySqlConnection> OpenReplicaAsync(CancellationToken ct) => replica.OpenConnectionAsync(ct);
}

public sealed class OpenedConnectionUsers(OpenedConnections connections)
{
    public async Task<int> CountAsync(string tenant, CancellationToken ct)
    {
        await using var connection = await connections.OpenAsync(tenant, ReadPreference.Replica, ct)
            .ConfigureAwait(false);
        return await connection.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM orders").ConfigureAwait(false);
    }

    public int CountIfReachable(string tenant)
    {
        if (!connections.TryOpen(tenant, out var connection))
        {
            return -1;
        }

        using (connection)
        {
            return connection.ExecuteScalar<int>("SELECT COUNT(*) FROM orders");
        }
    }

    public string Version(string tenant)
    {
        var (connection, version) = connections.OpenWithVersion(tenant);
        connection.Dispose();
        return version;
    }

    public async Task<bool> ReplicaAliveAsync(CancellationToken ct)
    {
        var connection = await connections.OpenReplicaAsync(ct).ConfigureAwait(false);
        try
        {
            return await connection.PingAsync(ct).ConfigureAwait(false);
        }
        finally
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}
