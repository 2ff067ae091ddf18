using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace ValidCode;

/// <summary>Starts opening a tenant's connection before it is needed, and takes it into an 'await using' when it is.</summary>
public sealed class WarmConnections
{
    private readonly TenantDataSources _dataSources;

    public WarmConnections(TenantDataSources dataSources) => _dataSources = dataSources;

    public async Task<long> CountOrdersAsync(string tenant, CancellationToken cancellationToken)
    {
        var opening = _dataSources.GetDataSource(tenant).OpenConnectionAsync(cancellationToken);
        await using var conn = await opening;
        return await conn.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM orders");
    }

    public async Task<long> CountCustomersAsync(string tenant, CancellationToken cancellationToken)
    {
        var opening = _dataSources.GetDataSource(tenant).OpenConnectionAsync(cancellationToken);
        await using var conn = await opening.ConfigureAwait(false);
        return await conn.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM customers").ConfigureAwait(false);
    }

    public async Task<int> TouchAsync(string tenant, CancellationToken cancellationToken)
    {
        Task<MySqlConnection> opening = _dataSources.GetDataSource(tenant).OpenConnectionAsync(cancellationToken).AsTask();
        using var conn = await opening;
        return await conn.ExecuteAsync("UPDATE settings SET touched_at = NOW()");
    }
}
