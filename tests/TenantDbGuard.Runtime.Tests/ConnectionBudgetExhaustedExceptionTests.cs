using Microsoft.Extensions.Time.Testing;
using Microsoft.Extensions.Logging;
using TenantDbGuard.Runtime.Tests.Infrastructure;

namespace TenantDbGuard.Runtime.Tests;

[Collection(MariaDbCollection.Name)]
public sealed class ConnectionBudgetExhaustedExceptionTests(MariaDbFixture fixture) : IAsyncLifetime
{
    private const int BudgetExhausted = 1011;
    private static readonly TimeSpan ShortWait = TimeSpan.FromMilliseconds(300);

    private MariaDbServer Server => fixture.Server;

    public Task InitializeAsync() => fixture.CreateTenantsAsync(3);

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task A_tenant_at_its_cap_waits_then_fails_naming_the_tenant_cap()
    {
        var logs = new CapturedLogs();
        using var metrics = new RecordedMetrics();
        await using var db = Server.CreateTenantDatabase(
            o =>
            {
                o.MaxConnectionsPerTenant = 2;
                o.AcquireTimeout = ShortWait;
            },
            logs,
            metrics);
        await using var first = await db.GetConnectionAsync(Key(1));
        await using var second = await db.GetConnectionAsync(Key(1));

        var error = await Assert.ThrowsAsync<ConnectionBudgetExhaustedException>(() => db.QueryTenantAsync<int>(Key(1), "SELECT 1"));

        Assert.Equal(ConnectionBudgetKind.Tenant, error.Budget);
        Assert.Equal((Key(1), 2, 2), (error.TenantKey, error.Limit, error.Held));
        Assert.InRange(error.Waited, ShortWait - TimeSpan.FromMilliseconds(50), ShortWait + TimeSpan.FromSeconds(2));
        Assert.True(error.IsTransient);
        Assert.Null(error.InnerException);
        Assert.Contains($"tenant '{Key(1)}'", error.Message);
        Assert.Contains("per-tenant cap", error.Message);
        Assert.Contains("2 of 2", error.Message);
        Assert.Contains("MaxConnectionsPerTenant", error.Message);
        var logged = Assert.Single(logs.WithId(BudgetExhausted));
        Assert.Equal(LogLevel.Warning, logged.Level);
        var timeout = Assert.Single(metrics.Of("tenantdbguard.connections.timeouts"));
        Assert.Equal("Tenant", timeout.Tags["tenantdbguard.budget"]);

        // The cap is the tenant's alone: others get connections meanwhile.
        Assert.Equal([1], await db.QueryTenantAsync<int>(Key(2), "SELECT 1"));
    }

