using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using MySqlConnector;
using TenantDbGuard.Runtime.Tests.Infrastructure;

namespace TenantDbGuard.EntityFrameworkCore.Tests.Infrastructure;

/// <summary>
/// An application's services on a test server: the runtime (<c>AddTenantDbGuard</c>) and <see cref="CrmContext"/>
/// registered with <c>AddTenantDbContext</c>, whose tenant comes from the scope's <see cref="CurrentTenant"/>.
/// </summary>
public sealed class EfHost : IAsyncDisposable
{
    private readonly ServiceProvider _services;

    private EfHost(ServiceProvider services) => _services = services;

    public TenantDatabase Database => _services.GetRequiredService<TenantDatabase>();

    public IServiceProvider Services => _services;

    /// <summary>The master connection string as Pomelo needs it (<c>AllowUserVariables=True</c>).</summary>
    public static string MasterConnectionString(MariaDbServer server) =>
        new MySqlConnectionStringBuilder(server.GetAppConnectionString(MariaDbFixture.MasterDatabase)) { AllowUserVariables = true }.ConnectionString;

    /// <summary>Builds the services and starts their hosted services, as the application's host would.</summary>
    public static async Task<EfHost> CreateAsync(
        MariaDbServer server,
        Action<TenantDbGuardOptions>? runtime = null,
        Action<TenantDbContextOptions>? context = null,
        string? masterConnectionString = null,
        Action<IServiceCollection>? more = null)
    {
        var services = new ServiceCollection();
        services.AddTenantDbGuard(options =>
        {
            options.MasterConnectionString = masterConnectionString ?? MasterConnectionString(server);
            runtime?.Invoke(options);
        });
        services.AddScoped<CurrentTenant>();
        services.AddTenantDbContext<CrmContext>(sp => sp.GetRequiredService<CurrentTenant>().Key ?? throw new InvalidOperationException("No tenant in this scope."), context);
        more?.Invoke(services);
        var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true });
        foreach (var hosted in provider.GetServices<IHostedService>())
        {
            await hosted.StartAsync(CancellationToken.None);
        }

        return new EfHost(provider);
    }

    /// <summary>A scope (a request) for <paramref name="tenantKey"/>.</summary>
    public AsyncServiceScope Scope(string tenantKey)
    {
        var scope = _services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<CurrentTenant>().Key = tenantKey;
        return scope;
    }

    /// <summary>Runs <paramref name="work"/> on the context of a new scope for <paramref name="tenantKey"/>, then disposes the scope.</summary>
    public async Task<T> InScopeAsync<T>(string tenantKey, Func<CrmContext, Task<T>> work)
    {
        await using var scope = Scope(tenantKey);
        return await work(scope.ServiceProvider.GetRequiredService<CrmContext>());
    }

    public ValueTask DisposeAsync() => _services.DisposeAsync();
}
