using Microsoft.CodeAnalysis;
using Verify = TenantDbGuard.Analyzers.Tests.Verifiers.CSharpAnalyzerVerifier<TenantDbGuard.Analyzers.SharedPoolClosedAnalyzer>;

namespace TenantDbGuard.Analyzers.Tests;

public sealed class SharedPoolClosedAnalyzerTests
{
    private const string ClosesSharedPool = "closes a connection pool it did not create; release the connection instead and leave the pool to its owner";
    private const string ClearsPools = "empties connection pools outside shutdown code, closing the pooled connections of every caller; release the connection instead and clear pools only when the app stops";

    /// <summary>A pool in the prelude's shape that is also disposable, and a registry that hands out shared data sources.</summary>
    private const string Pools = """

        namespace Shared
        {
            using System;
            using Prelude;
            using MySqlConnector;

            public sealed class DisposablePool : IDisposable
            {
                public ConnectionLease GetConnection() => new ConnectionLease();
                public void Dispose() { }
            }

            public sealed class DataSourceRegistry
            {
                public MySqlDataSource GetDataSource(string tenant) => new MySqlDataSource("Server=db;Database=" + tenant);
            }
        }
        """;

    // ---------------------------------------------------------------- a pool the method did not create: reported

    [Fact]
    public Task Disposing_a_data_source_field_in_request_code_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using MySqlConnector;

        class CustomerRepository
        {
            private readonly MySqlDataSource _dataSource;

            public CustomerRepository(MySqlDataSource dataSource) => _dataSource = dataSource;

            public async Task<object?> CountAsync()
            {
                try
                {
                    await using var conn = await _dataSource.OpenConnectionAsync();
                    using var command = new MySqlCommand("SELECT COUNT(*) FROM customers", conn);
                    return await command.ExecuteScalarAsync();
                }
                finally
                {
                    await {|#0:_dataSource.DisposeAsync()|};
                }
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("_dataSource.DisposeAsync()", ClosesSharedPool));

    [Fact]
    public Task Disposing_a_parameter_is_reported() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        class C
        {
            public void Run(MySqlDataSource dataSource)
            {
                using (var conn = dataSource.OpenConnection())
                {
                }

                [|dataSource.Dispose()|];
            }
        }
        """);

    [Fact]
    public Task Disposing_a_pool_from_the_service_provider_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using Microsoft.Extensions.DependencyInjection;
        using MySqlConnector;

        class C
        {
            public void Run(IServiceProvider services)
            {
                {|#0:services.GetRequiredService<MySqlDataSource>().Dispose()|};
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("services.GetRequiredService<MySqlDataSource>().Dispose()", ClosesSharedPool));

    [Fact]
    public Task Disposing_a_cached_data_source_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Collections.Concurrent;
        using System.Collections.Generic;
        using MySqlConnector;

        class TenantQueries
        {
            private readonly ConcurrentDictionary<string, MySqlDataSource> _byTenant = new();

            public void AfterLookup(string tenant)
            {
                if (_byTenant.TryGetValue(tenant, out var dataSource))
                {
                    using var conn = dataSource.OpenConnection();
                    [|dataSource.Dispose()|];
                }
            }

            public void AfterIndexer(string tenant)
            {
                var dataSource = _byTenant[tenant];
                using (var conn = dataSource.OpenConnection())
                {
                }

                [|dataSource.Dispose()|];
            }

            public void LazyValue(ConcurrentDictionary<string, Lazy<MySqlDataSource>> lazyByTenant, string tenant) =>
                [|lazyByTenant[tenant].Value.Dispose()|];

            public void ConditionalAccess(string tenant) => [|_byTenant.GetValueOrDefault(tenant)?.Dispose()|];
        }
        """);

    [Fact]
    public Task Pool_from_a_method_of_the_code_that_only_shares_a_name_with_Interlocked_or_beside_unrelated_lambdas_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Collections.Generic;
        using MySqlConnector;
        using Shared;

        sealed class Switchboard
        {
            private readonly Dictionary<string, MySqlDataSource> _byTenant = new();

            public MySqlDataSource Exchange(string tenant) => _byTenant[tenant];

            public MySqlDataSource CompareExchange(string tenant, string fallback) => _byTenant.TryGetValue(tenant, out var found) ? found : _byTenant[fallback];
        }

        class C
        {
            private readonly DataSourceRegistry _registry = new();
            private readonly Switchboard _switchboard = new();
            private readonly List<string> _tenants = new();
            private int _visited;

            public void ByName(string tenant)
            {
                [|_switchboard.Exchange(tenant).Dispose()|];
                [|_switchboard.CompareExchange(tenant, "main").Dispose()|];
            }

