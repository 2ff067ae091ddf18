using System.Diagnostics.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TenantDbGuard.Runtime.Tests.Infrastructure;

namespace TenantDbGuard.Runtime.Tests;

[Collection(MariaDbCollection.Name)]
public sealed class TenantDbGuardServiceCollectionExtensionsTests(MariaDbFixture fixture) : IAsyncLifetime
{
    private MariaDbServer Server => fixture.Server;

    public Task InitializeAsync() => fixture.CreateTenantsAsync(2);

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Registers_one_TenantDatabase_for_the_application()
    {
        var services = new ServiceCollection();
        var configured = 0;

        var returned = services.AddTenantDbGuard(o =>
        {
            configured++;
            o.MasterConnectionString = Server.GetAppConnectionString(MariaDbFixture.MasterDatabase);
        });
        await using var provider = services.BuildServiceProvider();
        var first = provider.GetRequiredService<TenantDatabase>();
        await using var scope = provider.CreateAsyncScope();
        var second = scope.ServiceProvider.GetRequiredService<TenantDatabase>();

        Assert.Same(services, returned);
        Assert.Same(first, second);
        Assert.Equal(1, configured);
        Assert.Equal(ServiceLifetime.Singleton, Assert.Single(services, d => d.ServiceType == typeof(TenantDatabase)).Lifetime);
        Assert.Equal([MariaDbFixture.TenantDatabase(1)], await first.QueryTenantAsync<string>(MariaDbFixture.TenantKey(1), "SELECT DATABASE()"));
    }

