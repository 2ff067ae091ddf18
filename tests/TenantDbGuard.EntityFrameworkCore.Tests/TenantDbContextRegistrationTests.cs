using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using TenantDbGuard.EntityFrameworkCore.Tests.Infrastructure;
using TenantDbGuard.Runtime.Tests.Infrastructure;

namespace TenantDbGuard.EntityFrameworkCore.Tests;

/// <summary>
/// How <c>AddTenantDbContext</c> is registered and resolved where it can go wrong: a context resolved outside a scope
/// (by a singleton that depends on it), a registration that another one would silently replace, a scope without a
/// tenant.
/// </summary>
[Collection(MariaDbCollection.Name)]
public sealed class TenantDbContextRegistrationTests(MariaDbFixture fixture) : IAsyncLifetime
{
    private MariaDbServer Server => fixture.Server;

    public Task InitializeAsync() => fixture.CreateTenantsAsync(12);

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task A_singleton_that_depends_on_the_context_is_refused_instead_of_serving_one_tenant_to_all()
    {
        // Scopes are not validated, as in a production host: the singleton's context comes from the root provider,
        // and the tenant is read from the request that resolved it first (here, an ambient value as a request's is).
        var marker = "only-" + Guid.NewGuid().ToString("N")[..8];
        await Server.ExecuteAsync(
            $"INSERT INTO customers (name) VALUES ('{marker}')",
            MariaDbFixture.TenantDatabase(9));
        await using var host = await AmbientHost.CreateAsync(
            Server,
            services => services.AddSingleton<CustomerReport>());

        AmbientHost.Tenant.Value = MariaDbFixture.TenantKey(9);
        await using (var scope = host.Services.CreateAsyncScope())
        {
            var error = Assert.Throws<TenantDbContextConfigurationException>(
                () => scope.ServiceProvider.GetRequiredService<CustomerReport>());
            Assert.Contains("root service provider", error.Message, StringComparison.Ordinal);
            Assert.Contains(nameof(CrmContext), error.Message, StringComparison.Ordinal);
        }

        // Another tenant's request resolves it too: it must never be given the first tenant's context.
        AmbientHost.Tenant.Value = MariaDbFixture.TenantKey(10);
        await using (var scope = host.Services.CreateAsyncScope())
        {
            Assert.Throws<TenantDbContextConfigurationException>(
                () => scope.ServiceProvider.GetRequiredService<CustomerReport>());
        }

        Assert.Throws<TenantDbContextConfigurationException>(() => host.Services.GetRequiredService<CrmContext>());
        Assert.Equal(0, host.Database.GetBudgetSnapshot().InUse);

        // In a scope, the same context type serves the scope's tenant.
        await using (var scope = host.Services.CreateAsyncScope())
        {
            var context = scope.ServiceProvider.GetRequiredService<CrmContext>();
            var names = await context.Customers.Select(c => c.Name).ToListAsync();
            Assert.DoesNotContain(marker, names);
        }

        await host.Database.WaitUntilAllReturnedAsync();
    }

    [Fact]
    public void A_context_type_already_registered_with_AddDbContext_is_refused_rather_than_left_in_force()
    {
        // AddDbContext's registration on one fixed database would stay, and every tenant's request would use it.
        var services = new ServiceCollection();
        services.AddDbContext<CrmContext>(o => o.UseMySql(
            EfHost.MasterConnectionString(Server)
                .Replace(MariaDbFixture.MasterDatabase, MariaDbFixture.TenantDatabase(1)),
            ServerVersion.Parse("10.11.0-mariadb")));

        var error = Assert.Throws<TenantDbContextConfigurationException>(
            () => services.AddTenantDbContext<CrmContext>(_ => MariaDbFixture.TenantKey(2)));

        Assert.Contains("already registered", error.Message, StringComparison.Ordinal);
        Assert.Contains("AddDbContext", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_second_AddTenantDbContext_for_the_same_context_is_refused_rather_than_ignored()
    {
        var services = new ServiceCollection();
        services.AddTenantDbContext<CrmContext>(_ => MariaDbFixture.TenantKey(1));

        // The second one's tenant (and options) would be ignored: the first one's tenant would serve its requests.
        var error = Assert.Throws<TenantDbContextConfigurationException>(
            () => services.AddTenantDbContext<CrmContext>(_ => MariaDbFixture.TenantKey(2)));

        Assert.Contains("AddTenantDbContext<CrmContext>", error.Message, StringComparison.Ordinal);
        Assert.Contains("once", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_scope_whose_tenant_key_is_null_gets_the_typed_error_of_a_malformed_key_and_takes_no_lease()
    {
        await using var host = await AmbientHost.CreateAsync(Server);
        AmbientHost.Tenant.Value = null;
        await using var scope = host.Services.CreateAsyncScope();

        var error = Assert.Throws<InvalidTenantKeyException>(
            () => scope.ServiceProvider.GetRequiredService<CrmContext>());

        // As a request without the tenant's header (an empty key): refused before any SQL runs.
        Assert.Equal(string.Empty, error.TenantKey);
        Assert.Equal(0, host.Database.GetBudgetSnapshot().InUse);
    }

    /// <summary>A singleton that (wrongly) depends on the scoped context.</summary>
    private sealed class CustomerReport(CrmContext context)
    {
        public CrmContext Context { get; } = context;
    }

    /// <summary>
    /// Services whose tenant comes from an ambient value, as one read from <c>IHttpContextAccessor</c> does, with
    /// scopes not validated (a production host's default).
    /// </summary>
    private sealed class AmbientHost : IAsyncDisposable
    {
        public static readonly AsyncLocal<string?> Tenant = new();

        private AmbientHost(ServiceProvider services) => Services = services;

        public ServiceProvider Services { get; }

        public TenantDatabase Database => Services.GetRequiredService<TenantDatabase>();

        public static Task<AmbientHost> CreateAsync(MariaDbServer server, Action<IServiceCollection>? more = null)
        {
            var services = new ServiceCollection();
            services.AddTenantDbGuard(options =>
            {
                options.MasterConnectionString = EfHost.MasterConnectionString(server);
                options.MaxConnections = 2;
            });
            services.AddTenantDbContext<CrmContext>(
                _ => Tenant.Value!,
                options => options.ServerVersion = ServerVersion.Parse("10.11.0-mariadb"));
            more?.Invoke(services);
            var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = false });
            return Task.FromResult(new AmbientHost(provider));
        }

        public ValueTask DisposeAsync() => Services.DisposeAsync();
    }
}
