using System;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using MySqlConnector;

namespace ValidCode;

/// <summary>Registers the data sources once, as singletons, and closes them when the host stops.</summary>
public static class TenantDataSourceServices
{
    public static IServiceCollection AddTenantDataSources(this IServiceCollection services, string masterConnectionString)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(masterConnectionString);

        var builder = new MySqlDataSourceBuilder(masterConnectionString);
        builder.ConnectionStringBuilder.MaximumPoolSize = 20;
        services.AddSingleton(builder.Build());
        services.AddKeyedSingleton("reports", (_, _) => new MySqlDataSource(masterConnectionString + ";Database=reports"));
        services.TryAddSingleton(_ => new TenantDataSourceCache(masterConnectionString));
        services.AddHostedService<TenantDataSourceShutdown>();
        services.AddHostedService<IdleTenantEviction>();
        return services;
    }
}

/// <summary>Closes the shared pools once, when the application stops.</summary>
public sealed class TenantDataSourceShutdown : IHostedService
{
    private readonly MySqlDataSource _master;

    public TenantDataSourceShutdown(MySqlDataSource master, [FromKeyedServices("reports")] MySqlDataSource reports, IHostApplicationLifetime lifetime)
    {
        _master = master;
        lifetime.ApplicationStopped.Register(() => reports.Dispose());
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _master.DisposeAsync().ConfigureAwait(false);
        await MySqlConnection.ClearAllPoolsAsync(cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>Closes the pools of tenants that were idle for a while, so that 300 tenants do not keep 300 pools open.</summary>
public sealed class IdleTenantEviction : BackgroundService
{
    private static readonly TimeSpan IdleAfter = TimeSpan.FromMinutes(5);

    private readonly TenantDataSourceCache _cache;

    public IdleTenantEviction(TenantDataSourceCache cache) => _cache = cache;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMinutes(1));
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            await _cache.EvictIdleAsync(IdleAfter).ConfigureAwait(false);
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        await _cache.DisposeAsync().ConfigureAwait(false);
    }
}
