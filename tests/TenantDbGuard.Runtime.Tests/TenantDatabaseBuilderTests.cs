using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using MySqlConnector;
using TenantDbGuard.Runtime.Tests.Infrastructure;
using static TenantDbGuard.Runtime.Tests.Infrastructure.MarkedTenants;

namespace TenantDbGuard.Runtime.Tests;

[Collection(MariaDbCollection.Name)]
public sealed class TenantDatabaseBuilderTests(MariaDbFixture fixture) : IAsyncLifetime
{
    private MariaDbServer Server => fixture.Server;

    public Task InitializeAsync() => CreateAsync(Server);

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task The_session_callback_shapes_every_lease_whatever_the_previous_holder_did()
    {
        var calls = 0;
        await using var db = new TenantDatabaseBuilder(Server.GetAppConnectionString(MariaDbFixture.MasterDatabase))
            .ConfigureOptions(o => o.MaxConnections = 1)
            .UseSessionOpenedCallback(async (connection, token) =>
            {
                Interlocked.Increment(ref calls);
                await using var command = new MySqlCommand("SET SESSION time_zone = '+03:00'", connection);
                await command.ExecuteNonQueryAsync(token);
            })
            .Build();

        for (var round = 0; round < 2; round++)
        {
            foreach (var index in new[] { 0, 1, 2 })
            {
                Assert.Equal("+03:00", await db.ExecuteScalarTenantAsync<string>(Key(index), "SELECT @@session.time_zone"));
                await using (var lease = await db.GetConnectionAsync(Key(index)))
                {
                    Assert.Equal("+03:00", await lease.Connection.ExecuteScalarAsync<string>("SELECT @@session.time_zone"));
                    await lease.Connection.ExecuteAsync("SET SESSION time_zone = '+07:00'");
                }

                await using var connection = await db.ForTenant(Key(index)).OpenConnectionAsync();
                Assert.Equal("+03:00", await connection.ExecuteScalarAsync<string>("SELECT @@session.time_zone"));
                Assert.Equal(Key(index), await connection.ExecuteScalarAsync<string>("SELECT tenant FROM marker"));
            }
        }

        Assert.InRange(calls, 18, 40);
    }

    [Fact]
    public async Task Without_resets_the_session_callback_runs_once_for_a_tenant_that_keeps_its_connection()
    {
        var calls = 0;
        await using var db = new TenantDatabaseBuilder(Server.GetAppConnectionString(MariaDbFixture.MasterDatabase))
            .ConfigureOptions(o =>
            {
                o.MaxConnections = 1;
                o.ResetSessionOnRelease = false;
            })
            .UseSessionOpenedCallback((_, _) =>
            {
                Interlocked.Increment(ref calls);
                return default;
            })
            .Build();
        Assert.Equal(Key(0), await db.ExecuteScalarTenantAsync<string>(Key(0), "SELECT tenant FROM marker"));
        await db.WaitUntilAllReturnedAsync();
        var before = calls;

        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(Key(0), await db.ExecuteScalarTenantAsync<string>(Key(0), "SELECT tenant FROM marker"));
            await db.WaitUntilAllReturnedAsync();
        }

        Assert.Equal(before, calls);

