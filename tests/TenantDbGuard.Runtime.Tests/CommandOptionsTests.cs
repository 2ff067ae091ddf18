using System.Diagnostics;
using System.Globalization;
using Dapper;
using MySqlConnector;
using TenantDbGuard.Runtime.Tests.Infrastructure;

namespace TenantDbGuard.Runtime.Tests;

/// <summary>
/// A helper's command timeout and flags: a statement past its timeout is stopped on the server and fails with a typed
/// error, and its connection serves no one while the statement still runs.
/// </summary>
[Collection(MariaDbCollection.Name)]
public sealed class CommandOptionsTests(MariaDbFixture fixture) : IAsyncLifetime
{
    private static readonly CommandOptions OneSecond = new() { Timeout = TimeSpan.FromSeconds(1) };

    private MariaDbServer Server => fixture.Server;

    public Task InitializeAsync() => fixture.CreateTenantsAsync(2);

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task A_query_past_its_timeout_fails_after_about_that_long_and_no_longer_runs_on_the_server()
    {
        await using var db = Server.CreateTenantDatabase(o => o.MaxConnectionsPerTenant = 1);
        var stopwatch = Stopwatch.StartNew();

        var error = await Assert.ThrowsAsync<CommandTimeoutException>(() => db.QueryTenantAsync<int>(MariaDbFixture.TenantKey(1), "SELECT SLEEP(5)", options: OneSecond));

        stopwatch.Stop();
        Assert.Equal((MariaDbFixture.TenantKey(1), TimeSpan.FromSeconds(1)), (error.TenantKey, error.Timeout));
        Assert.True(error.IsTransient);
        Assert.Contains("command timeout of 1 s", error.Message, StringComparison.Ordinal);
        Assert.InRange(stopwatch.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(4));
        Assert.Equal(0, await Server.CountRunningAsync("SLEEP(5)"));

        // The tenant's one connection comes back to the next caller only once the statement is over, reset.
        Assert.Equal([0L], await db.QueryTenantAsync<long>(MariaDbFixture.TenantKey(1), "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE CONCAT('SELECT SLE', 'EP(5)%')"));
    }

