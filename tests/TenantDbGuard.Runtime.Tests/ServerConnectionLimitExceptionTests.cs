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
    public async Task An_accounts_connection_limit_below_the_budget_makes_callers_wait_instead_of_failing()
    {
        // The budget comes from max_connections (40 here); the account's own limit is learnt from the server's
        // refusals (error 1226) alone, each of which shrinks the budget and turns into waiting.
        await using var server = await MariaDbServer.StartAsync(maxConnections: 40);
        await MariaDbFixture.CreateTenantsAsync(server, 3);

        // No connection of the account is left from the set-up (pooled ones included): every one counts from the first.
        await server.WaitForAppConnectionsAsync();
        await server.ExecuteAsync($"ALTER USER '{MariaDbServer.AppUser}'@'%' WITH MAX_USER_CONNECTIONS 4");
        var logs = new CapturedLogs();
        await using var db = server.CreateTenantDatabase(o => o.AcquireTimeout = TimeSpan.FromSeconds(30), logs);

        var failures = new List<Exception>();
        var served = 0;
        await Task.WhenAll(Enumerable.Range(0, 12).Select(worker => Task.Run(async () =>
        {
            for (var i = 0; i < 5; i++)
            {
                try
                {
                    // Long enough that all 12 ask for a connection before the first is given back.
                    Assert.Equal(1, await db.ExecuteScalarTenantAsync<long>(Key(1 + ((worker + i) % 3)), "SELECT 1 FROM (SELECT SLEEP(0.05)) AS pause"));
                    Interlocked.Increment(ref served);
                }
                catch (Exception exception)
                {
                    lock (failures)
                    {
                        failures.Add(exception);
                    }
                }
            }
        })));

        Assert.Empty(failures);
        Assert.Equal(60, served);
        var refusals = logs.WithId(ServerRefused);
        Assert.NotEmpty(refusals);
        Assert.All(refusals, entry => Assert.Contains("error 1226", entry.Message, StringComparison.Ordinal));
        var snapshot = db.GetBudgetSnapshot();
        output.WriteLine($"after the run: limit {snapshot.Limit}, open {snapshot.Open}; {refusals.Count} refusals");
        Assert.True(snapshot.Limit < 30, $"The budget stayed at {snapshot.Limit} after the server refused.");
        // MariaDB stops counting a session against the account's limit once it was reset, so the process ends with
        // more than 4 open; what matters is that every refusal was waited out within the budget it led to.
        Assert.InRange(snapshot.Open, 1, snapshot.Limit);
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

        // 1226 is also the account's own MAX_USER_CONNECTIONS; the server's message names the resource.
        var accountLimit = new ServerConnectionLimitException("acme", 1226, 12, new InvalidOperationException("User 'app' has exceeded the 'max_user_connections' resource (current value: 4)"));
        Assert.Contains("MAX_USER_CONNECTIONS", accountLimit.Message);
        Assert.Contains("budget of 12", accountLimit.Message);
        Assert.DoesNotContain("PER_HOUR", accountLimit.Message);
    }

    private static string Key(int number) => MariaDbFixture.TenantKey(number);
}
