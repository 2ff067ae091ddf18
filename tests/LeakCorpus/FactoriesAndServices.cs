// Wiring: connections registered in DI, hosted services that hold one for their lifetime, out/ref helpers, release
// helpers, and factories that prepare a connection before handing it over.
using System;
using System.Collections.Concurrent;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using MySqlConnector;
using Prelude;

namespace Corpus.Wiring;

public static class ConnectionRegistration
{
    // shape clean: a scoped connection the container disposes at the end of the scope
    public static IServiceCollection AddTenantConnection(this IServiceCollection services, string connectionString) =>
        services.AddScoped(_ =>
        {
            var connection = new MySqlConnection(connectionString);
            connection.Open();
            return connection;
        });
}

public static class ConnectionHelpers
{
    // shape clean: a try-pattern helper that opens into an out parameter only when it succeeds
    public static bool TryOpen(MySqlDataSource dataSource, out MySqlConnection? connection)
    {
        try
        {
            connection = dataSource.OpenConnection();
            return true;
        }
        catch (MySqlException)
        {
            connection = null;
            return false;
        }
    }

    // shape clean: a helper that closes quietly, releasing its argument on every path
    public static void CloseQuietly(MySqlConnection? connection)
    {
        try
        {
            connection?.Dispose();
        }
        catch (MySqlException)
        {
        }
    }

    // shape clean: a factory that sets the session up before handing the connection over, disposing it if that fails
    public static async Task<MySqlConnection> OpenForTenantAsync(MySqlDataSource dataSource, string tenant, CancellationToken cancellationToken)
    {
        var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        try
        {
            await connection.ChangeDatabaseAsync(tenant, cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    // shape leak: the same factory without the dispose on failure
    public static async Task<MySqlConnection> OpenForTenantUnsafeAsync(MySqlDataSource dataSource, string tenant, CancellationToken cancellationToken)
    {
        var connection = await dataSource.OpenConnectionAsync(cancellationToken); // expect TDG001: 'connection' is not released if an exception is thrown at line @+1
        await connection.ChangeDatabaseAsync(tenant, cancellationToken);
        return connection;
    }
}

public sealed class TenantReports
{
    private readonly MySqlDataSource _dataSource;

    public TenantReports(MySqlDataSource dataSource) => _dataSource = dataSource;

    // shape clean: the out connection of the try-helper released with the quiet helper in finally
    public long Count()
    {
        if (!ConnectionHelpers.TryOpen(_dataSource, out var connection))
        {
            return -1;
        }

        try
        {
            return connection!.ExecuteScalar<long>("select count(*) from Customer");
        }
        finally
        {
            ConnectionHelpers.CloseQuietly(connection);
        }
    }

    // shape leak: the out connection used and never released
    public long CountUnsafe()
    {
        if (ConnectionHelpers.TryOpen(_dataSource, out var connection)) // expect TDG001: 'connection' from TryOpen(out var connection) is not released on the path that returns at line @+2
        {
            return connection!.ExecuteScalar<long>("select count(*) from Customer");
        }

        return -1;
    }

    // shape leak: the tenant factory's connection used in a using-less call chain
    public async Task<long> CountForTenantAsync(string tenant, CancellationToken cancellationToken)
    {
        var connection = await ConnectionHelpers.OpenForTenantAsync(_dataSource, tenant, cancellationToken); // expect TDG001: 'connection' from OpenForTenantAsync() is not released on the path that returns at line @+1
        return await connection.ExecuteScalarAsync<long>("select count(*) from Customer");
    }
}

// shape clean: a hosted service that keeps a connection open while it runs and closes it when stopped
public sealed class ChangeFeedService : BackgroundService
{
    private readonly MySqlDataSource _dataSource;
    private MySqlConnection? _connection;

    public ChangeFeedService(MySqlDataSource dataSource) => _dataSource = dataSource;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _connection = await _dataSource.OpenConnectionAsync(stoppingToken);
        while (!stoppingToken.IsCancellationRequested)
        {
            await _connection.ExecuteAsync("call poll_changes()");
            await Task.Delay(1000, stoppingToken);
        }
    }

    public override void Dispose()
    {
        try
        {
            base.Dispose();
        }
        finally
        {
            _connection?.Dispose();
        }
    }
}

// shape leak: a cache of leases per tenant that never gives them back
public sealed class LeaseCache
{
    private readonly ConcurrentDictionary<string, ConnectionLease> _leases = new();
    private readonly LeasePool _pool;
    private ConnectionLease? _last; // expect TDG005: 'LeaseCache' owns the connection in '_last' but is not disposable, so nothing can release it

    public LeaseCache(LeasePool pool) => _pool = pool;

    public ConnectionLease For(string tenant)
    {
        var lease = _leases.GetOrAdd(tenant, _ => _pool.GetConnection());
        _last = _pool.GetConnection();
        return lease;
    }
}
