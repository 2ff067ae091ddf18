using System.Collections.Concurrent;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using MySqlConnector;
using TenantDbGuard.EntityFrameworkCore.Tests.Infrastructure;
using TenantDbGuard.Runtime.Tests.Infrastructure;

namespace TenantDbGuard.EntityFrameworkCore.Tests;

/// <summary>
/// <c>AddTenantDbContext</c>: a scoped context for the scope's tenant, on a connection leased from the runtime only
/// while EF Core has it open, and given back on every path.
/// </summary>
[Collection(MariaDbCollection.Name)]
public sealed class TenantDbContextTests(MariaDbFixture fixture) : IAsyncLifetime
{
    private const int Tenants = 25;

    private MariaDbServer Server => fixture.Server;

    public Task InitializeAsync() => fixture.CreateTenantsAsync(Tenants);

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task A_query_reads_the_scopes_tenants_rows_and_the_lease_is_back_afterwards()
    {
        await using var host = await EfHost.CreateAsync(Server, o => o.MaxConnections = 2);

        var names = await host.InScopeAsync(MariaDbFixture.TenantKey(1), async context =>
        {
            var rows = await context.Customers.OrderBy(c => c.Id).Select(c => c.Name).ToListAsync();

            // EF Core closed the connection after the query: nothing is leased between two statements.
            Assert.Equal(0, host.Database.GetBudgetSnapshot().InUse);
            return rows;
        });

        Assert.Equal(["Ada", "Grace", "Linus"], names.Take(3));
        await host.Database.WaitUntilAllReturnedAsync();
    }

    [Fact]
    public async Task SaveChanges_writes_into_the_scopes_tenant_only()
    {
        await using var host = await EfHost.CreateAsync(Server, o => o.MaxConnections = 2);
        var name = "saved-" + Guid.NewGuid().ToString("N")[..12];

        var id = await host.InScopeAsync(MariaDbFixture.TenantKey(2), async context =>
        {
            var customer = new Customer { Name = name };
            context.Customers.Add(customer);
            Assert.Equal(1, await context.SaveChangesAsync());
            return customer.Id;
        });

        Assert.True(id > 3);
        Assert.Equal(1, await CountAsync(MariaDbFixture.TenantDatabase(2), name));
        Assert.Equal(0, await CountAsync(MariaDbFixture.TenantDatabase(3), name));
        await host.Database.WaitUntilAllReturnedAsync();
    }

    [Fact]
    public async Task An_explicit_transaction_keeps_its_lease_until_it_ends_and_commits_on_one_session()
    {
        await using var host = await EfHost.CreateAsync(Server, o => o.MaxConnections = 3);
        var name = "tx-" + Guid.NewGuid().ToString("N")[..12];

        await using (var scope = host.Scope(MariaDbFixture.TenantKey(4)))
        {
            var context = scope.ServiceProvider.GetRequiredService<CrmContext>();
            await using (var transaction = await context.Database.BeginTransactionAsync())
            {
                context.Customers.Add(new Customer { Name = name });
                await context.SaveChangesAsync();

                // Between statements of the transaction the connection stays leased (one lease), and the uncommitted row is
                // visible on the transaction's own session only.
                Assert.Equal(1, host.Database.GetBudgetSnapshot().InUse);
                Assert.Equal(1, await context.Customers.CountAsync(c => c.Name == name));
                Assert.Equal(0, await CountAsync(MariaDbFixture.TenantDatabase(4), name));

                await transaction.CommitAsync();
            }

            Assert.Equal(0, host.Database.GetBudgetSnapshot().InUse);
        }

        Assert.Equal(1, await CountAsync(MariaDbFixture.TenantDatabase(4), name));
        await host.Database.WaitUntilAllReturnedAsync();
    }

    [Fact]
    public async Task An_exception_in_the_middle_of_a_unit_of_work_rolls_back_and_releases_the_lease()
    {
        await using var host = await EfHost.CreateAsync(Server, o => o.MaxConnections = 2);
        var name = "failed-" + Guid.NewGuid().ToString("N")[..12];

        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => host.InScopeAsync<int>(MariaDbFixture.TenantKey(5), async context =>
        {
            // The transaction is never disposed by this code: the scope's end (the context's disposal) must end it.
            var transaction = await context.Database.BeginTransactionAsync();
            context.Customers.Add(new Customer { Name = name });
            await context.SaveChangesAsync();
            Assert.Equal(1, host.Database.GetBudgetSnapshot().InUse);
            throw new InvalidOperationException("the unit of work failed half way");
        }));