            public void BesideLambdas(string tenant)
            {
                var dataSource = _registry.GetDataSource(tenant);
                _tenants.ForEach(name => Console.WriteLine(name));
                _tenants.ForEach(name => _visited = name.Length);
                [|dataSource.Dispose()|];
            }
        }
        """ + Pools);

    [Fact]
    public Task Using_over_a_shared_data_source_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using MySqlConnector;
        using Shared;

        class C
        {
            private readonly DataSourceRegistry _registry = new();
            private readonly MySqlDataSource _master = new("Server=db");

            public async Task DeclarationAsync(string tenant)
            {
                await using var dataSource = {|#0:_registry.GetDataSource(tenant)|};
                await using var conn = await dataSource.OpenConnectionAsync();
            }

            public void Statement()
            {
                using ({|#1:_master|})
                {
                    using var conn = _master.OpenConnection();
                }
            }
        }
        """ + Pools,
        Verify.Diagnostic().WithLocation(0).WithArguments("using var dataSource", ClosesSharedPool),
        Verify.Diagnostic().WithLocation(1).WithArguments("using (_master)", ClosesSharedPool));

    [Fact]
    public Task Using_over_a_primary_constructor_parameter_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading;
        using System.Threading.Tasks;
        using MySqlConnector;

        sealed class CustomerRepository(MySqlDataSource dataSource)
        {
            public async Task<object?> CountAsync(CancellationToken ct)
            {
                await using var source = [|dataSource|];
                await using var conn = await source.OpenConnectionAsync(ct);
                using var command = new MySqlCommand("SELECT COUNT(*) FROM customers", conn);
                return await command.ExecuteScalarAsync(ct);
            }
        }
        """);

    [Fact]
    public Task Disposing_a_pool_field_is_reported() => Verify.VerifyAnalyzerAsync("""
        using Shared;

        class C
        {
            private readonly DisposablePool _pool = new();