    [Fact]
    public async Task A_statement_past_its_timeout_on_a_lease_held_by_another_caller_meanwhile_does_not_reach_that_caller()
    {
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.MaxConnectionsPerTenant = 1;
            o.AcquireTimeout = TimeSpan.FromSeconds(10);
        });
        var slow = db.ExecuteTenantAsync(MariaDbFixture.TenantKey(2), "SET SESSION max_join_size = 12345; DO SLEEP(5)", options: OneSecond);
        await Task.Delay(100);

        // Waits for the tenant's one connection, which it gets once the timed-out statement is stopped and reset.
        var next = db.QueryTenantAsync<(long Sleeping, bool Kept)>(MariaDbFixture.TenantKey(2), "SELECT (SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE CONCAT('%SLE', 'EP(5)%')), @@SESSION.max_join_size = 12345");

        await Assert.ThrowsAsync<CommandTimeoutException>(() => slow);
        Assert.Equal([(0L, false)], await next);
    }

    [Fact]
    public async Task The_connection_strings_default_command_timeout_ends_in_a_CommandTimeoutException_too()
    {
        var master = new MySqlConnectionStringBuilder(Server.GetAppConnectionString(MariaDbFixture.MasterDatabase)) { DefaultCommandTimeout = 1 };
        await using var db = new TenantDatabase(new TenantDbGuardOptions { MasterConnectionString = master.ConnectionString });

        var error = await Assert.ThrowsAsync<CommandTimeoutException>(() => db.ExecuteScalarTenantAsync<int>(MariaDbFixture.TenantKey(1), "SELECT SLEEP(4)"));

        Assert.Equal(TimeSpan.FromSeconds(1), error.Timeout);
        Assert.IsAssignableFrom<MySqlException>(error.InnerException);
        await db.WaitUntilAllReturnedAsync();
        Assert.Equal([1], await db.QueryTenantAsync<int>(MariaDbFixture.TenantKey(1), "SELECT 1"));
    }

    [Fact]
    public async Task A_tenant_lookup_past_the_master_connection_strings_command_timeout_ends_in_a_CommandTimeoutException()
    {
        var master = new MySqlConnectionStringBuilder(Server.GetAppConnectionString(MariaDbFixture.MasterDatabase)) { DefaultCommandTimeout = 1 };
        await using var db = new TenantDatabase(new TenantDbGuardOptions { MasterConnectionString = master.ConnectionString, MaxConnections = 2 });

        // The tenants table is locked: the lookup waits on the server until the driver's command timeout stops it.
        await using var locker = await Server.OpenConnectionAsync();
        await locker.ExecuteAsync($"LOCK TABLES {MariaDbFixture.MasterDatabase}.tenants WRITE");
        var connectionsBefore = await ConnectionsSoFarAsync(locker);
        var error = await Assert.ThrowsAsync<CommandTimeoutException>(() => db.QueryTenantAsync<int>(MariaDbFixture.TenantKey(2), "SELECT 1"));
        var opened = await ConnectionsSoFarAsync(locker) - connectionsBefore;
        await locker.ExecuteAsync("UNLOCK TABLES");

        // The connections that reached the server are the budget's two: the master connection the lookup had, and the
        // one the runtime stops that session over. The driver's timeout closed the socket rather than opening a third,
        // outside the budget, to send KILL QUERY.
        Assert.InRange(opened, 1, 2);

        Assert.Equal(MariaDbFixture.TenantKey(2), error.TenantKey);
        Assert.Equal(TimeSpan.FromSeconds(1), error.Timeout);
        Assert.IsAssignableFrom<MySqlException>(error.InnerException);
        Assert.True(error.IsTransient);
        Assert.Contains($"Looking tenant '{MariaDbFixture.TenantKey(2)}' up in the tenants table", error.Message);
        Assert.Contains("Nothing of the work was sent", error.Message);
        await db.WaitUntilAllReturnedAsync();
        Assert.Equal([1], await db.QueryTenantAsync<int>(MariaDbFixture.TenantKey(2), "SELECT 1"));
        Assert.InRange((await db.WaitUntilAllReturnedAsync()).Open, 1, 2);
    }

    [Fact]
    public async Task Master_helpers_take_a_timeout_too()
    {
        await using var db = Server.CreateTenantDatabase();

        var error = await Assert.ThrowsAsync<CommandTimeoutException>(() => db.ExecuteScalarMasterAsync<int>("SELECT SLEEP(5)", options: OneSecond));

        Assert.Equal(TenantDatabase.MasterKey, error.TenantKey);
        Assert.Equal(0, await Server.CountRunningAsync("SLEEP(5)"));
        Assert.Equal(1, await db.ExecuteMasterAsync("DO SLEEP(0.1)", options: OneSecond) + 1);
    }

    [Fact]
    public async Task A_statement_within_its_timeout_returns_its_result_and_an_infinite_timeout_sets_none()
    {
        var master = new MySqlConnectionStringBuilder(Server.GetAppConnectionString(MariaDbFixture.MasterDatabase)) { DefaultCommandTimeout = 1 };
        await using var db = new TenantDatabase(new TenantDbGuardOptions { MasterConnectionString = master.ConnectionString });

        Assert.Equal([0], await db.QueryTenantAsync<int>(MariaDbFixture.TenantKey(1), "SELECT SLEEP(0.2)", options: new CommandOptions { Timeout = TimeSpan.FromSeconds(5) }));
        Assert.Equal(0, await db.ExecuteScalarTenantAsync<int>(MariaDbFixture.TenantKey(1), "SELECT SLEEP(1.5)", options: new CommandOptions { Timeout = Timeout.InfiniteTimeSpan }));
    }

    [Fact]
    public async Task NoCache_keeps_the_statement_out_of_Dappers_cache()
    {
        await using var db = Server.CreateTenantDatabase();
        var once = $"SELECT {Guid.NewGuid().GetHashCode() & 0xFFFF} AS n /* no cache */";
        var cached = $"SELECT {Guid.NewGuid().GetHashCode() & 0xFFFF} AS n /* cached */";

        await db.QueryTenantAsync<int>(MariaDbFixture.TenantKey(1), once, options: new CommandOptions { NoCache = true });
        await db.QueryTenantAsync<int>(MariaDbFixture.TenantKey(1), cached, options: new CommandOptions());

        var texts = SqlMapper.GetCachedSQL().Select(entry => entry.Item2).ToList();
        Assert.DoesNotContain(texts, text => text.Contains(once, StringComparison.Ordinal));
        Assert.Contains(texts, text => text.Contains(cached, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Existing_calls_with_a_token_in_fourth_place_still_compile_and_run()
    {
        await using var db = Server.CreateTenantDatabase();
        using var cancel = new CancellationTokenSource();

        Assert.Equal([1], await db.QueryTenantAsync<int>(MariaDbFixture.TenantKey(1), "SELECT @n", new { n = 1 }, cancel.Token));
        Assert.Equal(1, await db.ExecuteScalarMasterAsync<int>("SELECT @n", new { n = 1 }, cancel.Token));
        Assert.Equal(0, await db.ExecuteTenantAsync(MariaDbFixture.TenantKey(1), "DO @n", new { n = 1 }, cancel.Token));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    public void A_timeout_that_is_not_positive_nor_infinite_is_refused(int milliseconds)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new CommandOptions { Timeout = TimeSpan.FromMilliseconds(milliseconds) });
    }

    /// <summary>The server's count of connection attempts since it started (<c>Connections</c>).</summary>
    private static async Task<long> ConnectionsSoFarAsync(MySqlConnection admin) =>
        long.Parse((await admin.QuerySingleAsync<(string, string)>("SHOW GLOBAL STATUS LIKE 'Connections'")).Item2, CultureInfo.InvariantCulture);
}