        // Another tenant (after the master, which looks it up) gets the connection reset, and the callback again.
        Assert.Equal(Key(1), await db.ExecuteScalarTenantAsync<string>(Key(1), "SELECT tenant FROM marker"));
        Assert.InRange(calls, before + 1, before + 2);
    }

    [Fact]
    public async Task A_session_callback_that_fails_fails_the_acquisition_and_leaves_the_budget_whole()
    {
        await using var db = new TenantDatabaseBuilder(Server.GetAppConnectionString(MariaDbFixture.MasterDatabase))
            .ConfigureOptions(o => o.MaxConnections = 2)
            .UseSessionOpenedCallback((_, _) => throw new InvalidOperationException("no session for you"))
            .Build();

        var error = await Record.ExceptionAsync(() => db.ExecuteScalarTenantAsync<string>(Key(0), "SELECT tenant FROM marker"));

        Assert.NotNull(error);
        Assert.Contains("no session for you", error.ToString(), StringComparison.Ordinal);
        await db.WaitUntilAllReturnedAsync();
    }

    [Fact]
    public async Task The_periodic_password_provider_is_asked_once_however_many_connections_open()
    {
        var calls = 0;
        var withoutPassword = new MySqlConnectionStringBuilder(Server.GetAppConnectionString(MariaDbFixture.MasterDatabase));
        withoutPassword.Remove("Password");
        await using var db = new TenantDatabaseBuilder(withoutPassword.ConnectionString)
            .ConfigureOptions(o => o.MaxConnectionsPerTenant = 4)
            .UsePeriodicPasswordProvider(
                (context, _) =>
                {
                    Interlocked.Increment(ref calls);
                    Assert.Equal(MariaDbServer.AppUser, context.UserId);
                    return new ValueTask<string>(MariaDbServer.AppPassword);
                },
                TimeSpan.FromMinutes(10),
                TimeSpan.FromSeconds(1))
            .Build();

        // The budget is read from the server (a connection of its own), then four connections at once.
        await Task.WhenAll(Enumerable.Range(0, 4).Select(i => db.ExecuteScalarTenantAsync<long>(Key(i), "SELECT SLEEP(0.2)")));
        await db.WaitUntilAllReturnedAsync();

        Assert.True(db.GetBudgetSnapshot().Open >= 4, $"open: {db.GetBudgetSnapshot().Open}");
        Assert.Equal(1, calls);
    }

    [Fact]
    public async Task The_periodic_password_provider_is_asked_again_once_its_password_is_older_than_the_refresh_interval()
    {
        // A rotated password reaches the connections opened after the interval: the one fetch they share is renewed.
        var calls = 0;
        var time = new FakeTimeProvider();
        var withoutPassword = new MySqlConnectionStringBuilder(Server.GetAppConnectionString(MariaDbFixture.MasterDatabase));
        withoutPassword.Remove("Password");
        await using var db = new TenantDatabaseBuilder(withoutPassword.ConnectionString)
            .ConfigureOptions(o =>
            {
                o.MaxConnectionsPerTenant = 4;
                o.TimeProvider = time;
            })
            .UsePeriodicPasswordProvider(
                (_, _) =>
                {
                    Interlocked.Increment(ref calls);
                    return new ValueTask<string>(MariaDbServer.AppPassword);
                },
                TimeSpan.FromMinutes(10),
                TimeSpan.FromSeconds(1))
            .Build();

        Assert.Equal(Key(0), await db.ExecuteScalarTenantAsync<string>(Key(0), "SELECT tenant FROM marker"));
        await db.WaitUntilAllReturnedAsync();
        Assert.Equal(1, calls);

        // Still valid a minute before the interval ends; renewed once after it, however many connections open then.
        time.Advance(TimeSpan.FromMinutes(9));
        await Task.WhenAll(Enumerable.Range(0, 3).Select(i => db.ExecuteScalarTenantAsync<long>(Key(i), "SELECT SLEEP(0.2)")));
        await db.WaitUntilAllReturnedAsync();
        Assert.Equal(1, calls);
        var open = db.GetBudgetSnapshot().Open;

        time.Advance(TimeSpan.FromMinutes(2));
        await Task.WhenAll(Enumerable.Range(0, open + 2).Select(i => db.ExecuteScalarTenantAsync<long>(Key(i % Count), "SELECT SLEEP(0.2)")));
        await db.WaitUntilAllReturnedAsync();
        Assert.Equal(2, calls);
    }

    [Fact]
    public async Task A_wrong_password_from_the_provider_fails_the_acquisition()
    {
        var withoutPassword = new MySqlConnectionStringBuilder(Server.GetAppConnectionString(MariaDbFixture.MasterDatabase));
        withoutPassword.Remove("Password");
        await using var db = new TenantDatabaseBuilder(withoutPassword.ConnectionString)
            .ConfigureOptions(o =>
            {
                o.MaxConnections = 2;
                o.AcquireTimeout = TimeSpan.FromSeconds(1);
            })
            .UsePeriodicPasswordProvider((_, _) => new ValueTask<string>("not the password"), TimeSpan.FromMinutes(10), TimeSpan.FromSeconds(1))
            .Build();

        var error = await Assert.ThrowsAsync<ServerAccessDeniedException>(() => db.ExecuteScalarTenantAsync<string>(Key(0), "SELECT tenant FROM marker"));

        Assert.Contains("Access denied", error.Message, StringComparison.Ordinal);
        Assert.False(error.IsTransient);
    }

    [Fact]
    public async Task The_builder_copies_its_options_and_checks_them()
    {
        var builder = new TenantDatabaseBuilder(Server.GetAppConnectionString(MariaDbFixture.MasterDatabase));
        builder.Options.MaxConnections = 1;
        await using var db = builder.Build();
        builder.Options.MaxConnections = 50;
        Assert.Equal(1, db.GetBudgetSnapshot().Ceiling);

        var error = Assert.Throws<ArgumentException>(() => new TenantDatabaseBuilder().ConfigureOptions(o => o.MaxConnectionsPerTenant = 0).Build());
        Assert.Contains("MasterConnectionString", error.Message, StringComparison.Ordinal);
        Assert.Contains("MaxConnectionsPerTenant", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => builder.UsePeriodicPasswordProvider((_, _) => default, TimeSpan.Zero, TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public async Task The_service_provider_overload_configures_the_builder_and_validates_on_start()
    {
        var services = new ServiceCollection();
        services.AddTenantDbGuard((provider, builder) =>
        {
            builder.Options.MasterConnectionString = Server.GetAppConnectionString(MariaDbFixture.MasterDatabase);
            builder.UseSessionOpenedCallback(async (connection, token) =>
            {
                await using var command = new MySqlCommand("SET SESSION time_zone = '+04:00'", connection);
                await command.ExecuteNonQueryAsync(token);
            });
        });
        await using (var provider = services.BuildServiceProvider())
        {
            var db = provider.GetRequiredService<TenantDatabase>();
            Assert.Equal("+04:00", await db.ExecuteScalarTenantAsync<string>(Key(0), "SELECT @@session.time_zone"));
            Assert.Same(db, provider.GetRequiredService<TenantDatabase>());
        }

        var host = Host.CreateDefaultBuilder().ConfigureServices(s => s.AddTenantDbGuard((_, builder) => builder.Options.MaxConnectionsPerTenant = 0)).Build();
        var failure = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains(failure.Failures, f => f.Contains("MasterConnectionString", StringComparison.Ordinal));
        Assert.Contains(failure.Failures, f => f.Contains("MaxConnectionsPerTenant", StringComparison.Ordinal));
        host.Dispose();
    }
}