    [Fact]
    public async Task Disposing_the_provider_disposes_the_TenantDatabase_and_closes_its_connections()
    {
        await Server.WaitForAppConnectionsAsync();
        var services = new ServiceCollection().AddTenantDbGuard(o => o.MasterConnectionString = Server.GetAppConnectionString(MariaDbFixture.MasterDatabase));
        var provider = services.BuildServiceProvider();
        var db = provider.GetRequiredService<TenantDatabase>();
        await Task.WhenAll(Enumerable.Range(1, 2).Select(n => db.QueryTenantAsync<int>(MariaDbFixture.TenantKey(n), "SELECT SLEEP(0.05)")));
        await db.WaitUntilAllReturnedAsync();
        Assert.True(db.GetBudgetSnapshot().Open > 0);

        await provider.DisposeAsync();

        // Idle connections close at once, one still being reset when it does closes when the reset ends.
        await db.WaitForSnapshotAsync(s => s.Open == 0, TimeSpan.FromSeconds(2));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => db.QueryTenantAsync<int>(MariaDbFixture.TenantKey(1), "SELECT 1"));
        await Server.WaitForAppConnectionsAsync();
    }

    [Fact]
    public async Task Disposing_the_provider_synchronously_disposes_the_TenantDatabase_too()
    {
        var services = new ServiceCollection().AddTenantDbGuard(o => o.MasterConnectionString = Server.GetAppConnectionString(MariaDbFixture.MasterDatabase));
        var provider = services.BuildServiceProvider();
        var db = provider.GetRequiredService<TenantDatabase>();
        await db.QueryTenantAsync<int>(MariaDbFixture.TenantKey(2), "SELECT 1");
        await db.WaitUntilAllReturnedAsync();

        // As "using var provider = services.BuildServiceProvider();" does in a console application.
        provider.Dispose();

        await db.WaitForSnapshotAsync(s => s.Open == 0, TimeSpan.FromSeconds(2));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => db.QueryTenantAsync<int>(MariaDbFixture.TenantKey(2), "SELECT 1"));
    }

    [Fact]
    public async Task Uses_the_containers_logging_and_metrics()
    {
        var logs = new CapturedLogs();
        using var metrics = new RecordedMetrics();
        var services = new ServiceCollection()
            .AddLogging(builder => builder.AddProvider(logs).SetMinimumLevel(LogLevel.Trace))
            .AddSingleton<IMeterFactory>(metrics)
            .AddTenantDbGuard(o => o.MasterConnectionString = Server.GetAppConnectionString(MariaDbFixture.MasterDatabase));
        await using var provider = services.BuildServiceProvider();

        await provider.GetRequiredService<TenantDatabase>().QueryTenantAsync<int>(MariaDbFixture.TenantKey(1), "SELECT 1");

        var resolved = Assert.Single(logs.WithId(1004));
        Assert.Equal("TenantDbGuard", resolved.Category);
        Assert.Equal(["TenantDbGuard"], metrics.MeterNames);
        Assert.NotEmpty(metrics.Of("tenantdbguard.connections.wait_time"));
    }

    [Fact]
    public void A_second_registration_keeps_the_first()
    {
        var services = new ServiceCollection()
            .AddTenantDbGuard(o => o.MasterConnectionString = Server.GetAppConnectionString(MariaDbFixture.MasterDatabase))
            .AddTenantDbGuard(o => o.MasterConnectionString = "Server=nowhere.invalid;Database=x");

        Assert.Single(services, d => d.ServiceType == typeof(TenantDatabase));
    }

    [Fact]
    public async Task Invalid_options_stop_the_host_from_starting_and_every_problem_is_named()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddTenantDbGuard(o =>
        {
            o.MaxConnections = 0;
            o.AcquireTimeout = TimeSpan.Zero;
        });
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Equal(typeof(TenantDbGuardOptions), error.OptionsType);
        Assert.Contains(error.Failures, f => f.Contains("MasterConnectionString", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("MaxConnections", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("AcquireTimeout", StringComparison.Ordinal));
    }

    [Fact]
    public void Invalid_options_without_a_host_surface_when_the_TenantDatabase_is_resolved()
    {
        var services = new ServiceCollection().AddTenantDbGuard(o => o.MaxConnections = 5);
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<TenantDatabase>());

        Assert.Contains("MasterConnectionString", error.Message);
    }

    [Fact]
    public async Task Options_bind_from_a_configuration_section()
    {
        using var host = HostBoundTo(("MaxConnections", "3"), ("AcquireTimeout", "00:00:00.300"), ("MaxConnectionsPerTenant", "1"));
        await host.StartAsync();

        var db = host.Services.GetRequiredService<TenantDatabase>();
        await using var held = await db.GetConnectionAsync(MariaDbFixture.TenantKey(1));
        var error = await Assert.ThrowsAsync<ConnectionBudgetExhaustedException>(() => db.QueryTenantAsync<int>(MariaDbFixture.TenantKey(1), "SELECT 1"));

        Assert.Equal(3, db.GetBudgetSnapshot().Limit);
        Assert.Equal((ConnectionBudgetKind.Tenant, 1), (error.Budget, error.Limit));
        Assert.InRange(error.Waited, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(3));
        await held.DisposeAsync();
        await host.StopAsync();
    }

    [Fact]
    public async Task Bad_options_from_configuration_stop_the_host_from_starting()
    {
        using var host = HostBoundTo(("ServerShare", "2"));

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("ServerShare", Assert.Single(error.Failures));
    }

    [Fact]
    public async Task The_service_provider_overload_sets_the_options_from_the_applications_services()
    {
        var services = new ServiceCollection()
            .AddSingleton(new CountingTenantResolver(new TenantInfo("from-a-service", MariaDbFixture.TenantDatabase(2))))
            .AddSingleton(new MasterSettings(Server.GetAppConnectionString(MariaDbFixture.MasterDatabase)))
            .AddTenantDbGuard((provider, o) =>
            {
                o.MasterConnectionString = provider.GetRequiredService<MasterSettings>().ConnectionString;
                o.TenantResolver = provider.GetRequiredService<CountingTenantResolver>().ResolveAsync;
            });
        await using var provider = services.BuildServiceProvider();

        var db = provider.GetRequiredService<TenantDatabase>();

        Assert.Equal([MariaDbFixture.TenantDatabase(2)], await db.QueryTenantAsync<string>("from-a-service", "SELECT DATABASE()"));
        Assert.Equal(1, provider.GetRequiredService<CountingTenantResolver>().TotalCalls);
    }

    [Fact]
    public async Task Options_configured_after_the_registration_apply_too()
    {
        var services = new ServiceCollection()
            .AddTenantDbGuard(o => o.MasterConnectionString = Server.GetAppConnectionString(MariaDbFixture.MasterDatabase))
            .Configure<TenantDbGuardOptions>(o => o.MaxConnections = 2);
        await using var provider = services.BuildServiceProvider();

        Assert.Equal(2, provider.GetRequiredService<TenantDatabase>().GetBudgetSnapshot().Limit);
    }

    [Fact]
    public void Null_arguments_are_refused()
    {
        Assert.Equal("services", Assert.Throws<ArgumentNullException>(() => TenantDbGuardServiceCollectionExtensions.AddTenantDbGuard(null!, _ => { })).ParamName);
        Assert.Equal("configure", Assert.Throws<ArgumentNullException>(() => new ServiceCollection().AddTenantDbGuard((Action<TenantDbGuardOptions>)null!)).ParamName);
        Assert.Equal("configure", Assert.Throws<ArgumentNullException>(() => new ServiceCollection().AddTenantDbGuard((Action<IServiceProvider, TenantDbGuardOptions>)null!)).ParamName);
        Assert.Equal("configuration", Assert.Throws<ArgumentNullException>(() => new ServiceCollection().AddTenantDbGuard((IConfiguration)null!)).ParamName);
        Assert.Equal("serviceKey", Assert.Throws<ArgumentNullException>(() => new ServiceCollection().AddKeyedTenantDbGuard(null!, _ => { })).ParamName);
        Assert.Equal("serviceKey", Assert.Throws<ArgumentException>(() => new ServiceCollection().AddKeyedTenantDbGuard(string.Empty, _ => { })).ParamName);
        Assert.Equal("configure", Assert.Throws<ArgumentNullException>(() => new ServiceCollection().AddKeyedTenantDbGuard("eu", (Action<IServiceProvider, TenantDatabaseBuilder>)null!)).ParamName);
    }

    [Fact]
    public async Task Two_keyed_registrations_are_two_runtimes_with_budgets_of_their_own_beside_the_unkeyed_one()
    {
        var master = Server.GetAppConnectionString(MariaDbFixture.MasterDatabase);
        var services = new ServiceCollection()
            .AddKeyedTenantDbGuard("eu", o =>
            {
                o.MasterConnectionString = master;
                o.MaxConnections = 2;
                o.MaxConnectionsPerTenant = 1;
                o.AcquireTimeout = TimeSpan.FromMilliseconds(300);
            })
            .AddKeyedTenantDbGuard("us", (provider, builder) => builder.ConfigureOptions(o =>
            {
                o.MasterConnectionString = master;
                o.MaxConnections = 3;
            }))
            .AddTenantDbGuard(o =>
            {
                o.MasterConnectionString = master;
                o.MaxConnections = 4;
            })
            .AddSingleton<TwoClusters>();
        await using var provider = services.BuildServiceProvider();

        var clusters = provider.GetRequiredService<TwoClusters>();
        var unkeyed = provider.GetRequiredService<TenantDatabase>();
        await using (var held = await clusters.Eu.GetConnectionAsync(MariaDbFixture.TenantKey(1)))
        {
            // The eu runtime's tenant cap is taken; the us runtime and the unkeyed one count nothing of it.
            var error = await Assert.ThrowsAsync<ConnectionBudgetExhaustedException>(() => clusters.Eu.QueryTenantAsync<int>(MariaDbFixture.TenantKey(1), "SELECT 1"));
            Assert.Equal((ConnectionBudgetKind.Tenant, 1), (error.Budget, error.Limit));
            Assert.Equal([1], await clusters.Us.QueryTenantAsync<int>(MariaDbFixture.TenantKey(1), "SELECT 1"));
            Assert.Equal([1], await unkeyed.QueryTenantAsync<int>(MariaDbFixture.TenantKey(1), "SELECT 1"));
            Assert.Equal(1, clusters.Eu.GetBudgetSnapshot().InUse);
            Assert.Equal(0, clusters.Us.GetBudgetSnapshot().InUse);
        }

        Assert.Equal((2, 3, 4), (clusters.Eu.GetBudgetSnapshot().Limit, clusters.Us.GetBudgetSnapshot().Limit, unkeyed.GetBudgetSnapshot().Limit));
        Assert.Same(clusters.Eu, provider.GetRequiredKeyedService<TenantDatabase>("eu"));
        Assert.Distinct(new object[] { clusters.Eu, clusters.Us, unkeyed });
        Assert.Equal(2, provider.GetRequiredService<IOptionsMonitor<TenantDbGuardOptions>>().Get("eu").MaxConnections);
    }

    [Fact]
    public async Task A_keyed_registration_made_first_does_not_stand_in_for_the_unkeyed_one()
    {
        var master = Server.GetAppConnectionString(MariaDbFixture.MasterDatabase);
        var services = new ServiceCollection()
            .AddKeyedTenantDbGuard("eu", o => o.MasterConnectionString = master)
            .AddTenantDbGuard(o =>
            {
                o.MasterConnectionString = master;
                o.MaxConnections = 5;
            });
        await using var provider = services.BuildServiceProvider();

        var unkeyed = provider.GetRequiredService<TenantDatabase>();

        Assert.Equal(5, unkeyed.GetBudgetSnapshot().Limit);
        Assert.NotSame(unkeyed, provider.GetRequiredKeyedService<TenantDatabase>("eu"));
    }

    [Fact]
    public void A_second_registration_under_the_same_key_is_refused_and_names_the_key()
    {
        var services = new ServiceCollection()
            .AddKeyedTenantDbGuard("eu", o => o.MasterConnectionString = Server.GetAppConnectionString(MariaDbFixture.MasterDatabase));

        var error = Assert.Throws<InvalidOperationException>(() => services.AddKeyedTenantDbGuard("eu", o => o.MasterConnectionString = "Server=nowhere.invalid;Database=x"));

        Assert.Contains("'eu'", error.Message, StringComparison.Ordinal);
        Assert.Single(services, d => d.ServiceType == typeof(TenantDatabase));
        services.AddKeyedTenantDbGuard("us", o => o.MasterConnectionString = "Server=nowhere.invalid;Database=x");
        Assert.Equal(2, services.Count(d => d.ServiceType == typeof(TenantDatabase)));
    }

    [Fact]
    public async Task Keyed_options_bind_from_their_own_sections_and_each_is_validated_when_the_host_starts()
    {
        var master = Server.GetAppConnectionString(MariaDbFixture.MasterDatabase);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["TenantDbGuard:eu:MasterConnectionString"] = master,
            ["TenantDbGuard:eu:MaxConnections"] = "3",
            ["TenantDbGuard:us:MasterConnectionString"] = master,
            ["TenantDbGuard:us:ServerShare"] = "2",
        }).Build();
        var good = Host.CreateApplicationBuilder();
        good.Services.AddKeyedTenantDbGuard("eu", configuration.GetSection("TenantDbGuard:eu"));
        using (var host = good.Build())
        {
            await host.StartAsync();
            var eu = host.Services.GetRequiredKeyedService<TenantDatabase>("eu");
            Assert.Equal([1], await eu.QueryTenantAsync<int>(MariaDbFixture.TenantKey(2), "SELECT 1"));
            Assert.Equal(3, eu.GetBudgetSnapshot().Limit);
            await host.StopAsync();
        }

        var bad = Host.CreateApplicationBuilder();
        bad.Services
            .AddKeyedTenantDbGuard("eu", configuration.GetSection("TenantDbGuard:eu"))
            .AddKeyedTenantDbGuard("us", configuration.GetSection("TenantDbGuard:us"));
        using var badHost = bad.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => badHost.StartAsync());

        Assert.Equal("us", error.OptionsName);
        var failure = Assert.Single(error.Failures);
        Assert.Contains("ServerShare", failure, StringComparison.Ordinal);
        Assert.Contains("'us'", failure, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Disposing_the_provider_disposes_every_keyed_TenantDatabase()
    {
        var master = Server.GetAppConnectionString(MariaDbFixture.MasterDatabase);
        var provider = new ServiceCollection()
            .AddKeyedTenantDbGuard("eu", o => o.MasterConnectionString = master)
            .AddKeyedTenantDbGuard("us", o => o.MasterConnectionString = master)
            .BuildServiceProvider();
        var eu = provider.GetRequiredKeyedService<TenantDatabase>("eu");
        var us = provider.GetRequiredKeyedService<TenantDatabase>("us");
        await eu.QueryTenantAsync<int>(MariaDbFixture.TenantKey(1), "SELECT 1");
        await us.QueryTenantAsync<int>(MariaDbFixture.TenantKey(2), "SELECT 1");
        await eu.WaitUntilAllReturnedAsync();
        await us.WaitUntilAllReturnedAsync();

        await provider.DisposeAsync();

        await eu.WaitForSnapshotAsync(s => s.Open == 0, TimeSpan.FromSeconds(2));
        await us.WaitForSnapshotAsync(s => s.Open == 0, TimeSpan.FromSeconds(2));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => eu.QueryTenantAsync<int>(MariaDbFixture.TenantKey(1), "SELECT 1"));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => us.QueryTenantAsync<int>(MariaDbFixture.TenantKey(2), "SELECT 1"));
    }

    [Fact]
    public async Task A_resolver_registered_as_a_scoped_service_runs_in_a_scope_of_its_own_that_is_disposed_after_each_lookup()
    {
        var directories = new List<TenantDirectory>();
        var services = new ServiceCollection()
            .AddScoped(_ =>
            {
                var directory = new TenantDirectory();
                lock (directories)
                {
                    directories.Add(directory);
                }

                return directory;
            })
            .AddScoped<ITenantResolver, DirectoryResolver>()
            .AddTenantDbGuard(o => o.MasterConnectionString = Server.GetAppConnectionString(MariaDbFixture.MasterDatabase));
        await using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true, ValidateOnBuild = true });

        TenantDirectory requestsOwn;
        await using (var request = provider.CreateAsyncScope())
        {
            requestsOwn = request.ServiceProvider.GetRequiredService<TenantDirectory>();
            var db = request.ServiceProvider.GetRequiredService<TenantDatabase>();
            Assert.Equal([MariaDbFixture.TenantDatabase(2)], await db.QueryTenantAsync<string>("from-the-directory", "SELECT DATABASE()"));
        }

        // The request's scope is gone; the runtime never held it, and looks a new key up in a new scope.
        Assert.Equal([MariaDbFixture.TenantDatabase(1)], await provider.GetRequiredService<TenantDatabase>().QueryTenantAsync<string>("another-key", "SELECT DATABASE()"));

        var lookups = directories.Where(d => !ReferenceEquals(d, requestsOwn)).ToList();
        Assert.Equal(2, lookups.Count);
        Assert.All(lookups, d => Assert.True(d.Disposed));
        Assert.Equal(["another-key", "from-the-directory"], lookups.SelectMany(d => d.Asked).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_keyed_registration_uses_the_resolver_registered_under_its_key_and_the_unkeyed_one_reads_the_tenants_table()
    {
        var master = Server.GetAppConnectionString(MariaDbFixture.MasterDatabase);
        var services = new ServiceCollection()
            .AddKeyedScoped<ITenantResolver>("eu", (_, _) => new DirectoryResolver(new TenantDirectory()))
            .AddKeyedTenantDbGuard("eu", o => o.MasterConnectionString = master)
            .AddTenantDbGuard(o => o.MasterConnectionString = master);
        await using var provider = services.BuildServiceProvider();

        var eu = provider.GetRequiredKeyedService<TenantDatabase>("eu");
        var unkeyed = provider.GetRequiredService<TenantDatabase>();

        Assert.Equal([MariaDbFixture.TenantDatabase(1)], await eu.QueryTenantAsync<string>("only-in-eu", "SELECT DATABASE()"));
        await Assert.ThrowsAsync<TenantNotFoundException>(() => unkeyed.QueryTenantAsync<string>("only-in-eu", "SELECT DATABASE()"));
        Assert.Equal([MariaDbFixture.TenantDatabase(2)], await unkeyed.QueryTenantAsync<string>(MariaDbFixture.TenantKey(2), "SELECT DATABASE()"));
    }

    [Fact]
    public void A_resolver_service_and_a_resolver_option_together_are_refused()
    {
        var services = new ServiceCollection()
            .AddScoped<ITenantResolver>(_ => new DirectoryResolver(new TenantDirectory()))
            .AddTenantDbGuard(o =>
            {
                o.MasterConnectionString = Server.GetAppConnectionString(MariaDbFixture.MasterDatabase);
                o.TenantResolver = (key, _) => ValueTask.FromResult<TenantInfo?>(null);
            });
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<InvalidOperationException>(() => provider.GetRequiredService<TenantDatabase>());

        Assert.Contains("ITenantResolver", error.Message, StringComparison.Ordinal);
    }

    /// <summary>A host whose TenantDbGuard options are bound from a "TenantDbGuard" section: the master database and <paramref name="settings"/>.</summary>
    private IHost HostBoundTo(params (string Option, string Value)[] settings)
    {
        var section = settings.ToDictionary(s => "TenantDbGuard:" + s.Option, s => (string?)s.Value);
        section["TenantDbGuard:MasterConnectionString"] = Server.GetAppConnectionString(MariaDbFixture.MasterDatabase);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(section).Build();
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddTenantDbGuard(configuration.GetSection("TenantDbGuard"));
        return builder.Build();
    }

    private sealed record MasterSettings(string ConnectionString);

    /// <summary>A scoped, DbContext-like service: it answers tenant lookups and must be disposed with its scope.</summary>
    private sealed class TenantDirectory : IAsyncDisposable
    {
        private static readonly Dictionary<string, string> Databases = new(StringComparer.Ordinal)
        {
            ["from-the-directory"] = MariaDbFixture.TenantDatabase(2),
            ["another-key"] = MariaDbFixture.TenantDatabase(1),
            ["only-in-eu"] = MariaDbFixture.TenantDatabase(1),
        };

        public List<string> Asked { get; } = [];

        public bool Disposed { get; private set; }

        public TenantInfo Find(string key)
        {
            ObjectDisposedException.ThrowIf(Disposed, this);
            Asked.Add(key);
            return new TenantInfo(key, Databases[key]);
        }

        public ValueTask DisposeAsync()
        {
            Disposed = true;
            return ValueTask.CompletedTask;
        }
    }

    private sealed class DirectoryResolver(TenantDirectory directory) : ITenantResolver
    {
        public ValueTask<TenantInfo?> ResolveAsync(string tenantKey, CancellationToken cancellationToken) =>
            ValueTask.FromResult<TenantInfo?>(directory.Find(tenantKey));
    }

    /// <summary>A service of the application that takes both clusters' runtimes by key.</summary>
    private sealed class TwoClusters([FromKeyedServices("eu")] TenantDatabase eu, [FromKeyedServices("us")] TenantDatabase us)
    {
        public TenantDatabase Eu { get; } = eu;

        public TenantDatabase Us { get; } = us;
    }
}
