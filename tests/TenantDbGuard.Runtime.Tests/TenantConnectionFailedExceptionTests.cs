using System.Diagnostics;
using Dapper;
using Microsoft.Extensions.Logging;
using MySqlConnector;
using TenantDbGuard.Runtime.Tests.Infrastructure;
using static TenantDbGuard.Runtime.Tests.Infrastructure.MarkedTenants;

namespace TenantDbGuard.Runtime.Tests;

/// <summary>Connections the server killed: an idle one is replaced before anything is sent on it, a busy one surfaces as
/// a typed error instead of a raw driver exception.</summary>
[Collection(MariaDbCollection.Name)]
public sealed class TenantConnectionFailedExceptionTests(MariaDbFixture fixture) : IAsyncLifetime
{
    private MariaDbServer Server => fixture.Server;

    public Task InitializeAsync() => CreateAsync(Server);

    public Task DisposeAsync() => Task.CompletedTask;

    // ---- 11. A dead idle connection is replaced, a lost busy one is a typed error ----

    public static TheoryData<string> Entries() => ["helper", "scalar helper", "execute helper", "transaction helper", "lease", "master helper"];

    [Theory]
    [Trait("Guarantee", "11")]
    [MemberData(nameof(Entries))]
    public async Task An_idle_connection_killed_by_the_server_is_replaced_transparently(string entry)
    {
        await using var db = Server.CreateTenantDatabase(o => o.MaxConnections = 1);
        var killed = await db.ExecuteScalarTenantAsync<long>(Key(0), "SELECT CONNECTION_ID()");
        await db.WaitUntilAllReturnedAsync();
        await Server.ExecuteAsync($"KILL {killed}");
        await WaitUntilGoneAsync(killed);

        var (tenant, id) = entry switch
        {
            "helper" => await db.QuerySingleTenantAsync(Key(0)),
            "scalar helper" => (await db.ExecuteScalarTenantAsync<string>(Key(0), "SELECT tenant FROM marker"), await db.ExecuteScalarTenantAsync<long>(Key(0), "SELECT CONNECTION_ID()")),
            "execute helper" => (await db.ExecuteTenantAsync(Key(0), "UPDATE marker SET tenant = tenant") == 1 ? await db.ExecuteScalarTenantAsync<string>(Key(0), "SELECT tenant FROM marker") : "wrong count",
                await db.ExecuteScalarTenantAsync<long>(Key(0), "SELECT CONNECTION_ID()")),
            "transaction helper" => await db.WithTenantTransactionAsync(Key(0), (connection, transaction, token) =>
                connection.QuerySingleAsync<(string, long)>(new CommandDefinition("SELECT tenant, CONNECTION_ID() FROM marker", transaction: transaction, cancellationToken: token))),
            "lease" => await ReadThroughLeaseAsync(db),
            _ => (await db.QueryMasterAsync<(string, long)>($"SELECT tenant, CONNECTION_ID() FROM {Database(0)}.marker")).Single(),
        };

        Assert.Equal(Key(0), tenant);
        Assert.NotEqual(killed, id);
        Assert.Equal(1, (await db.WaitUntilAllReturnedAsync()).Open);
    }

