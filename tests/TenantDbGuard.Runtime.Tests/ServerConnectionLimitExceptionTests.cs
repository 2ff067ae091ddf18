using System.Diagnostics;
using Microsoft.Extensions.Logging;
using MySqlConnector;
using TenantDbGuard.Runtime.Tests.Infrastructure;
using Xunit.Abstractions;

namespace TenantDbGuard.Runtime.Tests;

/// <summary>A server of its own with the smallest <c>max_connections</c> MariaDB allows, and three tenants on it.</summary>
public sealed class SmallServerFixture : IAsyncLifetime
{
    public MariaDbServer Server { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Server = await MariaDbServer.StartAsync(maxConnections: MariaDbServer.MinimumMaxConnections);
        await MariaDbFixture.CreateTenantsAsync(Server, 3);
    }

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

[Collection(MariaDbCollection.Name)]
public sealed class ServerConnectionLimitExceptionTests(SmallServerFixture small, ITestOutputHelper output) : IClassFixture<SmallServerFixture>
{
    private const int ServerLimitReached = 1021;
    private const int ServerRefused = 1005;

    private MariaDbServer Server => small.Server;

    [Fact]
    public async Task A_server_that_refuses_for_the_whole_acquire_timeout_is_reported_as_error_1040_and_the_budget_shrinks_to_what_it_took()
    {
        var logs = new CapturedLogs();
        await using var db = Server.CreateTenantDatabase(
            o =>
            {
                o.MaxConnections = 20;
                o.MaxConnectionsPerTenant = 20;
                o.AcquireTimeout = TimeSpan.FromMilliseconds(500);
            },
            logs);
        await db.QueryTenantAsync<int>(Key(1), "SELECT 1");
        var leases = new List<TenantConnectionLease>();
        try
        {
            for (var i = 0; i < Server.MaxConnections; i++)
            {
                leases.Add(await db.GetConnectionAsync(Key(1 + (i % 3))));
            }

            var stopwatch = Stopwatch.StartNew();
            var error = await Assert.ThrowsAsync<ServerConnectionLimitException>(() => db.QueryTenantAsync<int>(Key(2), "SELECT 1"));

            output.WriteLine(error.Message);
            Assert.True(stopwatch.Elapsed >= TimeSpan.FromMilliseconds(450), $"Failed after {stopwatch.ElapsedMilliseconds} ms: a refusal must become waiting.");
            Assert.Equal(1040, error.ErrorCode);
            Assert.Equal(Key(2), error.TenantKey);
            Assert.Equal(Server.MaxConnections, error.ProcessBudget);
            Assert.Equal(1040, Assert.IsType<MySqlException>(error.InnerException).Number);
            Assert.True(error.IsTransient);
            Assert.Equal("08004", error.SqlState);
            Assert.Contains("error 1040", error.Message);
            Assert.Contains("max_connections", error.Message);
            Assert.Contains($"its budget shrank to {Server.MaxConnections}", error.Message);
            Assert.Contains("AcquireTimeout", error.Message);
            Assert.Equal(LogLevel.Error, Assert.Single(logs.WithId(ServerLimitReached)).Level);
            Assert.NotEmpty(logs.WithId(ServerRefused));

            // The refused connection is not counted, and the budget is what the server took.
            var snapshot = db.GetBudgetSnapshot();
            Assert.Equal((Server.MaxConnections, Server.MaxConnections, Server.MaxConnections, 20), (snapshot.InUse, snapshot.Open, snapshot.Limit, snapshot.Ceiling));
        }
        finally
        {
            foreach (var lease in leases)
            {
                await lease.DisposeAsync();
            }
        }

        // The connections given back serve again; the budget no longer tries to open more than the server took.
        await db.WaitUntilAllReturnedAsync();
        Assert.Equal([1], await db.QueryTenantAsync<int>(Key(2), "SELECT 1"));
        Assert.InRange(db.GetBudgetSnapshot().Open, 1, Server.MaxConnections);
    }

    [Fact]
    public async Task Another_client_holding_the_servers_connections_is_reported_as_error_1040_and_the_runtime_recovers()
    {
        await Server.WaitForAppConnectionsAsync();
        var connectionString = new MySqlConnectionStringBuilder(Server.GetAppConnectionString()) { Pooling = false }.ConnectionString;
        var hog = new List<MySqlConnection>();
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.ReservedConnections = 0;
            o.AcquireTimeout = TimeSpan.FromMilliseconds(500);
        });
        try
        {
            for (var i = 0; i < Server.MaxConnections; i++)
            {
                var connection = new MySqlConnection(connectionString);
                hog.Add(connection);
                await connection.OpenAsync();
            }

            // Even the first call, which reads @@max_connections to size the budget, is refused, for the whole acquire timeout.
            var error = await Assert.ThrowsAsync<ServerConnectionLimitException>(() => db.QueryTenantAsync<int>(Key(1), "SELECT 1"));
            output.WriteLine(error.Message);
            Assert.Equal(1040, error.ErrorCode);
            Assert.Equal(TenantDatabase.MasterKey, error.TenantKey);
            Assert.True(error.IsTransient);
            Assert.Equal(1040, Assert.IsType<MySqlException>(error.InnerException).Number);

            // The budget was never known: the message says so instead of a budget that "shrank to 0".
            Assert.Null(error.ProcessBudget);
            Assert.DoesNotContain("shrank", error.Message);
            Assert.DoesNotContain(" 0", error.Message.Replace("error 1040", string.Empty, StringComparison.Ordinal));
            Assert.Contains("first call", error.Message);
            Assert.Contains("max_connections", error.Message);
        }
        finally
        {
            foreach (var connection in hog)
            {
                await connection.DisposeAsync();
            }
        }

        await Server.WaitForAppConnectionsAsync();
        Assert.Equal([1], await db.QueryTenantAsync<int>(Key(1), "SELECT 1"));
        Assert.Equal(Server.MaxConnections, db.GetBudgetSnapshot().Limit);
    }

    [Fact]
    public async Task The_advice_depends_on_the_server_limit_that_was_hit()
    {
        var inner = new InvalidOperationException("refused");

        var maxUser = new ServerConnectionLimitException("acme", 1203, 30, inner);
        var perHour = new ServerConnectionLimitException("acme", 1226, 30, inner);

        Assert.Contains("max_user_connections", maxUser.Message);
        Assert.Contains("budget of 30", maxUser.Message);
        Assert.Contains("MAX_CONNECTIONS_PER_HOUR", perHour.Message);
        Assert.Same(inner, perHour.InnerException);
        Assert.Equal((1203, 1226), (maxUser.ErrorCode, perHour.ErrorCode));
        Assert.All(new[] { maxUser, perHour }, error => Assert.True(error.IsTransient));

        var maxUserAtFirstCall = new ServerConnectionLimitException("acme", 1203, processBudget: null, inner);
        Assert.Contains("max_user_connections", maxUserAtFirstCall.Message);
        Assert.DoesNotContain("budget of", maxUserAtFirstCall.Message);
    }

    private static string Key(int number) => MariaDbFixture.TenantKey(number);
}
