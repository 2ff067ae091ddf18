using System.Diagnostics;
using Dapper;
using MySqlConnector;
using TenantDbGuard.Core;
using TenantDbGuard.Runtime.Tests.Infrastructure;
using static TenantDbGuard.Runtime.Tests.Infrastructure.MarkedTenants;

namespace TenantDbGuard.Runtime.Tests;

/// <summary>
/// A helper's batch that selects the tenant's database itself, saving the lease a round trip: the socket check that
/// allows it (it must read the driver's socket, or every helper lease costs a round trip more, and tell a quiet
/// connection from one the server closed), the results the caller gets, and Dapper's plan cache.
/// </summary>
[Collection(MariaDbCollection.Name)]
public sealed class HelperBatchTests(MariaDbFixture fixture) : IAsyncLifetime
{
    private MariaDbServer Server => fixture.Server;

    public Task InitializeAsync() => CreateAsync(Server);

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task The_probe_reads_the_socket_of_the_MySqlConnector_version_shipped_with()
    {
        Assert.True(SocketProbe.IsAvailable, "SocketProbe cannot find MySqlConnector's socket: every helper lease now costs a round trip more.");

        await using var connection = new MySqlConnection(new MySqlConnectionStringBuilder(Server.GetAppConnectionString()) { Pooling = false }.ConnectionString);
        Assert.False(SocketProbe.IsQuiet(connection));
        await connection.OpenAsync();
        Assert.True(SocketProbe.IsQuiet(connection));
        Assert.Equal(1, await connection.ExecuteScalarAsync<int>("SELECT 1"));
        Assert.True(SocketProbe.IsQuiet(connection));

        var id = connection.ServerThread;
        await Server.ExecuteAsync($"KILL {id}");
        var stopwatch = Stopwatch.StartNew();
        while (SocketProbe.IsQuiet(connection))
        {
            Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5), "The probe still finds the socket quiet after the server closed it.");
            await Task.Delay(10);
        }
    }

    [Fact]
    [Trait("Guarantee", "1")]
    public async Task Helpers_on_a_connection_that_just_served_another_tenant_return_exactly_their_own_results()
    {
        await using var db = Server.CreateTenantDatabase(o => o.MaxConnections = 1);
        for (var round = 0; round < 3; round++)
        {
            for (var index = 0; index < Count; index++)
            {
                Assert.Equal(Key(index), await db.ExecuteScalarTenantAsync<string>(Key(index), "SELECT tenant FROM marker"));
                Assert.Equal([Key(index)], await db.QueryTenantAsync<string>(Key(index), "SELECT tenant FROM marker"));
                Assert.Equal(1, await db.ExecuteTenantAsync(Key(index), "UPDATE marker SET tenant = tenant WHERE tenant = @key", new { key = Key(index) }));
                Assert.Equal(Key(index), await db.ExecuteScalarTenantAsync<string>(Key(index), "SELECT tenant FROM marker; SELECT 'second'"));
                Assert.Equal(Database(index), await db.ExecuteScalarTenantAsync<string>(Key(index), "SELECT DATABASE()"));
            }
        }

        Assert.Equal(1, (await db.WaitUntilAllReturnedAsync()).Open);
    }

    [Fact]
    public async Task A_helper_on_a_connection_that_answered_moments_ago_selects_its_database_in_its_own_batch_on_the_open_session()
    {
        const string Sql = "SELECT tenant FROM marker /* tdg-one-batch */";
        await using var db = Server.CreateTenantDatabase(o => o.MaxConnections = 1);
        for (var index = 0; index < Count; index++)
        {
            // The tenants are looked up, and the connection opened, before anything is counted.
            Assert.Equal(Key(index), await db.ExecuteScalarTenantAsync<string>(Key(index), Sql));
        }

        // What MySqlConnector sends, command by command (its Execute activities), and its opens.
        var commands = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var opens = 0;
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "MySqlConnector",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStopped = activity =>
            {
                if (activity.OperationName == "Execute")
                {
                    commands.Enqueue(Convert.ToString(activity.GetTagItem("db.query.text") ?? activity.GetTagItem("db.statement"), System.Globalization.CultureInfo.InvariantCulture) ?? string.Empty);
                }
                else if (activity.OperationName == "Open")
                {
                    Interlocked.Increment(ref opens);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);

        for (var round = 0; round < 2; round++)
        {
            for (var index = 0; index < Count; index++)
            {
                Assert.Equal(Key(index), await db.ExecuteScalarTenantAsync<string>(Key(index), Sql));
            }
        }

        // Each helper call on the connection another tenant's helper just gave back is one command: the USE of its
        // tenant's database leads the helper's own batch, rather than costing a round trip of its own.
        var uses = commands.Where(text => text.Contains("USE `tdg_iso_", StringComparison.Ordinal)).ToList();
        Assert.Equal(2 * Count, uses.Count);
        Assert.All(uses, text => Assert.Contains("tdg-one-batch", text, StringComparison.Ordinal));

        // And nothing else goes with them: a helper whose SQL cannot leave what the server's reset keeps (an XA
        // transaction, a role, the profiling history) is not cleared of it before its reset. (The budget's periodic
        // reading of the server's load, about every 250 ms, may go over the idle connection between two helpers: it is
        // the runtime's own statement, not part of any lease.)
        Assert.Equal(uses, commands.Where(text => text != TenantDbGuard.Core.ServerLoad.Sql).ToList());

        // Nor does a helper take the session out of its pool and put it back: it stays on the runtime's own connection
        // object from one helper to the next, through the reset between them.
        Assert.Equal(0, opens);
    }

    [Fact]
    public async Task Helpers_leave_Dapper_one_plan_per_statement_whatever_the_number_of_tenants()
    {
        // Dapper keys its plan cache, and the code it generates for parameters, by the SQL text: a text per tenant would
        // grow it with tenants times statements.
        const string Sql = "SELECT tenant FROM marker WHERE tenant <> @nobody /* tdg-plan-cache-probe */";
        await using var db = Server.CreateTenantDatabase(o => o.MaxConnections = 1);
        for (var round = 0; round < 3; round++)
        {
            for (var index = 0; index < Count; index++)
            {
                Assert.Equal([Key(index)], await db.QueryTenantAsync<string>(Key(index), Sql, new { nobody = "nobody" }));
                Assert.Equal(Key(index), await db.ExecuteScalarTenantAsync<string>(Key(index), Sql, new { nobody = "nobody" }));
                Assert.Equal(0, await db.ExecuteTenantAsync(Key(index), "UPDATE marker SET tenant = tenant WHERE tenant = @nobody /* tdg-plan-cache-probe */", new { nobody = "nobody" }));
            }
        }

        var cached = SqlMapper.GetCachedSQL().Where(entry => entry.Item2.Contains("tdg-plan-cache-probe", StringComparison.Ordinal)).ToList();
        Assert.All(cached, entry => Assert.DoesNotContain("USE", entry.Item2, StringComparison.OrdinalIgnoreCase));
        Assert.InRange(cached.Count, 1, 3);
    }

    [Theory]
    [Trait("Guarantee", "2")]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Session_state_a_helper_leaves_never_reaches_another_tenants_helper(bool resetSessionOnRelease)
    {
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.MaxConnections = 1;
            o.ResetSessionOnRelease = resetSessionOnRelease;
        });
        for (var round = 0; round < 2; round++)
        {
            for (var index = 0; index < Count; index++)
            {
                var next = (index + 1) % Count;
                await db.ExecuteTenantAsync(Key(index), "SET SESSION time_zone = '+03:21'");
                await db.ExecuteTenantAsync(Key(index), "CREATE TEMPORARY TABLE IF NOT EXISTS marker (tenant VARCHAR(64)); INSERT INTO marker VALUES ('shadow')");
                await db.ExecuteTenantAsync(Key(index), "SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES'");

                Assert.NotEqual("+03:21", await db.ExecuteScalarTenantAsync<string>(Key(next), "SELECT @@SESSION.time_zone"));
                Assert.Equal([Key(next)], await db.QueryTenantAsync<string>(Key(next), "SELECT tenant FROM marker"));
                Assert.DoesNotContain("NO_BACKSLASH_ESCAPES", await db.ExecuteScalarTenantAsync<string>(Key(next), "SELECT @@SESSION.sql_mode"));
                Assert.Equal(Database(next), await db.ExecuteScalarTenantAsync<string>(Key(next), "SELECT DATABASE()"));
            }
        }

        Assert.Equal(1, (await db.WaitUntilAllReturnedAsync()).Open);
    }
}
