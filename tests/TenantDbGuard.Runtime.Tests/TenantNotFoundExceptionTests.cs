using Microsoft.Extensions.Time.Testing;
using TenantDbGuard.Runtime.Tests.Infrastructure;

namespace TenantDbGuard.Runtime.Tests;

[Collection(MariaDbCollection.Name)]
public sealed class TenantNotFoundExceptionTests(MariaDbFixture fixture) : IAsyncLifetime
{
    private MariaDbServer Server => fixture.Server;

    public Task InitializeAsync() => fixture.CreateTenantsAsync(2);

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task An_unknown_tenant_key_is_reported_by_name()
    {
        await using var db = Server.CreateTenantDatabase();

        var error = await Assert.ThrowsAsync<TenantNotFoundException>(() => db.QueryTenantAsync<int>("tenant-9999", "SELECT 1"));

        Assert.Equal("tenant-9999", error.TenantKey);
        Assert.Contains("'tenant-9999'", error.Message);
        Assert.Contains("tenants table", error.Message);
        Assert.False(error.IsTransient);
        await db.WaitUntilAllReturnedAsync();
    }

    [Fact]
    public async Task Every_entry_point_reports_an_unknown_tenant()
    {
        await using var db = Server.CreateTenantDatabase();

        await Assert.ThrowsAsync<TenantNotFoundException>(async () => await db.GetConnectionAsync("tenant-9998"));
        await Assert.ThrowsAsync<TenantNotFoundException>(() => db.ExecuteTenantAsync("tenant-9998", "SELECT 1"));
        await Assert.ThrowsAsync<TenantNotFoundException>(() => db.ExecuteScalarTenantAsync<int>("tenant-9998", "SELECT 1"));
        await Assert.ThrowsAsync<TenantNotFoundException>(() => db.WithTenantConnectionAsync("tenant-9998", (_, _) => Task.CompletedTask));
        await Assert.ThrowsAsync<TenantNotFoundException>(() => db.WithTenantTransactionAsync("tenant-9998", (_, _, _) => Task.CompletedTask));
        await db.WaitUntilAllReturnedAsync();
    }

    [Fact]
    public async Task An_inactive_tenant_is_not_found()
    {
        await Server.ExecuteAsync(
            $"INSERT IGNORE INTO tenants (tenant_key, database_name, is_active) VALUES ('tenant-retired', '{MariaDbFixture.TenantDatabase(1)}', 0)",
            MariaDbFixture.MasterDatabase);
        await using var db = Server.CreateTenantDatabase();

        var error = await Assert.ThrowsAsync<TenantNotFoundException>(() => db.QueryTenantAsync<int>("tenant-retired", "SELECT 1"));

        Assert.Equal("tenant-retired", error.TenantKey);
    }

    [Fact]
    public async Task Repeated_lookups_of_an_unknown_key_ask_the_resolver_once()
    {
        var resolver = new CountingTenantResolver();
        await using var db = Server.CreateTenantDatabase(o => o.TenantResolver = resolver.ResolveAsync);

        for (var i = 0; i < 10; i++)
        {
            await Assert.ThrowsAsync<TenantNotFoundException>(() => db.QueryTenantAsync<int>("tenant-nobody", "SELECT 1"));
        }

        Assert.Equal(1, resolver.Calls("tenant-nobody"));
    }

    [Fact]
    public async Task Concurrent_lookups_of_one_key_ask_the_resolver_once()
    {
        var resolver = new CountingTenantResolver { Delay = TimeSpan.FromMilliseconds(100) };
        await using var db = Server.CreateTenantDatabase(o => o.TenantResolver = resolver.ResolveAsync);

        var lookups = Enumerable.Range(0, 20).Select(_ => Task.Run(() => Assert.ThrowsAsync<TenantNotFoundException>(() => db.QueryTenantAsync<int>("tenant-crowd", "SELECT 1"))));
        await Task.WhenAll(lookups);

        Assert.Equal(1, resolver.Calls("tenant-crowd"));
    }

    [Fact]
    public async Task An_unknown_key_is_remembered_only_for_UnknownTenantCacheDuration()
    {
        var resolver = new CountingTenantResolver();
        var time = new FakeTimeProvider();
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.TenantResolver = resolver.ResolveAsync;
            o.UnknownTenantCacheDuration = TimeSpan.FromSeconds(2);
            o.TimeProvider = time;
        });

        await Assert.ThrowsAsync<TenantNotFoundException>(() => db.QueryTenantAsync<int>("tenant-later", "SELECT 1"));
        time.Advance(TimeSpan.FromSeconds(1.9));
        await Assert.ThrowsAsync<TenantNotFoundException>(() => db.QueryTenantAsync<int>("tenant-later", "SELECT 1"));
        Assert.Equal(1, resolver.Calls("tenant-later"));

        time.Advance(TimeSpan.FromSeconds(0.1));
        await Assert.ThrowsAsync<TenantNotFoundException>(() => db.QueryTenantAsync<int>("tenant-later", "SELECT 1"));
        Assert.Equal(2, resolver.Calls("tenant-later"));
    }

    [Fact]
    public async Task A_tenant_added_after_a_miss_is_found_once_the_miss_expires()
    {
        const string key = "tenant-signup";
        const string database = "tdg_signup";
        await Server.ExecuteAsync($"DELETE FROM tenants WHERE tenant_key = '{key}'; CREATE DATABASE IF NOT EXISTS {database};", MariaDbFixture.MasterDatabase);
        var time = new FakeTimeProvider();
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.UnknownTenantCacheDuration = TimeSpan.FromSeconds(2);
            o.TimeProvider = time;
        });
        await Assert.ThrowsAsync<TenantNotFoundException>(() => db.QueryTenantAsync<int>(key, "SELECT 1"));

        await Server.ExecuteAsync($"INSERT INTO tenants (tenant_key, database_name) VALUES ('{key}', '{database}')", MariaDbFixture.MasterDatabase);
        try
        {
            await Assert.ThrowsAsync<TenantNotFoundException>(() => db.QueryTenantAsync<int>(key, "SELECT 1"));
            time.Advance(TimeSpan.FromSeconds(2));

            Assert.Equal([database], await db.QueryTenantAsync<string>(key, "SELECT DATABASE()"));
        }
        finally
        {
            await Server.ExecuteAsync($"DELETE FROM tenants WHERE tenant_key = '{key}'", MariaDbFixture.MasterDatabase);
        }
    }

    [Fact]
    public async Task A_known_tenant_is_looked_up_once_for_TenantCacheDuration()
    {
        var resolver = new CountingTenantResolver(new TenantInfo("tenant-cached", MariaDbFixture.TenantDatabase(1)));
        var time = new FakeTimeProvider();
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.TenantResolver = resolver.ResolveAsync;
            o.TenantCacheDuration = TimeSpan.FromMinutes(5);
            o.TimeProvider = time;
        });

        for (var i = 0; i < 10; i++)
        {
            await db.QueryTenantAsync<int>("tenant-cached", "SELECT 1");
            time.Advance(TimeSpan.FromSeconds(29));
        }

        Assert.Equal(1, resolver.Calls("tenant-cached"));

        // Expired: looked up again, then cached again.
        time.Advance(TimeSpan.FromSeconds(10));
        await db.QueryTenantAsync<int>("tenant-cached", "SELECT 1");
        await db.QueryTenantAsync<int>("tenant-cached", "SELECT 1");
        Assert.Equal(2, resolver.Calls("tenant-cached"));
    }
}