    [Fact]
    public async Task A_full_process_budget_fails_naming_the_process_budget()
    {
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.MaxConnections = 2;
            o.AcquireTimeout = ShortWait;
        });
        await db.QueryTenantAsync<int>(Key(3), "SELECT 1");
        await using var first = await db.GetConnectionAsync(Key(1));
        await using var second = await db.GetConnectionAsync(Key(2));

        var error = await Assert.ThrowsAsync<ConnectionBudgetExhaustedException>(() => db.QueryTenantAsync<int>(Key(3), "SELECT 1"));

        Assert.Equal(ConnectionBudgetKind.Process, error.Budget);
        Assert.Equal((Key(3), 2, 2), (error.TenantKey, error.Limit, error.Held));
        Assert.Contains("process connection budget", error.Message);
        Assert.Contains("2 of 2", error.Message);
        Assert.Contains("MaxConnections", error.Message);
        Assert.Contains("LeakDetectionThreshold", error.Message);
        Assert.Equal(0, db.GetBudgetSnapshot().Waiting);
    }

    [Fact]
    public async Task A_budget_that_keeps_its_last_connection_free_for_cancellation_does_not_claim_all_are_in_use()
    {
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.MaxConnections = 2;
            o.AcquireTimeout = ShortWait;
        });
        // Two connections open (both at once), one of them then held and the other idle.
        await Task.WhenAll(db.QueryTenantAsync<int>(Key(2), "SELECT SLEEP(0.2)"), db.QueryTenantAsync<int>(Key(3), "SELECT SLEEP(0.2)"));
        Assert.Equal(2, db.GetBudgetSnapshot().Open);
        await using var held = await db.GetConnectionAsync(Key(1));
        using var cancellable = new CancellationTokenSource();

        // A caller that can cancel needs a second connection free to kill its statement with: the budget is full for it.
        var error = await Assert.ThrowsAsync<ConnectionBudgetExhaustedException>(() => db.QueryTenantAsync<int>(Key(2), "SELECT 1", cancellationToken: cancellable.Token));

        Assert.Equal((ConnectionBudgetKind.Process, 2, 2), (error.Budget, error.Limit, error.Held));
        Assert.Equal(1, db.GetBudgetSnapshot().InUse);
        Assert.Contains("2 of 2 connections open", error.Message);
        Assert.DoesNotContain("open, all in use)", error.Message);
        Assert.Contains("the last one kept free to kill cancelled statements with", error.Message);
    }

    [Fact]
    public async Task A_full_master_cap_fails_naming_the_master_cap()
    {
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.MaxMasterConnections = 1;
            o.AcquireTimeout = ShortWait;
        });
        await using var held = await db.GetMasterConnectionAsync();

        var error = await Assert.ThrowsAsync<ConnectionBudgetExhaustedException>(() => db.QueryMasterAsync<int>("SELECT 1"));

        Assert.Equal(ConnectionBudgetKind.Master, error.Budget);
        Assert.Equal((TenantDatabase.MasterKey, 1, 1), (error.TenantKey, error.Limit, error.Held));
        Assert.Contains("master database cap", error.Message);
        Assert.Contains("MaxMasterConnections", error.Message);
    }

    [Fact]
    public async Task A_waiter_gets_the_connection_that_comes_back_before_its_timeout()
    {
        using var metrics = new RecordedMetrics();
        await using var db = Server.CreateTenantDatabase(o => o.MaxConnections = 1, meters: metrics);
        await db.QueryTenantAsync<int>(Key(2), "SELECT 1");
        var held = await db.GetConnectionAsync(Key(1));

        var waiter = db.QueryTenantAsync<string>(Key(2), "SELECT DATABASE()");
        await Task.Delay(250);
        Assert.False(waiter.IsCompleted);
        await held.DisposeAsync();

        Assert.Equal([MariaDbFixture.TenantDatabase(2)], await waiter.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Contains(metrics.Of("tenantdbguard.connections.wait_time"), m => m.Value >= 0.2);
        Assert.Empty(metrics.Of("tenantdbguard.connections.timeouts"));
    }

    [Fact]
    public void A_budget_of_one_keeps_nothing_free()
    {
        var error = new ConnectionBudgetExhaustedException("acme", ConnectionBudgetKind.Process, 1, 1, TimeSpan.FromSeconds(1));

        Assert.Contains("(1 of 1 connections open, all in use)", error.Message);
    }

    [Fact]
    public async Task The_exception_says_what_to_change()
    {
        var error = new ConnectionBudgetExhaustedException("acme", ConnectionBudgetKind.Process, 40, 40, TimeSpan.FromSeconds(15));

        Assert.Equal("No connection for tenant 'acme' within 15 s: the process connection budget (40 of 40 connections open, all in use or the last one kept free to kill cancelled statements with). " +
            "Release connections sooner (look for leases held across slow work or leaked: enable LeakDetectionThreshold), or raise MaxConnections/ServerShare if the server allows.", error.Message);
    }

    [Fact]
    public async Task The_acquire_timeout_is_measured_on_the_options_clock()
    {
        var time = new FakeTimeProvider();
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.MaxConnections = 1;
            o.AcquireTimeout = TimeSpan.FromSeconds(15);
            o.TimeProvider = time;
        });
        await db.QueryTenantAsync<int>(Key(2), "SELECT 1");
        await using var held = await db.GetConnectionAsync(Key(1));

        var waiting = db.GetConnectionAsync(Key(2)).AsTask();
        await db.WaitForSnapshotAsync(s => s.Waiting == 1, TimeSpan.FromSeconds(5));
        time.Advance(TimeSpan.FromSeconds(14));
        await Task.Delay(50);
        Assert.False(waiting.IsCompleted);

        time.Advance(TimeSpan.FromSeconds(1));
        var error = await Assert.ThrowsAsync<ConnectionBudgetExhaustedException>(() => waiting);
        Assert.Equal(TimeSpan.FromSeconds(15), error.Waited);
    }

    private static string Key(int number) => MariaDbFixture.TenantKey(number);
}