    [Fact]
    [Trait("Guarantee", "11")]
    public async Task A_connection_killed_while_a_helper_runs_is_reported_as_a_typed_error_and_the_budget_recovers()
    {
        await using var db = Server.CreateTenantDatabase(o => o.MaxConnections = 2);
        var running = db.ExecuteScalarTenantAsync<long>(Key(1), "SELECT SLEEP(5) + 0 * CHAR_LENGTH('tdg-doomed')");
        var id = await WaitForStatementAsync("tdg-doomed");
        var stopwatch = Stopwatch.StartNew();

        await Server.ExecuteAsync($"KILL {id}");

        var error = await Assert.ThrowsAsync<TenantConnectionFailedException>(() => running);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(3));
        Assert.Equal(Key(1), error.TenantKey);
        Assert.IsAssignableFrom<MySqlException>(error.InnerException);
        Assert.True(error.IsTransient);
        Assert.Contains($"tenant '{Key(1)}'", error.Message);
        Assert.Contains("may or may not have run", error.Message);
        await db.WaitUntilAllReturnedAsync();
        Assert.Equal(Key(1), await db.ExecuteScalarTenantAsync<string>(Key(1), "SELECT tenant FROM marker"));
    }

    [Fact]
    [Trait("Guarantee", "11")]
    public async Task A_master_connection_killed_while_it_looks_the_tenant_up_is_reported_as_a_typed_error_and_the_budget_recovers()
    {
        var logs = new CapturedLogs();
        await using var db = Server.CreateTenantDatabase(o => o.MaxConnections = 2, logs);

        // The tenants table is locked, so that the lookup waits on the server long enough to be killed there.
        await using var locker = await Server.OpenConnectionAsync();
        await locker.ExecuteAsync($"LOCK TABLES {TenantLayout.MasterDatabase}.tenants WRITE");
        var running = db.ExecuteScalarTenantAsync<string>(Key(2), "SELECT tenant FROM marker");
        var id = await WaitForStatementAsync("AS SharedWith");

        await Server.ExecuteAsync($"KILL {id}");

        var error = await Assert.ThrowsAsync<TenantConnectionFailedException>(() => running);
        Assert.Equal(Key(2), error.TenantKey);
        Assert.IsAssignableFrom<MySqlException>(error.InnerException);
        Assert.True(error.IsTransient);
        Assert.Contains($"tenant '{Key(2)}' was looked up", error.Message);
        Assert.Contains("Nothing of the work was sent", error.Message);

        // Logged as a helper's lost connection is, with the master's key and the driver's error.
        var lost = Assert.Single(logs.WithId(1025));
        Assert.Equal(LogLevel.Warning, lost.Level);
        Assert.Contains($"'{TenantDatabase.MasterKey}'", lost.Message);
        Assert.Same(error.InnerException, lost.Exception);
        await locker.ExecuteAsync("UNLOCK TABLES");
        await db.WaitUntilAllReturnedAsync();
        Assert.Equal(Key(2), await db.ExecuteScalarTenantAsync<string>(Key(2), "SELECT tenant FROM marker"));
        Assert.InRange((await db.WaitUntilAllReturnedAsync()).Open, 1, 2);
    }

    [Fact]
    [Trait("Guarantee", "11")]
    public async Task The_idle_connection_that_kills_a_session_the_server_already_ended_is_kept()
    {
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.MaxConnections = 2;

            // A busy machine must not make a slow answer look like a busy session (which is closed).
            o.ResetTimeout = TimeSpan.FromSeconds(10);
        });
        long idle = 0;

        // The session of a failed lease is killed over another connection of the budget before it is closed; here the
        // server has ended it already, so the kill finds no such thread, which is the kill's success, not its failure.
        var error = await Record.ExceptionAsync(() => db.WithTenantConnectionAsync(Key(0), async (connection, token) =>
        {
            var killed = await connection.ExecuteScalarAsync<long>("SELECT CONNECTION_ID()");
            idle = await db.ExecuteScalarTenantAsync<long>(Key(1), "SELECT CONNECTION_ID()");
            await Server.ExecuteAsync($"KILL {killed}");
            await WaitUntilGoneAsync(killed);
            return await connection.ExecuteScalarAsync<string>("SELECT tenant FROM marker");
        }));

        Assert.IsType<TenantConnectionFailedException>(error);

        // A killer closed as failed would keep both counted while its own session is killed in turn (up to the reset
        // timeout): the budget comes down to the one connection only when the killer was kept.
        await db.WaitForSnapshotAsync(s => s is { InUse: 0, Open: 1 }, TimeSpan.FromSeconds(5));

        // The one connection left is the killer's session, still on the server. (Which connection the next statement
        // gets is not asked: the budget's periodic reading of the server's load may hold that one for a moment, and a
        // budget with room opens another rather than wait.)
        await using var root = await Server.OpenConnectionAsync();
        Assert.Equal(1, await root.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = @idle AND USER = @user", new { idle, user = MariaDbServer.AppUser }));
        Assert.Equal(Key(1), await db.ExecuteScalarTenantAsync<string>(Key(1), "SELECT tenant FROM marker"));
    }

    public static TheoryData<string> OpeningEntries() => ["lease", "connection helper", "data source", "master helper"];

    [Theory]
    [Trait("Guarantee", "11")]
    [MemberData(nameof(OpeningEntries))]
    public async Task A_new_connection_killed_while_it_is_opened_is_reported_as_a_typed_error_and_the_budget_recovers(string entry)
    {
        // The session callback runs inside the open of a new connection, before the lease's USE: killing the session from
        // outside there is an administrator's KILL during the handshake as far as the lease can tell.
        var armed = 1;
        await using var db = new TenantDatabaseBuilder(Server.GetAppConnectionString(MariaDbFixture.MasterDatabase))
            .ConfigureOptions(o =>
            {
                o.MaxConnections = 2;

                // No lookup in the tenants table: the first connection the runtime opens is the entry's own.
                o.TenantResolver = (key, _) => ValueTask.FromResult<TenantInfo?>(key == Key(0) ? new TenantInfo(key, Database(0)) : null);
            })
            .UseSessionOpenedCallback(async (connection, token) =>
            {
                if (Interlocked.CompareExchange(ref armed, 2, 1) == 1)
                {
                    var id = connection.ServerThread;
                    await Server.ExecuteAsync($"KILL CONNECTION {id}");
                    await WaitUntilGoneAsync(id);
                }
            })
            .Build();

        var error = await Record.ExceptionAsync(async () =>
        {
            switch (entry)
            {
                case "lease":
                    await using (var lease = await db.GetConnectionAsync(Key(0)))
                    {
                        await ReadMarkerAsync(lease.Connection);
                    }

                    break;
                case "connection helper":
                    await db.WithTenantConnectionAsync(Key(0), (connection, _) => ReadMarkerAsync(connection));
                    break;
                case "data source":
                    await using (var connection = await db.ForTenant(Key(0)).OpenConnectionAsync())
                    {
                        await connection.ExecuteScalarAsync<string>("SELECT tenant FROM marker");
                    }

                    break;
                default:
                    await db.QueryMasterAsync<string>($"SELECT tenant FROM {Database(0)}.marker");
                    break;
            }
        });

        Assert.Equal(2, Volatile.Read(ref armed));
        var failed = Assert.IsType<TenantConnectionFailedException>(error);
        Assert.Equal(entry == "master helper" ? TenantDatabase.MasterKey : Key(0), failed.TenantKey);
        Assert.True(failed.InnerException is MySqlException or IOException, failed.InnerException?.ToString());
        Assert.True(failed.IsTransient);
        await db.WaitForSnapshotAsync(s => s is { InUse: 0 }, TimeSpan.FromSeconds(5));
        Assert.Equal(Key(0), await db.ExecuteScalarTenantAsync<string>(Key(0), "SELECT tenant FROM marker"));
    }

    [Fact]
    public void The_message_names_the_tenant_and_says_what_to_do()
    {
        var error = new TenantConnectionFailedException("tenant-x", new InvalidOperationException("socket closed"));

        Assert.Equal("tenant-x", error.TenantKey);
        Assert.Contains("tenant 'tenant-x'", error.Message);
        Assert.Contains("socket closed", error.Message);
        Assert.Contains("retry", error.Message);
    }

    private static async Task<(string, long)> ReadThroughLeaseAsync(TenantDatabase db)
    {
        await using var lease = await db.GetConnectionAsync(Key(0));
        return await lease.Connection.QuerySingleAsync<(string, long)>("SELECT tenant, CONNECTION_ID() FROM marker");
    }

    private async Task WaitUntilGoneAsync(long id)
    {
        var stopwatch = Stopwatch.StartNew();
        await using var root = await Server.OpenConnectionAsync();
        while (await root.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = @id", new { id }) > 0)
        {
            Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5), $"Connection {id} is still there after KILL.");
            await Task.Delay(20);
        }
    }

    private async Task<long> WaitForStatementAsync(string marker)
    {
        var stopwatch = Stopwatch.StartNew();
        await using var root = await Server.OpenConnectionAsync();
        while (true)
        {
            var id = await root.ExecuteScalarAsync<long?>("SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE @pattern AND USER = @user",
                new { pattern = "%" + marker + "%", user = MariaDbServer.AppUser });
            if (id is { } found)
            {
                return found;
            }

            Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5), $"The statement marked '{marker}' did not start.");
            await Task.Delay(10);
        }
    }
}

internal static class SingleRowQueries
{
    public static async Task<(string Tenant, long Id)> QuerySingleTenantAsync(this TenantDatabase db, string tenantKey) =>
        (await db.QueryTenantAsync<(string, long)>(tenantKey, "SELECT tenant, CONNECTION_ID() FROM marker")).Single();
}