        Assert.Equal("the unit of work failed half way", failure.Message);
        await host.Database.WaitUntilAllReturnedAsync();
        Assert.Equal(0, await CountAsync(MariaDbFixture.TenantDatabase(5), name));

        // The next context gets a clean session: no transaction left open on it.
        var count = await host.InScopeAsync(MariaDbFixture.TenantKey(5), context => context.Customers.CountAsync(c => c.Name == name));
        Assert.Equal(0, count);
        await host.Database.WaitUntilAllReturnedAsync();
    }

    [Fact]
    public async Task A_connection_opened_explicitly_and_never_closed_goes_back_with_the_scope()
    {
        await using var host = await EfHost.CreateAsync(Server, o => o.MaxConnections = 2);

        await using (var scope = host.Scope(MariaDbFixture.TenantKey(6)))
        {
            var context = scope.ServiceProvider.GetRequiredService<CrmContext>();
            await context.Database.OpenConnectionAsync();
            Assert.Equal(3, await context.Customers.CountAsync(c => c.Id <= 3));
            Assert.Equal(1, host.Database.GetBudgetSnapshot().InUse);
        }

        await host.Database.WaitUntilAllReturnedAsync();
    }

    [Fact]
    public async Task A_context_created_by_the_factory_and_disposed_gives_back_its_open_connection()
    {
        await using var host = await EfHost.CreateAsync(Server, o => o.MaxConnections = 2);
        var factory = host.Services.GetRequiredService<TenantDbContextFactory<CrmContext>>();

        await using (var context = factory.CreateDbContext(MariaDbFixture.TenantKey(7)))
        {
            await context.Database.OpenConnectionAsync();
            Assert.Equal(1, host.Database.GetBudgetSnapshot().InUse);
        }

        await host.Database.WaitUntilAllReturnedAsync();
    }

    [Fact]
    public async Task A_context_disposed_without_ever_opening_takes_no_lease()
    {
        // The server version is given, so not even the master is asked for it.
        await using var host = await EfHost.CreateAsync(Server, o => o.MaxConnections = 2, c => c.ServerVersion = ServerVersion.Parse("10.11.0-mariadb"));

        await using (var scope = host.Scope(MariaDbFixture.TenantKey(8)))
        {
            var context = scope.ServiceProvider.GetRequiredService<CrmContext>();
            context.Customers.Add(new Customer { Name = "never saved" });
        }

        var snapshot = host.Database.GetBudgetSnapshot();
        Assert.Equal(0, snapshot.Open);
        Assert.Equal(0, snapshot.InUse);
    }

    [Fact]
    public async Task Fifty_concurrent_contexts_across_tenants_stay_within_a_budget_of_five()
    {
        const int Budget = 5;
        const int Contexts = 50;
        await Server.WaitForAppConnectionsAsync();
        await using var host = await EfHost.CreateAsync(Server, o =>
        {
            o.MaxConnections = Budget;
            o.MaxConnectionsPerTenant = Budget;
            o.AcquireTimeout = TimeSpan.FromSeconds(60);
        });

        var maxOpen = 0;
        var maxServer = 0;
        using var stop = new CancellationTokenSource();
        var watcher = Task.Run(async () =>
        {
            // One root connection for the whole watch (root is not the application's account, so it is not counted).
            await using var root = await Server.OpenConnectionAsync();
            await using var count = new MySqlCommand("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = @user", root);
            count.Parameters.AddWithValue("@user", MariaDbServer.AppUser);
            while (!stop.IsCancellationRequested)
            {
                maxOpen = Math.Max(maxOpen, host.Database.GetBudgetSnapshot().Open);
                maxServer = Math.Max(maxServer, Convert.ToInt32(await count.ExecuteScalarAsync()));
                await Task.Delay(10);
            }
        });

        var failures = new ConcurrentBag<Exception>();
        var work = Enumerable.Range(0, Contexts).Select(i => Task.Run(async () =>
        {
            var tenant = i % Tenants + 1;
            var name = $"load-{i}-" + Guid.NewGuid().ToString("N")[..8];
            try
            {
                await host.InScopeAsync(MariaDbFixture.TenantKey(tenant), async context =>
                {
                    Assert.Equal(3, await context.Customers.CountAsync(c => c.Id <= 3));
                    context.Customers.Add(new Customer { Name = name });
                    await context.SaveChangesAsync();
                    await using (var transaction = await context.Database.BeginTransactionAsync())
                    {
                        var saved = await context.Customers.SingleAsync(c => c.Name == name);
                        context.Customers.Remove(saved);
                        await context.SaveChangesAsync();
                        await transaction.CommitAsync();
                    }

                    return 0;
                });
            }
            catch (Exception exception)
            {
                failures.Add(exception);
            }
        })).ToList();
        await Task.WhenAll(work);
        await stop.CancelAsync();
        await watcher;

        Assert.Empty(failures);
        Assert.InRange(maxOpen, 1, Budget);
        Assert.InRange(maxServer, 1, Budget);
        Assert.Equal(0, await Server.GetStatusAsync("Connection_errors_max_connections"));
        var snapshot = await host.Database.WaitUntilAllReturnedAsync();
        Assert.InRange(snapshot.Open, 0, Budget);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task The_tenant_retry_strategy_retries_a_full_budget_where_Pomelos_own_gives_up(bool tenantStrategy)
    {
        await using var host = await EfHost.CreateAsync(
            Server,
            o =>
            {
                o.MaxConnections = 1;
                o.AcquireTimeout = TimeSpan.FromMilliseconds(300);
            },
            c => c.MySqlOptions = tenantStrategy
                ? mySql => mySql.EnableTenantRetryOnFailure(maxRetryCount: 20, maxRetryDelay: TimeSpan.FromMilliseconds(300))
                : mySql => mySql.EnableRetryOnFailure(maxRetryCount: 20, maxRetryDelay: TimeSpan.FromMilliseconds(300), errorNumbersToAdd: null));
        var key = MariaDbFixture.TenantKey(6);

        // EF Core builds its model on first use (a second or more here): done before the holder below takes the budget.
        Assert.True(await host.InScopeAsync(key, context => context.Customers.CountAsync()) >= 3);
        await host.Database.WaitUntilAllReturnedAsync();

        // The budget's one connection is held for a second, three times the acquire timeout: a first attempt fails with
        // ConnectionBudgetExhaustedException (transient), and only a retry after the holder let go can succeed.
        var holder = await host.Database.GetConnectionAsync(key);
        var letGo = Task.Run(async () =>
        {
            await Task.Delay(TimeSpan.FromSeconds(1));
            await holder.DisposeAsync();
        });
        var query = host.InScopeAsync(key, context => context.Customers.CountAsync());
        if (tenantStrategy)
        {
            Assert.True(await query >= 3);
            Assert.True(host.Database.CountTimeouts(TimeSpan.FromMinutes(1)) >= 1, "No attempt timed out: nothing was retried.");
        }
        else
        {
            // Pomelo's strategy knows only MySqlException: it does not retry the runtime's transient error.
            var error = await Assert.ThrowsAsync<ConnectionBudgetExhaustedException>(() => query);
            Assert.True(error.IsTransient);
        }

        await letGo;
        await host.Database.WaitUntilAllReturnedAsync();
    }

    [Fact]
    public async Task The_tenant_retry_strategy_retries_a_query_whose_connection_is_killed_under_it()
    {
        // The strategy's documentation promises retries of a lost connection; under EF Core the loss reaches it as the
        // driver's own error ("Failed to read the result set"), which before was not retried.
        await using var host = await EfHost.CreateAsync(
            Server,
            o => o.MaxConnections = 2,
            c => c.MySqlOptions = mySql => mySql.EnableTenantRetryOnFailure(3, TimeSpan.FromMilliseconds(100)));
        var key = MariaDbFixture.TenantKey(13);
        Assert.True(await host.InScopeAsync(key, context => context.Customers.CountAsync()) >= 3);
        await using var root = await Server.OpenConnectionAsync();
        var killed = 0;
        var killer = Task.Run(async () =>
        {
            var stopwatch = System.Diagnostics.Stopwatch.StartNew();
            while (stopwatch.Elapsed < TimeSpan.FromSeconds(10))
            {
                await using var find = new MySqlCommand(
                    "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = @user AND INFO LIKE '%SLEEP(1.5)%' " +
                    "AND INFO NOT LIKE '%PROCESSLIST%'",
                    root);
                find.Parameters.AddWithValue("@user", MariaDbServer.AppUser);
                if (await find.ExecuteScalarAsync() is { } id)
                {
                    await Task.Delay(200);
                    await using var kill = new MySqlCommand($"KILL CONNECTION {id}", root);
                    await kill.ExecuteNonQueryAsync();
                    killed++;
                    return;
                }

                await Task.Delay(20);
            }
        });

        var names = await host.InScopeAsync(key, context => context.Database
            .SqlQueryRaw<string>("SELECT CAST(CONCAT(DATABASE(), '/', SLEEP(1.5)) AS CHAR) AS Value").ToListAsync());
        await killer;

        Assert.Equal(1, killed);
        Assert.Equal([MariaDbFixture.TenantDatabase(13) + "/0"], names);
        await host.Database.WaitUntilAllReturnedAsync();
    }

    [Fact]
    public async Task A_context_never_sees_another_tenants_rows_even_on_the_same_physical_connection()
    {
        // One physical connection for everything: every context of either tenant reuses it.
        await using var host = await EfHost.CreateAsync(Server, o => o.MaxConnections = 1);
        var marker = Guid.NewGuid().ToString("N")[..12];
        await Server.ExecuteAsync($"INSERT INTO customers (name) VALUES ('a-{marker}')", MariaDbFixture.TenantDatabase(9));
        await Server.ExecuteAsync($"INSERT INTO customers (name) VALUES ('b-{marker}')", MariaDbFixture.TenantDatabase(10));

        for (var round = 0; round < 5; round++)
        {
            var a = await host.InScopeAsync(MariaDbFixture.TenantKey(9), context => context.Customers.Where(c => c.Name.EndsWith(marker)).Select(c => c.Name).ToListAsync());
            var b = await host.InScopeAsync(MariaDbFixture.TenantKey(10), context => context.Customers.Where(c => c.Name.EndsWith(marker)).Select(c => c.Name).ToListAsync());
            Assert.Equal([$"a-{marker}"], a);
            Assert.Equal([$"b-{marker}"], b);
        }

        Assert.Equal(1, (await host.Database.WaitUntilAllReturnedAsync()).Open);
    }

    [Fact]
    public async Task A_context_disposed_on_another_thread_while_its_query_runs_fails_that_query_with_a_typed_error_not_a_driver_crash()
    {
        // A context captured by a background task outlives its request: the scope's end disposes it (and gives its
        // lease back) while the task's query still runs on it. Before, the driver failed with a NullReferenceException.
        // The lease's session stays the tenant's until the statement ends; what the task then gets depends on where the
        // query is when the scope ends: EF Core's error for a disposed context, the runtime's for a connection closed
        // under the statement, or the driver's for a reader closed with its connection. Each is an
        // InvalidOperationException; none reaches the next tenant.
        await using var host = await EfHost.CreateAsync(Server, o => o.MaxConnections = 1);
        Task<List<int>> background;
        await using (var scope = host.Scope(MariaDbFixture.TenantKey(11)))
        {
            var context = scope.ServiceProvider.GetRequiredService<CrmContext>();
            background = Task.Run(() => context.Database.SqlQueryRaw<int>("SELECT SLEEP(2) AS Value").ToListAsync());
            await host.Database.WaitForSnapshotAsync(s => s.InUse == 1, TimeSpan.FromSeconds(5));
            await Task.Delay(200);
        }

        var error = await Assert.ThrowsAnyAsync<InvalidOperationException>(
            () => background.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.True(
            error is ObjectDisposedException { ObjectName: nameof(CrmContext) }
                || error.Message.Contains("closed while the statement ran", StringComparison.Ordinal)
                || error.Message.Contains("MySqlDataReader is closed", StringComparison.Ordinal),
            error.ToString());
        Assert.DoesNotContain(nameof(NullReferenceException), error.ToString(), StringComparison.Ordinal);

        // The one connection of the budget comes back, and the next tenant is served on its own database.
        await host.Database.WaitUntilAllReturnedAsync();
        var names = await host.InScopeAsync(MariaDbFixture.TenantKey(12), context => context.Database
            .SqlQueryRaw<string>("SELECT CAST(DATABASE() AS CHAR) AS Value").ToListAsync());
        Assert.Equal([MariaDbFixture.TenantDatabase(12)], names);
        await host.Database.WaitUntilAllReturnedAsync();
    }

    [Fact]
    public async Task A_master_connection_string_without_AllowUserVariables_is_a_typed_error_that_says_what_to_add()
    {
        await using var host = await EfHost.CreateAsync(Server, masterConnectionString: Server.GetAppConnectionString(MariaDbFixture.MasterDatabase));
        await using var scope = host.Scope(MariaDbFixture.TenantKey(1));

        var error = Assert.Throws<TenantDbContextConfigurationException>(() => scope.ServiceProvider.GetRequiredService<CrmContext>());
        Assert.Contains("AllowUserVariables=True", error.Message, StringComparison.Ordinal);
        Assert.Contains("MasterConnectionString", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, host.Database.GetBudgetSnapshot().InUse);
    }

    [Fact]
    public async Task A_malformed_tenant_key_fails_when_the_context_is_resolved()
    {
        await using var host = await EfHost.CreateAsync(Server);
        await using var scope = host.Scope("bad key; DROP DATABASE x");

        Assert.Throws<InvalidTenantKeyException>(() => scope.ServiceProvider.GetRequiredService<CrmContext>());
    }

    [Fact]
    public async Task The_server_version_is_read_over_a_master_connection_of_the_budget_that_goes_back()
    {
        // A budget of one: the master connection that read the version must be back before the tenant's query can run.
        await using var host = await EfHost.CreateAsync(Server, o =>
        {
            o.MaxConnections = 1;
            o.AcquireTimeout = TimeSpan.FromSeconds(5);
        });

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(3, await host.InScopeAsync(MariaDbFixture.TenantKey(1), context => context.Customers.CountAsync(c => c.Id <= 3)));
        }

        Assert.Equal(1, (await host.Database.WaitUntilAllReturnedAsync()).Open);
    }

    [Fact]
    public async Task The_host_starts_while_the_master_is_out_of_reach_and_the_context_fails_with_the_connection_error()
    {
        var unreachable = new MySqlConnectionStringBuilder(EfHost.MasterConnectionString(Server)) { Port = (uint)RuntimeTestExtensions.UnusedPort() };
        await using var host = await EfHost.CreateAsync(Server, o => o.AcquireTimeout = TimeSpan.FromSeconds(1), masterConnectionString: unreachable.ConnectionString);
        await using var scope = host.Scope(MariaDbFixture.TenantKey(1));

        Assert.ThrowsAny<System.Data.Common.DbException>(() => scope.ServiceProvider.GetRequiredService<CrmContext>());
        Assert.Equal(0, host.Database.GetBudgetSnapshot().InUse);
    }

    [Fact]
    public async Task A_context_resolved_and_queried_synchronously_under_a_single_threaded_synchronization_context_completes()
    {
        // A desktop application or a Blazor circuit: services built by hand (no host started them, so the server's
        // version is first read by the first context) and a context created and queried on the context's one thread.
        var services = new ServiceCollection();
        services.AddTenantDbGuard(options => options.MasterConnectionString = EfHost.MasterConnectionString(Server));
        services.AddScoped<CurrentTenant>();
        services.AddTenantDbContext<CrmContext>(sp => sp.GetRequiredService<CurrentTenant>().Key!);
        await using var provider = services.BuildServiceProvider();

        var (count, posts) = await SingleThreadedContext.Run(
            () =>
            {
                using var scope = provider.CreateScope();
                scope.ServiceProvider.GetRequiredService<CurrentTenant>().Key = MariaDbFixture.TenantKey(2);
                return scope.ServiceProvider.GetRequiredService<CrmContext>().Customers.Count(c => c.Id <= 3);
            },
            TimeSpan.FromSeconds(15));

        Assert.Equal((3, 0), (count, posts));
        await provider.GetRequiredService<TenantDatabase>().WaitUntilAllReturnedAsync();
    }

    private async Task<long> CountAsync(string database, string name)
    {
        await using var connection = await Server.OpenConnectionAsync(database);
        await using var command = new MySqlCommand("SELECT COUNT(*) FROM customers WHERE name = @name", connection);
        command.Parameters.AddWithValue("@name", name);
        return Convert.ToInt64(await command.ExecuteScalarAsync());
    }
}
