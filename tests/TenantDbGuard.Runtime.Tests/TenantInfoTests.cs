using Dapper;
using MySqlConnector;
using TenantDbGuard.Runtime.Tests.Infrastructure;

namespace TenantDbGuard.Runtime.Tests;

[Collection(MariaDbCollection.Name)]
public sealed class TenantInfoTests(MariaDbFixture fixture) : IAsyncLifetime
{
    private const int IdleConnectionStolen = 1012;

    private MariaDbServer Server => fixture.Server;

    public Task InitializeAsync() => fixture.CreateTenantsAsync(3);

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public void Keeps_what_it_is_given()
    {
        var info = new TenantInfo("acme", "acme_db", "db2.internal", 3307);

        Assert.Equal(("acme", "acme_db", "db2.internal", 3307), (info.TenantKey, info.DatabaseName, info.ServerHost, info.ServerPort));
    }

    [Fact]
    public void A_blank_server_means_the_master_databases_server()
    {
        var info = new TenantInfo("acme", "acme_db", "  ");

        Assert.Null(info.ServerHost);
        Assert.Null(info.ServerPort);
    }

    [Fact]
    public void Requires_a_key_and_a_database()
    {
        Assert.Equal("tenantKey", Assert.Throws<ArgumentNullException>(() => new TenantInfo(null!, "acme_db")).ParamName);
        Assert.Equal("databaseName", Assert.Throws<ArgumentException>(() => new TenantInfo("acme", " ")).ParamName);
        Assert.Equal("databaseName", Assert.Throws<ArgumentException>(() => new TenantInfo("acme", null!)).ParamName);
    }

    [Fact]
    public async Task A_custom_resolver_decides_where_a_tenant_lives()
    {
        var resolver = new CountingTenantResolver(new TenantInfo("acme", MariaDbFixture.TenantDatabase(2)), new TenantInfo("globex", MariaDbFixture.TenantDatabase(3)));
        await using var db = Server.CreateTenantDatabase(o => o.TenantResolver = resolver.ResolveAsync);

        Assert.Equal([MariaDbFixture.TenantDatabase(2)], await db.QueryTenantAsync<string>("acme", "SELECT DATABASE()"));
        await using (var lease = await db.GetConnectionAsync("globex"))
        {
            Assert.Equal("globex", lease.TenantKey);
            Assert.Equal(MariaDbFixture.TenantDatabase(3), await lease.Connection.ExecuteScalarAsync<string>("SELECT DATABASE()"));
        }

        // The tenants table is not consulted: its keys are unknown to this resolver.
        await Assert.ThrowsAsync<TenantNotFoundException>(() => db.QueryTenantAsync<int>(MariaDbFixture.TenantKey(1), "SELECT 1"));
        Assert.Equal((1, 1, 1), (resolver.Calls("acme"), resolver.Calls("globex"), resolver.Calls(MariaDbFixture.TenantKey(1))));
    }

    [Theory]
    [InlineData("connection")]
    [InlineData("helper")]
    public async Task A_tenant_on_another_server_takes_over_an_idle_connection_within_the_budget(string how)
    {
        // "localhost" and "127.0.0.1" are two servers to the runtime (two pools) and one to MariaDB, which counts both.
        var resolver = new CountingTenantResolver(
            new TenantInfo("near", MariaDbFixture.TenantDatabase(1)),
            new TenantInfo("far", MariaDbFixture.TenantDatabase(2), "localhost", Server.Port));
        var logs = new CapturedLogs();
        await using var db = Server.CreateTenantDatabase(
            o =>
            {
                o.TenantResolver = resolver.ResolveAsync;
                o.MaxConnections = 1;
                o.AcquireTimeout = TimeSpan.FromSeconds(2);
            },
            logs);
        await Server.WaitForAppConnectionsAsync();

        foreach (var key in new[] { "near", "far", "near", "far" })
        {
            if (how == "helper")
            {
                // A helper's session stays on the runtime's own connection object between queries: taking the idle
                // connection over must close that session too before another is opened.
                Assert.Equal(key == "near" ? MariaDbFixture.TenantDatabase(1) : MariaDbFixture.TenantDatabase(2), await db.ExecuteScalarTenantAsync<string>(key, "SELECT DATABASE()"));
            }
            else
            {
                var (database, host) = await db.WithTenantConnectionAsync(key, async (connection, token) =>
                    (await connection.ExecuteScalarAsync<string>("SELECT DATABASE()"), connection.DataSource));
                Assert.Equal(key == "near" ? MariaDbFixture.TenantDatabase(1) : MariaDbFixture.TenantDatabase(2), database);
                Assert.Equal(key == "near" ? "127.0.0.1" : "localhost", host);
            }

            await db.WaitUntilAllReturnedAsync();
            Assert.Equal(1, db.GetBudgetSnapshot().Open);
            await Server.WaitForAppConnectionsAsync(atMost: 1);
        }

        Assert.Equal(3, logs.WithId(IdleConnectionStolen).Count);
    }

    [Fact]
    public async Task A_tenant_on_a_server_that_is_down_fails_alone()
    {
        var resolver = new CountingTenantResolver(
            new TenantInfo("up", MariaDbFixture.TenantDatabase(1)),
            new TenantInfo("down", MariaDbFixture.TenantDatabase(1), "127.0.0.1", RuntimeTestExtensions.UnusedPort()));
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.TenantResolver = resolver.ResolveAsync;
            o.MaxConnections = 2;
            o.AcquireTimeout = TimeSpan.FromSeconds(2);
        });

        var error = await Assert.ThrowsAsync<TenantConnectionFailedException>(() => db.QueryTenantAsync<int>("down", "SELECT 1"));

        Assert.Equal("down", error.TenantKey);
        Assert.Equal(MySqlErrorCode.UnableToConnectToHost, Assert.IsType<MySqlException>(error.InnerException).ErrorCode);
        await db.WaitUntilAllReturnedAsync();

        // The connection that could not be opened holds no room: both connections of the budget can be had on the
        // server that is up (which the budget's load readings may already use one of), and no other is counted.
        await using var first = await db.GetConnectionAsync("up");
        await using var second = await db.GetConnectionAsync("up");
        Assert.Equal(2, db.GetBudgetSnapshot().Open);
        Assert.Equal([1], await first.Connection.QueryAsync<int>("SELECT 1"));
    }
}