            public int Run()
            {
                using var lease = _pool.GetConnection();
                var rows = lease.Execute("DELETE FROM sessions");
                [|_pool.Dispose()|];
                return rows;
            }
        }
        """ + Pools);

    [Fact]
    public Task Disposing_a_pool_typed_as_an_interface_that_inherits_its_getter_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Threading.Tasks;
        using Prelude;

        interface IConnectionSource
        {
            ValueTask<ConnectionLease> GetConnectionAsync(string tenant);
        }

        interface ITenantPool : IConnectionSource, IDisposable
        {
        }

        interface ISessionScope : IDisposable
        {
        }

        class C
        {
            private readonly ITenantPool _pool;
            private readonly ISessionScope _scope;

            public C(ITenantPool pool, ISessionScope scope) => (_pool, _scope) = (pool, scope);

            public async Task<int> RunAsync()
            {
                await using var lease = await _pool.GetConnectionAsync("tenant-1");
                var rows = lease.Execute("DELETE FROM sessions");
                _scope.Dispose();
                {|#0:_pool.Dispose()|};
                return rows;
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("_pool.Dispose()", ClosesSharedPool));

    [Fact]
    public Task Disposing_every_cached_data_source_from_request_code_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Collections.Concurrent;
        using MySqlConnector;

        class TenantDataSources
        {
            private readonly ConcurrentDictionary<string, MySqlDataSource> _byTenant = new();

            public void Reset()
            {
                foreach (var dataSource in _byTenant.Values)
                {
                    [|dataSource.Dispose()|];
                }
            }
        }
        """);

    [Fact]
    public Task Disposing_in_a_request_lambda_of_Main_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Threading.Tasks;
        using MySqlConnector;

        static class Program
        {
            static async Task Main()
            {
                await using var master = new MySqlDataSource("Server=db");
                Func<MySqlDataSource, Task> handler = async dataSource =>
                {
                    await using var conn = await dataSource.OpenConnectionAsync();
                    await [|dataSource.DisposeAsync()|];
                };
                await handler(master);
            }
        }
        """);

    [Fact]
    public Task Disposing_a_shared_data_source_assigned_in_the_same_lambda_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using MySqlConnector;

        class Handlers
        {
            private readonly MySqlDataSource _shared;

            public Handlers(MySqlDataSource shared) => _shared = shared;

            public Action Cleanup() => () =>
            {
                MySqlDataSource dataSource;
                dataSource = _shared;
                [|dataSource.Dispose()|];
            };
        }
        """);

    [Fact]
    public Task Clearing_pools_in_request_code_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            public async Task RecoverAsync(MySqlConnection conn, MySqlException exception)
            {
                if (exception.ErrorCode == MySqlErrorCode.ConnectionCountError)
                {
                    {|#0:MySqlConnection.ClearAllPools()|};
                    [|MySqlConnection.ClearPool(conn)|];
                    await [|MySqlConnection.ClearAllPoolsAsync()|];
                    await [|MySqlConnection.ClearPoolAsync(conn)|];
                }
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("MySqlConnection.ClearAllPools()", ClearsPools));

    // ---------------------------------------------------------------- the method's own pool, or shutdown code: not reported

    [Fact]
    public Task Disposing_a_data_source_the_method_created_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Threading;
        using System.Threading.Tasks;
        using MySqlConnector;

        class Migrator
        {
            public async Task MigrateAsync(string connectionString)
            {
                var dataSource = new MySqlDataSourceBuilder(connectionString).Build();
                try
                {
                    await using var conn = await dataSource.OpenConnectionAsync();
                }
                finally
                {
                    await dataSource.DisposeAsync();
                }

                await using var second = CreateDataSource(connectionString);
                using (var third = new MySqlDataSource(connectionString))
                {
                }

                var fourth = new MySqlDataSource(connectionString);
                using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
                timeout.Token.Register(() => fourth.Dispose());
            }

            private static MySqlDataSource CreateDataSource(string connectionString) => new(connectionString);
        }
        """);

    /// <summary>
    /// A delegate has no name that says what it does, and its body is not in sight: a factory handed in as
    /// <c>Func&lt;string, MySqlDataSource&gt;</c> may build a new pool on every call, so disposing what it made is
    /// not reported. A named method's value stays judged by its name (a lookup is shared).
    /// </summary>
    [Fact]
    public Task Disposing_a_pool_made_by_a_delegate_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Threading;
        using System.Threading.Tasks;
        using MySqlConnector;
        using Shared;

        delegate MySqlDataSource DataSourceMaker(string connectionString);

        sealed class TenantMigrator(Func<string, MySqlDataSource> makeDataSource, DataSourceMaker maker)
        {
            private readonly Func<string, MySqlDataSource> _factory = makeDataSource;
            private readonly DataSourceRegistry _registry = new();

            private Func<MySqlDataSource>? Fallback { get; init; }

            public async Task MigrateAsync(string connectionString, CancellationToken ct)
            {
                var dataSource = _factory(connectionString);
                try
                {
                    await using var conn = await dataSource.OpenConnectionAsync(ct);
                }
                finally
                {
                    await dataSource.DisposeAsync();
                }

                await using var second = makeDataSource.Invoke(connectionString);
                using (var third = maker(connectionString))
                {
                }

                Fallback?.Invoke().Dispose();
            }

            public static void Probe(string connectionString, Func<string, MySqlDataSource> build)
            {
                using var dataSource = build(connectionString);
                using var conn = dataSource.OpenConnection();
            }

            public void StillALookup(string tenant)
            {
                [|_registry.GetDataSource(tenant).Dispose()|];
            }
        }
        """ + Pools);

    /// <summary>
    /// A private helper or a local function that disposes its parameter is judged by what its callers give it: only
    /// pools they created, not reported; a shared pool from any of them, reported. Its calls of itself pass on what it
    /// was given.
    /// </summary>
    [Fact]
    public Task A_private_helper_is_judged_by_the_pools_its_callers_give_it() => Verify.VerifyAnalyzerAsync("""
        using System;
        using MySqlConnector;

        class Migrator
        {
            private readonly MySqlDataSource _master = new("Server=db");

            public void Migrate(string connectionString)
            {
                var dataSource = new MySqlDataSource(connectionString);
                try
                {
                    using var conn = dataSource.OpenConnection();
                }
                finally
                {
                    DisposeQuietly(dataSource);
                    Close(dataSource);
                    CloseEither(dataSource);
                    CloseRetrying(dataSource, 3);
                }

                static void Close(MySqlDataSource pool) => pool.Dispose();
            }

            public void Probe(string connectionString)
            {
                DisposeQuietly(dataSource: new MySqlDataSource(connectionString));
                CloseEither(_master);
                Release(_master);

                void Release(MySqlDataSource pool) => [|pool.Dispose()|];
            }

            private static void DisposeQuietly(MySqlDataSource dataSource)
            {
                try
                {
                    dataSource.Dispose();
                }
                catch (ObjectDisposedException)
                {
                }
            }

            private static void CloseEither(MySqlDataSource dataSource) => [|dataSource.Dispose()|];

            private static void CloseRetrying(MySqlDataSource dataSource, int attempts)
            {
                try
                {
                    dataSource.Dispose();
                }
                catch (InvalidOperationException) when (attempts > 0)
                {
                    CloseRetrying(dataSource, attempts - 1);
                }
            }

            public static void CloseGiven(MySqlDataSource dataSource) => [|dataSource.Dispose()|];
        }
        """);

    [Fact]
    public Task Owner_Dispose_methods_and_finalizers_are_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Collections.Concurrent;
        using System.Threading.Tasks;
        using MySqlConnector;

        sealed class TenantDataSources : IDisposable, IAsyncDisposable
        {
            private readonly ConcurrentDictionary<string, MySqlDataSource> _byTenant = new();
            private readonly MySqlDataSource _master = new("Server=db");

            public void Dispose()
            {
                foreach (var dataSource in _byTenant.Values)
                {
                    dataSource.Dispose();
                }

                _master.Dispose();
            }

            public async ValueTask DisposeAsync()
            {
                foreach (var dataSource in _byTenant.Values)
                {
                    await dataSource.DisposeAsync().ConfigureAwait(false);
                }

                await _master.DisposeAsync().ConfigureAwait(false);
            }
        }

        class Base : IAsyncDisposable
        {
            protected readonly MySqlDataSource DataSource = new("Server=db");

            ~Base() => DataSource.Dispose();

            protected virtual void Dispose(bool disposing)
            {
                if (disposing)
                {
                    DataSource.Dispose();
                }
            }

            protected virtual ValueTask DisposeAsyncCore() => DataSource.DisposeAsync();

            ValueTask IAsyncDisposable.DisposeAsync() => DataSource.DisposeAsync();
        }
        """);

    [Fact]
    public Task Hosted_service_stop_and_stopping_callbacks_are_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading;
        using System.Threading.Tasks;
        using Microsoft.Extensions.Hosting;
        using MySqlConnector;

        sealed class PoolShutdown : IHostedService
        {
            private readonly MySqlDataSource _dataSource;

            public PoolShutdown(MySqlDataSource dataSource, IHostApplicationLifetime lifetime)
            {
                _dataSource = dataSource;
                lifetime.ApplicationStopping.Register(() => MySqlConnection.ClearAllPools());
                lifetime.ApplicationStopped.Register(() => _dataSource.Dispose());
            }

            public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

            public async Task StopAsync(CancellationToken cancellationToken)
            {
                await _dataSource.DisposeAsync();
                await MySqlConnection.ClearAllPoolsAsync(cancellationToken);
            }
        }

        sealed class Worker : BackgroundService
        {
            private readonly MySqlDataSource _dataSource;

            public Worker(MySqlDataSource dataSource) => _dataSource = dataSource;

            protected override async Task ExecuteAsync(CancellationToken stoppingToken)
            {
                await using var conn = await _dataSource.OpenConnectionAsync(stoppingToken);
            }

            public override async Task StopAsync(CancellationToken cancellationToken)
            {
                await base.StopAsync(cancellationToken);
                _dataSource.Dispose();
            }
        }
        """);

    [Fact]
    public Task Main_and_top_level_statements_are_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using Microsoft.Extensions.DependencyInjection;
        using MySqlConnector;

        static class Program
        {
            static void Main()
            {
                var services = Host.Build();
                services.GetRequiredService<MySqlDataSource>().Dispose();
                MySqlConnection.ClearAllPools();
                AppDomain.CurrentDomain.ProcessExit += (_, _) => services.GetRequiredService<MySqlDataSource>().Dispose();
            }
        }

        static class Host
        {
            public static IServiceProvider Build() => throw new NotSupportedException("The container is built by the host.");
        }
        """);

    [Fact]
    public Task Top_level_statements_are_not_reported()
    {
        var test = Verify.CreateTest("""
            using MySqlConnector;
            using Shared;

            var registry = new DataSourceRegistry();
            var dataSource = registry.GetDataSource("tenant_a");
            await using (var conn = await dataSource.OpenConnectionAsync())
            {
            }

            await dataSource.DisposeAsync();
            await MySqlConnection.ClearAllPoolsAsync();
            """ + Pools);
        test.TestState.OutputKind = OutputKind.ConsoleApplication;
        return test.RunAsync(CancellationToken.None);
    }

    [Fact]
    public Task Taking_a_data_source_out_of_the_cache_or_replacing_it_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Collections.Concurrent;
        using System.Threading;
        using MySqlConnector;

        class TenantDataSources
        {
            private readonly ConcurrentDictionary<string, MySqlDataSource> _byTenant = new();
            private MySqlDataSource _master = new("Server=db");

            private MySqlDataSource Reports { get; set; } = new("Server=db;Database=reports");

            public void Evict(string tenant)
            {
                if (_byTenant.TryRemove(tenant, out var evicted))
                {
                    evicted.Dispose();
                }
            }

            public void EvictLazy(ConcurrentDictionary<string, Lazy<MySqlDataSource>> lazyByTenant, string tenant)
            {
                if (lazyByTenant.TryRemove(tenant, out var evicted) && evicted.IsValueCreated)
                {
                    evicted.Value.Dispose();
                }
            }

            public void RotateMaster(string connectionString)
            {
                var old = _master;
                _master = new MySqlDataSource(connectionString);
                old.Dispose();
            }

            public void RotateAtomically(string connectionString) =>
                Interlocked.Exchange(ref _master, new MySqlDataSource(connectionString)).Dispose();

            public void RotateReports(string connectionString)
            {
                var old = Reports;
                Reports = new MySqlDataSource(connectionString);
                old.Dispose();
            }
        }
        """);

    [Fact]
    public Task A_data_source_the_method_takes_out_of_its_cache_or_replaces_there_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Collections.Concurrent;
        using System.Collections.Generic;
        using System.Linq;
        using MySqlConnector;

        class TenantDataSources
        {
            private readonly ConcurrentDictionary<string, MySqlDataSource> _byTenant = new();
            private readonly Dictionary<string, (MySqlDataSource Source, DateTime Used)> _recent = new();
            private readonly Dictionary<string, MySqlDataSource> _plain = new();

            // Evicted from a copy of the cache: the entry leaves the cache, then its pool is closed.
            public void EvictIdle(DateTime before)
            {
                foreach (var (tenant, entry) in _recent.ToArray())
                {
                    if (entry.Used < before)
                    {
                        _recent.Remove(tenant);
                        entry.Source.Dispose();
                    }
                }
            }

            // Walked and removed from a concurrent cache, the pool closed once it is out.
            public void EvictAll()
            {
                foreach (var pair in _byTenant)
                {
                    _byTenant.TryRemove(pair.Key, out _);
                    pair.Value.Dispose();
                }
            }

            // Every pool closed and the cache emptied: the owner resets it.
            public void Reset()
            {
                foreach (var dataSource in _plain.Values)
                {
                    dataSource.Dispose();
                }

                _plain.Clear();
            }

            // Read, then taken out: the classic eviction of a dictionary.
            public void Forget(string tenant)
            {
                var dataSource = _plain[tenant];
                _plain.Remove(tenant);
                dataSource.Dispose();
            }

            // The least recently used entry of a list, taken off its end and closed.
            public void DropOldest(LinkedList<(string Tenant, MySqlDataSource Source)> unused)
            {
                var last = _order.Last!;
                _order.RemoveLast();
                last.Value.Source.Dispose();
            }

            private readonly LinkedList<(string Tenant, MySqlDataSource Source)> _order = new();
            private MySqlDataSource _current = new("Server=db");

            // Swapped through a local that holds the new pool.
            public void Rotate(string connectionString)
            {
                var next = new MySqlDataSource(connectionString);
                var previous = _current;
                _current = next;
                previous.Dispose();
            }

            // Looked up, then swapped for a new one in the same cache.
            public void Swap(string tenant, string connectionString)
            {
                if (_byTenant.TryGetValue(tenant, out var current) && _byTenant.TryUpdate(tenant, new MySqlDataSource(connectionString), current))
                {
                    current.Dispose();
                }
            }

            public void Overwrite(string tenant, string connectionString)
            {
                if (_plain.TryGetValue(tenant, out var current))
                {
                    _plain[tenant] = new MySqlDataSource(connectionString);
                    current.Dispose();
                }
            }

            // The old pool handed over by the update of the cache entry, closed once the new one is in.
            public void Replace(string tenant, string connectionString)
            {
                var fresh = new MySqlDataSource(connectionString);
                MySqlDataSource? old = null;
                _byTenant.AddOrUpdate(tenant, fresh, (_, previous) =>
                {
                    old = previous;
                    return fresh;
                });
                old?.Dispose();
            }
        }
        """);

    [Fact]
    public Task A_pool_read_by_a_call_on_a_collection_the_method_then_empties_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Collections.Generic;
        using System.Linq;
        using MySqlConnector;

        class DataSourceCache
        {
            private readonly Dictionary<string, MySqlDataSource> _byTenant = new();
            private readonly List<MySqlDataSource> _order = new();
            private readonly Queue<MySqlDataSource> _spares = new();

            // An extension method reading the entry, then the entry removed: the cache evicting its own pool.
            public void Evict(string tenant)
            {
                var evicted = _byTenant.GetValueOrDefault(tenant);
                _byTenant.Remove(tenant);
                evicted?.Dispose();
            }

            public void DropOldest()
            {
                var oldest = _order.First();
                _order.RemoveAt(0);
                oldest.Dispose();
            }

            // An instance method reading the entry, then the collection cleared.
            public void DropSpares()
            {
                var next = _spares.Peek();
                _spares.Clear();
                next.Dispose();
            }
        }
        """);

    [Theory]
    [InlineData("ConcurrentStack<MySqlDataSource>", "TryPop(out _)")]
    [InlineData("ConcurrentQueue<MySqlDataSource>", "TryDequeue(out _)")]
    [InlineData("ConcurrentBag<MySqlDataSource>", "TryTake(out _)")]
    public Task Pools_walked_in_a_collection_the_method_also_takes_one_out_of_are_not_reported(string collection, string take) => Verify.VerifyAnalyzerAsync($$"""
        using System.Collections.Concurrent;
        using MySqlConnector;

        class SpareDataSources
        {
            private readonly {{collection}} _spares = new();

            // One taken out, the rest closed: the owner draining its own collection.
            public void Drain()
            {
                _spares.{{take}};
                foreach (var spare in _spares)
                {
                    spare.Dispose();
                }
            }
        }
        """);

    [Fact]
    public Task Closing_in_a_private_method_that_only_shutdown_code_calls_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Collections.Concurrent;
        using System.Threading;
        using System.Threading.Tasks;
        using MySqlConnector;

        sealed class TenantDataSources : IDisposable, IAsyncDisposable
        {
            private readonly ConcurrentDictionary<string, MySqlDataSource> _byTenant = new();
            private readonly MySqlDataSource _master = new("Server=db");

            public void Dispose() => CloseAll();

            public async ValueTask DisposeAsync()
            {
                await CloseAllAsync().ConfigureAwait(false);
            }

            private void CloseAll()
            {
                foreach (var dataSource in _byTenant.Values)
                {
                    dataSource.Dispose();
                }

                CloseMaster();
            }

            private void CloseMaster() => CloseMaster(retries: 1);

            private void CloseMaster(int retries)
            {
                if (retries > 0)
                {
                    CloseMaster(retries - 1);
                    return;
                }

                _master.Dispose();
            }

            private async Task CloseAllAsync()
            {
                foreach (var dataSource in _byTenant.Values)
                {
                    await dataSource.DisposeAsync().ConfigureAwait(false);
                }

                await _master.DisposeAsync().ConfigureAwait(false);
            }
        }
        """);

    private const string ShutdownRegistrations = """
        using System;
        using System.Collections.Concurrent;
        using System.Threading;
        using System.Threading.Tasks;
        using Microsoft.Extensions.Hosting;
        using MySqlConnector;

        sealed class CacheEntry
        {
            public void RegisterPostEvictionCallback(Action<object, object?> callback) { }
        }

        partial class Pools
        {
            private readonly ConcurrentDictionary<string, MySqlDataSource> _sources = new();
            private readonly MySqlDataSource _master = new("Server=db");

            public MySqlDataSource For(string t) => _sources.GetOrAdd(t, k => new MySqlDataSource("Database=" + k));

            public Pools(IHostApplicationLifetime lifetime, CacheEntry entry, CancellationToken token)
            {
                REGISTER
            }

            MEMBERS
        }

        """;

    [Theory]
    [InlineData("lifetime.ApplicationStopping.Register(CloseAll);", "private void CloseAll() { foreach (var source in _sources.Values) source.Dispose(); }")]
    [InlineData("lifetime.ApplicationStopped.Register(this.CloseAll);", "private void CloseAll() { foreach (var source in _sources.Values) source.Dispose(); }")]
    [InlineData("lifetime.ApplicationStopping.UnsafeRegister(CloseAll, null);", "private void CloseAll(object? state) => _master.Dispose();")]
    [InlineData("lifetime.ApplicationStopping.Register(new Action(CloseAll));", "private void CloseAll() => _master.Dispose();")]
    [InlineData("lifetime.ApplicationStopping.Register(CloseAll);", "private void CloseAll() => CloseMaster(); private void CloseMaster() => _master.Dispose();")]
    [InlineData("lifetime.ApplicationStopping.Register(CloseAll);", "private void CloseAll() => _master.Dispose(); public void Dispose() => CloseAll();")]
    [InlineData("lifetime.ApplicationStopping.Register(CloseAll);", "private async void CloseAll() => await _master.DisposeAsync();")]
    [InlineData("AppDomain.CurrentDomain.ProcessExit += OnProcessExit;", "private void OnProcessExit(object? sender, EventArgs e) => _master.Dispose();")]
    [InlineData("entry.RegisterPostEvictionCallback(OnEvicted);", "private void OnEvicted(object key, object? value) => _master.Dispose();")]
    [InlineData("lifetime.ApplicationStopping.Register(Close); void Close() => _master.Dispose();", "")]
    [InlineData("lifetime.ApplicationStopping.Register(() => Close()); void Close() => _master.Dispose();", "")]
    [InlineData("lifetime.ApplicationStopping.Register(Close); void Close() { foreach (var source in _sources.Values) source.Dispose(); }", "")]
    public Task Closing_in_a_method_registered_as_a_shutdown_callback_by_its_method_group_is_not_reported(string register, string members) =>
        Verify.VerifyAnalyzerAsync(ShutdownRegistrations.Replace("REGISTER", register).Replace("MEMBERS", members));

    [Fact]
    public Task Closing_in_a_method_registered_as_a_shutdown_callback_in_another_part_of_the_type_is_not_reported() =>
        Verify.VerifyAnalyzerAsync(ShutdownRegistrations.Replace("REGISTER", "").Replace("MEMBERS", "private void CloseAll() => _master.Dispose();") + """
            partial class Pools
            {
                public void Start(IHostApplicationLifetime lifetime) => lifetime.ApplicationStopping.Register(CloseAll);
            }
            """);

    [Theory]
    // Not private, also used as a delegate in request code, registered for a token that is not the app stopping, or a
    // local function also run by request code: who runs it is not known, as for the lambda that calls it.
    [InlineData("lifetime.ApplicationStopping.Register(CloseAll);", "public void CloseAll() => [|_master.Dispose()|];")]
    [InlineData("lifetime.ApplicationStopping.Register(() => CloseAll());", "public void CloseAll() => [|_master.Dispose()|];")]
    [InlineData("lifetime.ApplicationStopping.Register(CloseAll);", "private void CloseAll() => [|_master.Dispose()|]; public Task Reset() => Task.Run(CloseAll);")]
    [InlineData("lifetime.ApplicationStopping.Register(CloseAll);", "private void CloseAll() => [|_master.Dispose()|]; public void Reset() => CloseAll();")]
    [InlineData("token.Register(CloseAll);", "private void CloseAll() => [|_master.Dispose()|];")]
    [InlineData("token.Register(() => CloseAll());", "private void CloseAll() => [|_master.Dispose()|];")]
    [InlineData("Action close = CloseAll; close();", "private void CloseAll() => [|_master.Dispose()|];")]
    [InlineData("lifetime.ApplicationStopping.Register(Close); Close(); void Close() => [|_master.Dispose()|];", "")]
    [InlineData("token.Register(Close); void Close() => [|_master.Dispose()|];", "")]
    [InlineData("Action close = Close; close(); void Close() => [|_master.Dispose()|];", "")]
    public Task Closing_in_a_method_group_that_request_code_may_run_is_still_reported(string register, string members) =>
        Verify.VerifyAnalyzerAsync(ShutdownRegistrations.Replace("REGISTER", register).Replace("MEMBERS", members));

    [Fact]
    public Task A_local_function_of_Main_is_shutdown_code_only_when_registered_as_a_shutdown_callback() => Verify.VerifyAnalyzerAsync("""
        using System;
        using Microsoft.Extensions.DependencyInjection;
        using Microsoft.Extensions.Hosting;
        using MySqlConnector;

        static class Program
        {
            static void Main()
            {
                var services = Host.Build();
                var lifetime = services.GetRequiredService<IHostApplicationLifetime>();
                lifetime.ApplicationStopping.Register(Stop);
                Close();

                void Stop() => services.GetRequiredService<MySqlDataSource>().Dispose();

                void Close() => [|services.GetRequiredService<MySqlDataSource>().Dispose()|];
            }
        }

        static class Host
        {
            public static IServiceProvider Build() => throw new NotSupportedException("The container is built by the host.");
        }
        """);

    [Fact]
    public Task Closing_in_a_method_that_request_code_may_call_is_still_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Collections.Concurrent;
        using MySqlConnector;

        sealed class TenantDataSources : IDisposable
        {
            private readonly ConcurrentDictionary<string, MySqlDataSource> _byTenant = new();
            private readonly MySqlDataSource _master = new("Server=db");
            private readonly MySqlDataSource _audit = new("Server=audit");
            private readonly MySqlDataSource _reports = new("Server=reports");

            public void Dispose()
            {
                CloseAll();
                CloseMaster();
                Action close = CloseAudit;
                close();
                CloseReports();
            }

            public void Reload() => CloseAll();

            private void CloseAll()
            {
                foreach (var dataSource in _byTenant.Values)
                {
                    [|dataSource.Dispose()|];
                }
            }

            public void CloseMaster() => [|_master.Dispose()|];

            private void CloseAudit() => [|_audit.Dispose()|];

            private void CloseReports()
            {
                Action later = () => [|_reports.Dispose()|];
                later();
            }
        }
        """);

    [Fact]
    public Task A_cached_data_source_closed_while_it_stays_in_the_cache_is_still_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Collections.Concurrent;
        using System.Collections.Generic;
        using System.Linq;
        using MySqlConnector;

        class TenantDataSources
        {
            private readonly ConcurrentDictionary<string, MySqlDataSource> _byTenant = new();
            private readonly Dictionary<string, (MySqlDataSource Source, DateTime Used)> _recent = new();
            private readonly Dictionary<string, MySqlDataSource> _other = new();

            public void CloseIdle(DateTime before)
            {
                foreach (var pair in _byTenant)
                {
                    [|pair.Value.Dispose()|];
                }
            }

            public void CloseOne(string tenant) => [|_recent[tenant].Source.Dispose()|];

            public void CloseLookedUp(string tenant)
            {
                if (_byTenant.TryGetValue(tenant, out var current))
                {
                    _other[tenant] = new MySqlDataSource("Server=db");
                    [|current.Dispose()|];
                }
            }

            public void CloseOneWhileForgettingAnother(string tenant)
            {
                var dataSource = _byTenant[tenant];
                _other.Remove(tenant);
                [|dataSource.Dispose()|];
            }

            private MySqlDataSource _current = new("Server=db");

            public void SwapIn(MySqlDataSource given)
            {
                var next = given;
                var previous = _current;
                _current = next;
                [|previous.Dispose()|];
            }

            public void CloseWhileClearingAnother()
            {
                foreach (var dataSource in _byTenant.Values)
                {
                    [|dataSource.Dispose()|];
                }

                _other.Clear();
            }

            public void CloseLater(string tenant)
            {
                var dataSource = _byTenant[tenant];
                Action close = () => [|dataSource.Dispose()|];
                close();
            }

            public void CloseEach(Action<Action<MySqlDataSource>> each) => each(dataSource => [|dataSource.Dispose()|]);
        }
        """);

    [Fact]
    public Task Disposing_connections_leases_and_other_types_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using MySqlConnector;
        using Prelude;

        sealed class DisposableSettings : IDisposable
        {
            public ConnectionInfo GetConnection() => new ConnectionInfo("db", 3306);
            public void Dispose() { }
        }

        class C
        {
            private readonly MySqlConnection _connection = new();
            private readonly DisposableSettings _settings = new();

            public void Run(ConnectionLease lease, MySqlDataSourceBuilder builder)
            {
                _connection.Dispose();
                lease.Dispose();
                _settings.Dispose();
                using (_connection)
                {
                }
            }
        }
        """);

    [Fact]
    public Task A_pool_disposing_itself_and_other_ClearPool_methods_are_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using Prelude;

        sealed class SelfClosingPool : IDisposable
        {
            public ConnectionLease GetConnection() => new ConnectionLease();

            public void Shutdown() => Dispose();

            public void Dispose() { }
        }

        static class CacheAdmin
        {
            public static void ClearPool(string name) { }

            public static void Run() => ClearPool("tenants");
        }
        """);

    // ---------------------------------------------------------------- a library's own pool-clearing API

    [Fact]
    public Task Static_method_that_only_forwards_to_ClearAllPools_is_the_callers_business() => Verify.VerifyAnalyzerAsync("""
        using System.Threading;
        using System.Threading.Tasks;
        using MySqlConnector;

        public static class TenantPools
        {
            /// <summary>Empties every connection pool of the process.</summary>
            public static void ClearAll() => MySqlConnection.ClearAllPools();

            public static Task ClearAllAsync(CancellationToken cancellationToken = default) => MySqlConnection.ClearAllPoolsAsync(cancellationToken);

            public static void Clear(MySqlConnection connection)
            {
                MySqlConnection.ClearPool(connection);
            }

            internal static void ClearThroughAnother() => ClearAll();
        }

        class TenantController
        {
            public async Task ResetAsync(MySqlConnection connection)
            {
                {|#0:TenantPools.ClearAll()|};
                await [|TenantPools.ClearAllAsync()|];
                [|TenantPools.Clear(connection)|];
                [|TenantPools.ClearThroughAnother()|];
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("TenantPools.ClearAll()", ClearsPools));

    [Fact]
    public Task Static_method_that_does_more_than_forward_is_reported_inside() => Verify.VerifyAnalyzerAsync("""
        using System;
        using MySqlConnector;

        public static class TenantPools
        {
            public static void ResetAfterFailover(string reason)
            {
                Console.WriteLine("failover: " + reason);
                [|MySqlConnection.ClearAllPools()|];
            }

            public static void ClearWhen(bool failedOver)
            {
                if (failedOver)
                {
                    [|MySqlConnection.ClearAllPools()|];
                }
            }

            // It computes what it passes on (not only its parameters and constants): not a mere forwarder.
            public static void ClearFirst(MySqlConnection[] connections) => [|MySqlConnection.ClearPool(connections[0])|];

            private static readonly object Gate = new();

            // The one call sits under an 'if' without braces, or in a 'lock': the body does more than call it.
            public static void ClearUnless(bool healthy)
            {
                if (!healthy) [|MySqlConnection.ClearAllPools()|];
            }

            public static void ClearLocked()
            {
                lock (Gate) [|MySqlConnection.ClearAllPools()|];
            }
        }
        """);

    [Fact]
    public Task Forwarder_that_awaits_with_ConfigureAwait_passes_a_constant_or_is_a_local_function_is_the_callers_business() => Verify.VerifyAnalyzerAsync("""
        using System.Threading;
        using System.Threading.Tasks;
        using MySqlConnector;

        public static class TenantPools
        {
            public static async Task ClearAllAsync(CancellationToken cancellationToken) => await MySqlConnection.ClearAllPoolsAsync(cancellationToken).ConfigureAwait(false);

            public static async Task ClearAllInBlockAsync()
            {
                await MySqlConnection.ClearAllPoolsAsync().ConfigureAwait(false);
            }

            public static void ClearAll(string reason) => MySqlConnection.ClearAllPools();

            public static void ClearQuietly() => ClearAll("quiet");
        }

        class TenantController
        {
            public async Task ResetAsync()
            {
                await [|TenantPools.ClearAllAsync(default)|];
                await [|TenantPools.ClearAllInBlockAsync()|];
                [|TenantPools.ClearQuietly()|];
                void Clear() => MySqlConnection.ClearAllPools();
                [|Clear()|];
            }
        }
        """);

    [Fact]
    public Task A_chain_of_more_than_nine_forwarders_is_reported_where_it_stops_being_followed() =>
        // F9 clears the pools and F1 is eight forwarders above it: both are forwarders, whichever is analysed first.
        // F0, one further, is not: its call to F1 is reported inside it, and its callers are not.
        Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        public static class TenantPools
        {
            public static void F0() => [|F1()|];
            public static void F1() => F2();
            public static void F2() => F3();
            public static void F3() => F4();
            public static void F4() => F5();
            public static void F5() => F6();
            public static void F6() => F7();
            public static void F7() => F8();
            public static void F8() => F9();
            public static void F9() => MySqlConnection.ClearAllPools();
        }

        class TenantController
        {
            public void Reset()
            {
                TenantPools.F0();
                [|TenantPools.F1()|];
                [|TenantPools.F9()|];
            }
        }
        """);

    [Fact]
    public Task Accessor_whose_whole_body_clears_pools_is_reported_inside() =>
        // Its callers do not call a method, so they are not judged: the clearing is reported where it is written.
        Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        public sealed class TenantPools
        {
            public static bool Cleared { set => [|MySqlConnection.ClearAllPools()|]; }

            public static event System.Action Failover
            {
                add => [|MySqlConnection.ClearAllPools()|];
                remove { [|MySqlConnection.ClearAllPools()|]; }
            }
        }
        """);

    [Fact]
    public Task Partial_method_that_only_forwards_to_ClearAllPools_is_the_callers_business() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        public static partial class TenantPools
        {
            public static partial void ClearAll();
        }

        public static partial class TenantPools
        {
            public static partial void ClearAll() => MySqlConnection.ClearAllPools();
        }

        class TenantController
        {
            public void Reset()
            {
                System.Console.WriteLine("reset");
                [|TenantPools.ClearAll()|];
            }
        }
        """);
}
