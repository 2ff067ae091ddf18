using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace ValidCode;

/// <summary>An open connection to one tenant's database; disposing the lease closes the connection.</summary>
public sealed class TenantLease : IAsyncDisposable, IDisposable
{
    private MySqlConnection? _connection;

    public TenantLease(string tenant, MySqlConnection connection)
    {
        Tenant = tenant;
        _connection = connection;
    }

    public string Tenant { get; }

    public MySqlConnection Connection => _connection ?? throw new ObjectDisposedException(nameof(TenantLease), $"The lease for tenant '{Tenant}' was already returned.");

    public void Dispose() => Interlocked.Exchange(ref _connection, null)?.Dispose();

    public async ValueTask DisposeAsync()
    {
        var connection = Interlocked.Exchange(ref _connection, null);
        if (connection is not null)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>The tenant data-access entry point: leases and helpers that always give the connection back.</summary>
public sealed class TenantDatabase
{
    private readonly TenantDataSources _dataSources;

    public TenantDatabase(TenantDataSources dataSources) => _dataSources = dataSources;

    public async Task<TenantLease> GetConnectionAsync(string tenant, CancellationToken cancellationToken)
    {
        var dataSource = _dataSources.GetDataSource(tenant);
        var conn = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        return new TenantLease(tenant, conn);
    }

    public TenantLease GetConnection(string tenant)
    {
        var conn = _dataSources.GetDataSource(tenant).OpenConnection();
        var lease = new TenantLease(tenant, conn);
        return lease;
    }

    public async Task<T> WithTenantConnectionAsync<T>(string tenant, Func<MySqlConnection, CancellationToken, Task<T>> work, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(work);
        await using var lease = await GetConnectionAsync(tenant, cancellationToken).ConfigureAwait(false);
        return await work(lease.Connection, cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<T>> QueryTenantAsync<T>(string tenant, string sql, object? param, CancellationToken cancellationToken)
    {
        await using var lease = await GetConnectionAsync(tenant, cancellationToken).ConfigureAwait(false);
        var rows = await lease.Connection.QueryAsync<T>(new CommandDefinition(sql, param, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return rows.AsList();
    }

    public int ExecuteTenant(string tenant, string sql, object? param = null)
    {
        using var lease = GetConnection(tenant);
        return lease.Connection.Execute(sql, param);
    }

    public async Task<int> ExecuteTenantAsync(string tenant, string sql, object? param, CancellationToken cancellationToken)
    {
        var lease = await GetConnectionAsync(tenant, cancellationToken).ConfigureAwait(false);
        try
        {
            return await lease.Connection.ExecuteAsync(new CommandDefinition(sql, param, cancellationToken: cancellationToken)).ConfigureAwait(false);
        }
        finally
        {
            await lease.DisposeAsync().ConfigureAwait(false);
        }
    }
}
