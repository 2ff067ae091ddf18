using Microsoft.CodeAnalysis;
using Verify = TenantDbGuard.Analyzers.Tests.Verifiers.CSharpAnalyzerVerifier<TenantDbGuard.Analyzers.DataSourcePerCallAnalyzer>;

namespace TenantDbGuard.Analyzers.Tests;

public sealed class DataSourcePerCallAnalyzerTests
{
    // ---------------------------------------------------------------- created per call: reported

    [Fact]
    public Task Data_source_in_an_await_using_declaration_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using MySqlConnector;

        class CustomerQueries
        {
            private readonly string _connectionString = "Server=db;Database=tenant_a";

            public async Task<object?> CountAsync()
            {
                await using var dataSource = {|#0:new MySqlDataSource(_connectionString)|};
                await using var conn = await dataSource.OpenConnectionAsync();
                using var command = new MySqlCommand("SELECT COUNT(*) FROM customers", conn);
                return await command.ExecuteScalarAsync();
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("new MySqlDataSource(...)"));

    [Fact]
    public Task Data_sources_chosen_by_a_conditional_or_a_switch_expression_are_reported() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        class C
        {
            public int Count(string region, string eu, string us)
            {
                using var dataSource = region switch
                {
                    "eu" => {|#0:new MySqlDataSource(eu)|},
                    _ => {|#1:new MySqlDataSource(us)|},
                };
                using var conn = dataSource.OpenConnection();
                using var command = new MySqlCommand("SELECT 1", conn);
                return (int)command.ExecuteScalar()!;
            }

            public int CountEither(bool europe, string eu, string us)
            {
                using var dataSource = europe ? {|#2:new MySqlDataSource(eu)|} : {|#3:new MySqlDataSource(us)|};
                using var conn = dataSource.OpenConnection();
                using var command = new MySqlCommand("SELECT 1", conn);
                return (int)command.ExecuteScalar()!;
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("new MySqlDataSource(...)"),
        Verify.Diagnostic().WithLocation(1).WithArguments("new MySqlDataSource(...)"),
        Verify.Diagnostic().WithLocation(2).WithArguments("new MySqlDataSource(...)"),
        Verify.Diagnostic().WithLocation(3).WithArguments("new MySqlDataSource(...)"));

    [Fact]
    public Task Data_source_used_inline_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            public async Task PingAsync(string connectionString)
            {
                await using var conn = await [|new MySqlDataSource(connectionString)|].OpenConnectionAsync();
                await conn.PingAsync();
            }
        }
        """);

    [Fact]
    public Task Data_source_kept_in_a_local_and_never_disposed_is_reported() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        class C
        {
            public int Count(string tenantConnectionString)
            {
                var dataSource = [|new MySqlDataSource(tenantConnectionString)|];
                using var conn = dataSource.OpenConnection();
                using var command = new MySqlCommand("SELECT 1", conn);
                return (int)command.ExecuteScalar()!;
            }
        }
        """);

    [Fact]
    public Task Builder_Build_in_a_using_is_reported_on_Build_only() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            public async Task TouchAsync(string connectionString)
            {
                var builder = new MySqlDataSourceBuilder(connectionString);
                await using var dataSource = {|#0:builder.Build()|};
                await using var conn = await dataSource.OpenConnectionAsync();
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("MySqlDataSourceBuilder.Build()"));

    [Fact]
    public Task Provider_factory_CreateDataSource_is_reported() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        class C
        {
            public void Touch(string connectionString)
            {
                using var dataSource = {|#0:MySqlConnectorFactory.Instance.CreateDataSource(connectionString)|};
                using var conn = dataSource.OpenConnection();
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("MySqlConnectorFactory.CreateDataSource()"));

    [Fact]
    public Task Discarded_data_sources_are_reported() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        class C
        {
            public void M(string connectionString)
            {
                _ = [|new MySqlDataSource(connectionString)|];
                [|new MySqlDataSource(connectionString)|];
            }
        }
        """);

    [Fact]
    public Task Data_source_created_in_a_request_lambda_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Threading.Tasks;
        using MySqlConnector;

        class Endpoints
        {
            public Func<string, Task> CreateHandler(Func<string, string> connectionStringFor) => async tenant =>
            {
                await using var dataSource = [|new MySqlDataSource(connectionStringFor(tenant))|];
                await using var conn = await dataSource.OpenConnectionAsync();
            };
        }
        """);

    [Fact]
    public Task Data_source_created_in_a_local_function_is_reported() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        class C
        {
            public void M(string[] connectionStrings)
            {
                foreach (var connectionString in connectionStrings)
                {
                    Touch(connectionString);
                }

                static void Touch(string connectionString)
                {
                    using var dataSource = [|new MySqlDataSource(connectionString)|];
                    using var conn = dataSource.OpenConnection();
                }
            }
        }
        """);

    [Fact]
    public Task Property_getter_that_returns_a_new_data_source_is_reported() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        class TenantContext
        {
            private readonly string _connectionString = "Server=db";

            public MySqlDataSource DataSource => [|new MySqlDataSource(_connectionString)|];

            public MySqlDataSource Other
            {
                get
                {
                    var dataSource = [|new MySqlDataSource(_connectionString)|];
                    return dataSource;
                }
            }
        }
        """);

    [Fact]
    public Task Data_source_created_in_an_entry_point_lambda_is_reported() => TopLevelTest("""
        using System;
        using System.Threading.Tasks;
        using MySqlConnector;

        Func<string, Task> handler = async connectionString =>
        {
            await using var dataSource = [|new MySqlDataSource(connectionString)|];
            await using var conn = await dataSource.OpenConnectionAsync();
        };
        await handler("Server=db");
        """);

    // ---------------------------------------------------------------- created once, or kept: not reported

    [Fact]
    public Task Static_field_initializer_and_static_constructor_are_not_reported() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        static class MasterDatabase
        {
            public static readonly MySqlDataSource Master = new MySqlDataSource("Server=db;Database=master");
            public static MySqlDataSource Reports { get; } = new MySqlDataSourceBuilder("Server=db;Database=reports").Build();
            public static readonly MySqlDataSource Audit;

            static MasterDatabase()
            {
                var dataSource = new MySqlDataSource("Server=db;Database=audit");
                Audit = dataSource;
            }
        }
        """);

    [Fact]
    public Task Data_source_used_inline_in_a_field_initializer_is_reported_unless_the_field_is_static() => Verify.VerifyAnalyzerAsync("""
        using System;
        using MySqlConnector;

        class TenantReport
        {
            private static readonly string ServerVersion = new MySqlDataSource("Server=db;Database=master").OpenConnection().ServerVersion;
            private static string Master { get; } = new MySqlDataSource("Server=db;Database=master").ConnectionString;

            private static readonly Func<string, int> Ping = cs => {|#0:new MySqlDataSource(cs)|}.OpenConnection().ServerThread;
            private readonly int _thread = {|#1:new MySqlDataSource("Server=db;Database=tenant_a")|}.OpenConnection().ServerThread;
            private string Tenant { get; } = {|#2:new MySqlDataSource("Server=db;Database=tenant_a")|}.ConnectionString;
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("new MySqlDataSource(...)"),
        Verify.Diagnostic().WithLocation(1).WithArguments("new MySqlDataSource(...)"),
        Verify.Diagnostic().WithLocation(2).WithArguments("new MySqlDataSource(...)"));

    [Fact]
    public Task Data_source_stored_in_a_field_or_property_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        class TenantDataSource
        {
            private static MySqlDataSource? s_shared;
            private MySqlDataSource? _lazy;
            private readonly MySqlDataSource _dataSource;

            public TenantDataSource(string connectionString)
            {
                _dataSource = new MySqlDataSource(connectionString);
                Secondary = new MySqlDataSourceBuilder(connectionString).Build();
            }

            public MySqlDataSource Secondary { get; }

            public MySqlDataSource Lazy(string connectionString) => _lazy ??= new MySqlDataSource(connectionString);

            public static MySqlDataSource Shared(string connectionString)
            {
                if (s_shared is null)
                {
                    var created = new MySqlDataSource(connectionString);
                    s_shared = created;
                }

                return s_shared;
            }
        }
        """);

    [Fact]
    public Task Factory_that_returns_the_data_source_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        static class DataSources
        {
            public static MySqlDataSource Create(string connectionString) => new MySqlDataSource(connectionString);

            public static MySqlDataSource CreateWithPooling(string connectionString, int maximumPoolSize)
            {
                var builder = new MySqlDataSourceBuilder(connectionString + ";Maximum Pool Size=" + maximumPoolSize);
                var dataSource = builder.Build();
                return dataSource;
            }
        }
        """);

    [Fact]
    public Task Data_source_cached_per_tenant_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Collections.Concurrent;
        using System.Collections.Generic;
        using System.Threading;
        using MySqlConnector;

        class TenantDataSources
        {
            private readonly ConcurrentDictionary<string, MySqlDataSource> _byTenant = new();
            private readonly ConcurrentDictionary<string, Lazy<MySqlDataSource>> _lazyByTenant = new();
            private readonly Dictionary<string, MySqlDataSource> _plain = new();
            private MySqlDataSource? _master;

            public MySqlDataSource For(string tenant) =>
                _byTenant.GetOrAdd(tenant, key => new MySqlDataSource("Server=db;Database=" + key));

            public MySqlDataSource ForWithBuilder(string tenant) =>
                _byTenant.GetOrAdd(tenant, key =>
                {
                    var builder = new MySqlDataSourceBuilder("Server=db;Database=" + key);
                    return builder.Build();
                });

            public MySqlDataSource Lazily(string tenant) =>
                _lazyByTenant.GetOrAdd(tenant, key => new Lazy<MySqlDataSource>(() => new MySqlDataSource("Server=db;Database=" + key))).Value;

            public MySqlDataSource Master() =>
                LazyInitializer.EnsureInitialized(ref _master, () => new MySqlDataSource("Server=db;Database=master"));

            public void Add(string tenant, string connectionString)
            {
                var dataSource = new MySqlDataSource(connectionString);
                if (!_byTenant.TryAdd(tenant, dataSource))
                {
                    dataSource.Dispose();
                }
            }

            public void Put(string tenant, string connectionString)
            {
                var dataSource = new MySqlDataSource(connectionString);
                _plain[tenant] = dataSource;
            }
        }
        """);

    [Fact]
    public Task Service_registrations_are_not_reported() => Verify.VerifyAnalyzerAsync("""
        using Microsoft.Extensions.DependencyInjection;
        using Microsoft.Extensions.DependencyInjection.Extensions;
        using MySqlConnector;

        static class DataAccessRegistration
        {
            public static IServiceCollection AddTenantDataAccess(this IServiceCollection services, string connectionString)
            {
                var reports = new MySqlDataSource(connectionString + ";Database=reports");
                services.AddSingleton(reports);
                services.AddKeyedSingleton("audit", (_, _) => new MySqlDataSource(connectionString + ";Database=audit"));
                services.TryAddSingleton(_ => new MySqlDataSourceBuilder(connectionString).Build());
                return services;
            }
        }

        class Startup
        {
            public void ConfigureServices(IServiceCollection services)
            {
                var dataSource = new MySqlDataSource("Server=db");
                services.AddSingleton(_ => dataSource);
            }
        }
        """);

    [Fact]
    public Task A_data_source_used_and_dropped_in_start_up_code_is_not_reported_and_elsewhere_is() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        sealed class ServiceRegistry
        {
        }

        class Startup
        {
            private static readonly string Version;

            static Startup()
            {
                using var probe = new MySqlDataSource("Server=db");
                Version = probe.OpenConnection().ServerVersion;
            }

            public void ConfigureServices(ServiceRegistry services)
            {
                using var probe = new MySqlDataSource("Server=db");
                probe.OpenConnection().Dispose();
            }

            public void Configure(ServiceRegistry services)
            {
                using var probe = {|#0:new MySqlDataSource("Server=db")|};
                probe.OpenConnection().Dispose();
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("new MySqlDataSource(...)"));

    [Fact]
    public Task Main_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using MySqlConnector;

        static class Program
        {
            static async Task Main(string[] args)
            {
                await using var dataSource = new MySqlDataSource(args[0]);
                await using var conn = await dataSource.OpenConnectionAsync();
                await conn.PingAsync();
            }
        }
        """);

    /// <summary>
    /// A hosted service's start runs once for the life of the app: a pool built there (a migration's own, or the one a
    /// worker's loop uses until it stops) is one pool, not one per call. Lambdas there, and methods that share only
    /// the name, are not start-up code.
    /// </summary>
    [Fact]
    public Task Hosted_service_start_and_a_worker_s_ExecuteAsync_are_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Threading;
        using System.Threading.Tasks;
        using Microsoft.Extensions.Hosting;
        using MySqlConnector;

        sealed class Poller(string cs) : BackgroundService
        {
            protected override async Task ExecuteAsync(CancellationToken stoppingToken)
            {
                await using var dataSource = new MySqlDataSource(cs);
                while (!stoppingToken.IsCancellationRequested)
                {
                    await using var conn = await dataSource.OpenConnectionAsync(stoppingToken);
                    await conn.PingAsync(stoppingToken);
                    Func<Task> perItem = async () =>
                    {
                        await using var each = {|#0:new MySqlDataSource(cs)|};
                    };
                    await perItem();
                }
            }
        }

        sealed class Migrator(string cs) : IHostedService, IHostedLifecycleService
        {
            public async Task StartAsync(CancellationToken cancellationToken)
            {
                await using var dataSource = new MySqlDataSourceBuilder(cs).Build();
                await using var conn = await dataSource.OpenConnectionAsync(cancellationToken);
            }

            public Task StartingAsync(CancellationToken cancellationToken)
            {
                using var dataSource = new MySqlDataSource(cs);
                return Task.CompletedTask;
            }

            public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

            public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

            public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

            public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        }

        sealed class NotHosted(string cs)
        {
            public async Task StartAsync()
            {
                await using var dataSource = {|#1:new MySqlDataSource(cs)|};
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("new MySqlDataSource(...)"),
        Verify.Diagnostic().WithLocation(1).WithArguments("new MySqlDataSource(...)"));

    /// <summary>
    /// A private method that only start-up code calls runs once too (<c>Main</c> handing its work to a helper); one that
    /// request code also calls, or that is used as a delegate, does not.
    /// </summary>
    [Fact]
    public Task A_private_method_that_only_start_up_code_calls_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Threading.Tasks;
        using MySqlConnector;

        static class Program
        {
            static async Task Main(string[] args)
            {
                await MigrateAsync(args[0]);
                Seed(args[0]);
                Func<string, Task> run = ProbeAsync;
                await run(args[0]);
            }

            private static async Task MigrateAsync(string cs)
            {
                await using var dataSource = new MySqlDataSource(cs);
                await using var conn = await dataSource.OpenConnectionAsync();
                Seed(cs);
            }

            private static void Seed(string cs)
            {
                using var dataSource = new MySqlDataSource(cs);
            }

            private static async Task ProbeAsync(string cs)
            {
                await using var dataSource = {|#0:new MySqlDataSource(cs)|};
            }

            private static void Shared(string cs)
            {
                using var dataSource = {|#1:new MySqlDataSource(cs)|};
            }

            public static void Request(string cs) => Shared(cs);

            public static void Startup(string cs) => Shared(cs);
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("new MySqlDataSource(...)"),
        Verify.Diagnostic().WithLocation(1).WithArguments("new MySqlDataSource(...)"));

    [Fact]
    public Task Top_level_statements_are_not_reported() => TopLevelTest("""
        using MySqlConnector;

        await using var dataSource = new MySqlDataSource("Server=db");
        await using var conn = await dataSource.OpenConnectionAsync();
        await conn.PingAsync();
        """);

    [Fact]
    public Task Data_source_handed_to_an_owner_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        sealed class TenantStore
        {
            public TenantStore(MySqlDataSource dataSource) => DataSource = dataSource;

            public MySqlDataSource DataSource { get; }
        }

        class C
        {
            public TenantStore Open(string connectionString) => new TenantStore(new MySqlDataSource(connectionString));
        }
        """);

    [Fact]
    public Task Builders_and_other_Build_methods_are_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Text;
        using MySqlConnector;

        class ReportBuilder
        {
            public string Build() => "report";
        }

        class C
        {
            public string M(string connectionString)
            {
                var builder = new MySqlDataSourceBuilder(connectionString);
                var settings = new MySqlConnectionStringBuilder(connectionString) { Database = "tenant_a" };
                var text = new StringBuilder().Append(settings.ConnectionString).ToString();
                return new ReportBuilder().Build() + text + builder.ConnectionStringBuilder.Database;
            }
        }
        """);

    [Fact]
    public Task A_method_that_hands_out_a_kept_data_source_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Collections.Concurrent;
        using System.Threading.Tasks;
        using MySqlConnector;

        class DataSources
        {
            private readonly ConcurrentDictionary<string, MySqlDataSource> _byTenant = new();

            public MySqlDataSource For(string tenant) => _byTenant[tenant];

            public static MySqlDataSource Shared(DataSources sources) => sources.For("shared");
        }

        class C
        {
            public async Task<int> CountAsync(DataSources sources, string tenant)
            {
                await using var connection = await sources.For(tenant).OpenConnectionAsync();
                await using var shared = await DataSources.Shared(sources).OpenConnectionAsync();
                return 0;
            }
        }
        """);

    [Fact]
    public Task Connections_are_not_data_sources() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        class C
        {
            public void M(string connectionString)
            {
                using var conn = new MySqlConnection(connectionString);
                conn.Open();
            }
        }
        """);

    private static Task TopLevelTest(string source)
    {
        var test = Verify.CreateTest(source);
        test.TestState.OutputKind = OutputKind.ConsoleApplication;
        return test.RunAsync(CancellationToken.None);
    }

    [Fact]
    public Task Data_source_used_inline_in_a_static_property_s_getter_is_reported_at_every_read() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        static class Db
        {
            public static int Thread => {|#0:new MySqlDataSource("Server=db")|}.OpenConnection().ServerThread;
            public static int Other { get { return {|#1:new MySqlDataSource("Server=db")|}.OpenConnection().ServerThread; } }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("new MySqlDataSource(...)"),
        Verify.Diagnostic().WithLocation(1).WithArguments("new MySqlDataSource(...)"));
}
