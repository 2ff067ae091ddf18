using System;
using System.Collections.Concurrent;
using System.Threading;
using System.Threading.Tasks;
using MySqlConnector;

namespace Leaks;

/// <summary>One <see cref="MySqlDataSource"/> per tenant database, created once and kept for the life of the process.</summary>
public sealed class TenantConnectionPool : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, MySqlDataSource> _dataSources = new();
    private readonly Func<string, string> _connectionStringFor;

    public TenantConnectionPool(Func<string, string> connectionStringFor)
    {
        _connectionStringFor = connectionStringFor;
    }

    public MySqlDataSource DataSourceFor(string tenant) =>
        _dataSources.GetOrAdd(tenant, key => new MySqlDataSource(_connectionStringFor(key)));

    public TenantConnection GetConnection(string tenant)
    {
        var connection = DataSourceFor(tenant).OpenConnection();
        return new TenantConnection(tenant, connection);
    }

    public async Task<TenantConnection> GetConnectionAsync(string tenant, CancellationToken cancellationToken = default)
    {
        var connection = await DataSourceFor(tenant).OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        return new TenantConnection(tenant, connection);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var dataSource in _dataSources.Values)
        {
            await dataSource.DisposeAsync().ConfigureAwait(false);
        }

        _dataSources.Clear();
    }
}

/// <summary>A tenant connection lent by <see cref="TenantConnectionPool"/>; give it back with <see cref="Release"/> or dispose it.</summary>
public sealed class TenantConnection : IDisposable, IAsyncDisposable
{
    internal TenantConnection(string tenant, MySqlConnection connection)
    {
        Tenant = tenant;
        Connection = connection;
    }

    public string Tenant { get; }

    public MySqlConnection Connection { get; }

    public int Execute(string sql)
    {
        using var command = new MySqlCommand(sql, Connection);
        return command.ExecuteNonQuery();
    }

    public async Task<int> ExecuteAsync(string sql, CancellationToken cancellationToken = default)
    {
        await using var command = new MySqlCommand(sql, Connection);
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public T? ExecuteScalar<T>(string sql)
    {
        using var command = new MySqlCommand(sql, Connection);
        return command.ExecuteScalar() is T value ? value : default;
    }

    public async Task<T?> ExecuteScalarAsync<T>(string sql, CancellationToken cancellationToken = default)
    {
        await using var command = new MySqlCommand(sql, Connection);
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is T value ? value : default;
    }

    public void Release() => Connection.Dispose();

    public void Dispose() => Release();

    public ValueTask DisposeAsync() => Connection.DisposeAsync();
}
