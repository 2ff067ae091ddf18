using System.Diagnostics;
using System.Globalization;
using Dapper;
using MySqlConnector;
using TenantDbGuard.Runtime.Tests.Infrastructure;
using Xunit.Abstractions;
using static TenantDbGuard.Runtime.Tests.Infrastructure.MarkedTenants;

namespace TenantDbGuard.Runtime.Tests;

/// <summary>
/// Cancelling a statement needs a second connection to the server (MySQL has no other way to stop a running statement);
/// these tests check that the runtime counts it, so that the server never sees more connections than the budget.
/// </summary>
[Collection(MariaDbCollection.Name)]
public sealed class CancellationTests(ITestOutputHelper output)
{
    private const int Budget = 2;

    // ---- 10. The budget is a hard ceiling, cancellation connections included ----

    [Fact]
    [Trait("Guarantee", "10")]
    public async Task Cancelling_statements_never_takes_the_server_past_the_budget()
    {
        await using var server = await MariaDbServer.StartAsync(maxConnections: 20);
        await CreateAsync(server);
        await using var db = server.CreateTenantDatabase(o =>
        {
            o.MaxConnections = Budget;
            o.AcquireTimeout = TimeSpan.FromSeconds(30);
        });
        await using var admin = await server.OpenConnectionAsync();
        await admin.FlushStatusWhenSettledAsync(remaining: 1);
        Assert.Equal(Key(0), await db.ExecuteScalarTenantAsync<string>(Key(0), "SELECT tenant FROM marker"));
        var cancelled = 0;
        var slowest = TimeSpan.Zero;

        await Task.WhenAll(Enumerable.Range(0, 4).Select(worker => Task.Run(async () =>
        {
            var random = new Random(worker);
            for (var i = 0; i < 6; i++)
            {
                var key = Key(random.Next(Count));
                using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(30 + random.Next(120)));
                var stopwatch = Stopwatch.StartNew();
                var error = await Record.ExceptionAsync(() => ((worker + i) % 3) switch
                {
                    0 => db.ExecuteScalarTenantAsync<long>(key, "SELECT SLEEP(3)", cancellationToken: cancellation.Token),
                    1 => db.WithTenantConnectionAsync(key, (connection, token) => connection.ExecuteScalarAsync<long>(new CommandDefinition("SELECT SLEEP(3)", cancellationToken: token)), cancellation.Token),
                    _ => SleepThroughLeaseAsync(db, key, cancellation.Token),
                });
                Assert.IsAssignableFrom<OperationCanceledException>(error);
                Interlocked.Increment(ref cancelled);
                lock (output)
                {
                    slowest = stopwatch.Elapsed > slowest ? stopwatch.Elapsed : slowest;
                }
            }
        })));

        var maxUsed = long.Parse((await admin.QuerySingleAsync<(string, string)>("SHOW GLOBAL STATUS LIKE 'Max_used_connections'")).Item2, CultureInfo.InvariantCulture);
        output.WriteLine($"{cancelled} statements cancelled, the slowest after {slowest.TotalMilliseconds:0} ms; Max_used_connections {maxUsed} (budget {Budget} + this admin connection)");
        Assert.InRange(maxUsed, 1, Budget + 1);
        Assert.True(slowest < TimeSpan.FromSeconds(2.5), $"A cancellation took {slowest.TotalMilliseconds:0} ms: it waited for the statement instead of stopping it.");
        Assert.Equal(0, await admin.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO = 'SELECT SLEEP(3)'"));
        await db.WaitUntilAllReturnedAsync();
    }

    [Fact]
    [Trait("Guarantee", "10")]
    public async Task A_leases_CancellationToken_follows_the_token_it_was_acquired_with()
    {
        await using var server = await MariaDbServer.StartAsync(maxConnections: 20);
        await CreateAsync(server);
        await using var db = server.CreateTenantDatabase(o => o.MaxConnections = 2);
        using var cancellation = new CancellationTokenSource();

        await using (var lease = await db.GetConnectionAsync(Key(0)))
        {
            Assert.False(lease.CancellationToken.CanBeCanceled);
        }

        await using (var lease = await db.GetConnectionAsync(Key(0), cancellation.Token))
        {
            Assert.False(lease.CancellationToken.IsCancellationRequested);
            var sleeping = lease.Connection.ExecuteScalarAsync<long>(new CommandDefinition("SELECT SLEEP(3)", cancellationToken: lease.CancellationToken));
            await Task.Delay(100);
            await cancellation.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => sleeping);
            Assert.True(lease.CancellationToken.IsCancellationRequested);

            // The statement was stopped, not the connection: it serves the rest of the lease.
            Assert.Equal(Key(0), await ReadMarkerAsync(lease.Connection));
        }

        // The room held for the cancellation connection is given back a moment later.
        await db.WaitUntilAllReturnedAsync();
        await db.WaitForSnapshotAsync(s => s.Open == 1, TimeSpan.FromSeconds(2));
    }

    [Fact]
    [Trait("Guarantee", "10")]
    public async Task Work_that_outlives_the_kill_of_its_cancelled_statement_ends_in_a_cancellation_not_a_result()
    {
        // A killed statement can end without an error (an interrupted SLEEP returns 1), and code can swallow the
        // cancellation of its statement: once the caller cancelled and the statement was killed for it, what the work
        // returns is not to be trusted, and the caller gets the cancellation.
        await using var server = await MariaDbServer.StartAsync(maxConnections: 20);
        await CreateAsync(server);
        await using var db = server.CreateTenantDatabase(o => o.MaxConnections = Budget);
        using var cancellation = new CancellationTokenSource();
        var statementEnded = new TaskCompletionSource<Exception?>(TaskCreationOptions.RunContinuationsAsynchronously);

        var error = await Record.ExceptionAsync(() => db.WithTenantConnectionAsync(Key(0), async (connection, token) =>
        {
            try
            {
                // Cancelled once the statement runs (not while the lease is taken, however slow the machine).
                var sleeping = connection.ExecuteScalarAsync<long>(new CommandDefinition("SELECT SLEEP(3)", cancellationToken: token));
                cancellation.CancelAfter(TimeSpan.FromMilliseconds(150));
                await sleeping;
                statementEnded.TrySetResult(null);
            }
            catch (Exception exception)
            {
                statementEnded.TrySetResult(exception);
            }

            return 42L;
        }, cancellation.Token));

        Assert.IsAssignableFrom<OperationCanceledException>(await statementEnded.Task.WaitAsync(TimeSpan.FromSeconds(30)));
        var cancelled = Assert.IsAssignableFrom<OperationCanceledException>(error);
        Assert.Equal(cancellation.Token, cancelled.CancellationToken);
        Assert.Contains("KILL QUERY", cancelled.Message, StringComparison.Ordinal);
        await db.WaitUntilAllReturnedAsync();

        // A call the caller did not cancel returns what its work returned.
        Assert.Equal(7L, await db.WithTenantConnectionAsync(Key(0), (connection, token) => connection.ExecuteScalarAsync<long>(new CommandDefinition("SELECT 7", cancellationToken: token)), CancellationToken.None));
    }

    [Fact]
    [Trait("Guarantee", "10")]
    public async Task A_data_source_connections_token_stops_its_own_statement_only()
    {
        await using var server = await MariaDbServer.StartAsync(maxConnections: 20);
        await CreateAsync(server);
        await ClearItemsAsync(server);
        await using var db = server.CreateTenantDatabase(o => o.MaxConnections = Budget);
        await using var connection = await db.ForTenant(Key(0)).OpenConnectionAsync();

        // A token cancelled before the statement: nothing is sent.
        using (var cancelled = new CancellationTokenSource())
        {
            await cancelled.CancelAsync();
            await using var insert = connection.CreateCommand();
            insert.CommandText = "INSERT INTO items (owner) VALUES ('cancelled before')";
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => insert.ExecuteNonQueryAsync(cancelled.Token));
        }

        Assert.Empty(await ReadItemsAsync(server, 0));

        // A token given to one statement does not reach the next one, which was given none.
        using (var first = new CancellationTokenSource())
        {
            await using var quick = connection.CreateCommand();
            quick.CommandText = "SELECT tenant FROM marker";
            Assert.Equal(Key(0), await quick.ExecuteScalarAsync(first.Token));

            await using var sleep = connection.CreateCommand();
            sleep.CommandText = "SELECT SLEEP(1)";
            var sleeping = sleep.ExecuteScalarAsync();
            await Task.Delay(200);
            await first.CancelAsync();
            Assert.Equal(0L, Convert.ToInt64(await sleeping, CultureInfo.InvariantCulture));
        }

        // A statement killed by someone else while the caller's token stays uncancelled is the server's error, not a
        // cancellation the caller never asked for.
        using (var untouched = new CancellationTokenSource())
        {
            await using var id = connection.CreateCommand();
            id.CommandText = "SELECT CONNECTION_ID()";
            var threadId = Convert.ToInt64(await id.ExecuteScalarAsync(untouched.Token), CultureInfo.InvariantCulture);
            await using var sleep = connection.CreateCommand();
            sleep.CommandText = "SELECT COUNT(*) FROM marker WHERE SLEEP(3) = 0";
            var sleeping = sleep.ExecuteScalarAsync(untouched.Token);
            await using var admin = await server.OpenConnectionAsync();
            await WaitUntilRunningAsync(admin, threadId);
            await admin.ExecuteAsync($"KILL QUERY {threadId}");
            var error = await Assert.ThrowsAsync<MySqlException>(() => sleeping);
            Assert.Equal(MySqlErrorCode.QueryInterrupted, error.ErrorCode);
        }

        Assert.Equal(Key(0), await connection.ExecuteScalarAsync<string>("SELECT tenant FROM marker"));
    }

    [Fact]
    [Trait("Guarantee", "2")]
    [Trait("Guarantee", "10")]
    public async Task A_helpers_statement_killed_from_outside_is_the_servers_error_and_its_session_is_reset_before_the_next_tenant()
    {
        // As with a data source connection (above) and with MySqlConnector alone: nobody cancelled and no timeout ran
        // out, so the caller gets the server's error; the session answered it and is reset like after any failed statement.
        await using var server = await MariaDbServer.StartAsync(maxConnections: 20);
        await CreateAsync(server);
        await using var db = server.CreateTenantDatabase(o => o.MaxConnections = 1);
        var threadId = await db.ExecuteScalarTenantAsync<long>(Key(0), "SELECT CONNECTION_ID()");
        await using var admin = await server.OpenConnectionAsync();
        for (var round = 0; round < 2; round++)
        {
            var killed = db.ExecuteScalarTenantAsync<long>(Key(0), "SET SESSION sql_mode = 'ANSI_QUOTES'; SELECT COUNT(*) FROM marker WHERE SLEEP(3) = 0");
            await WaitUntilRunningAsync(admin, threadId);
            await admin.ExecuteAsync($"KILL QUERY {threadId}");
            var error = await Assert.ThrowsAsync<MySqlException>(() => killed);
            Assert.Equal(MySqlErrorCode.QueryInterrupted, error.ErrorCode);

            var next = (await db.QueryTenantAsync<(string, long, long)>(Key(1), "SELECT DATABASE(), CAST(@@session.sql_mode = @@global.sql_mode AS SIGNED), CAST(CONNECTION_ID() AS SIGNED)")).Single();
            Assert.Equal((Database(1), 1L, threadId), next);
        }
    }

    private static async Task WaitUntilRunningAsync(MySqlConnection admin, long threadId)
    {
        for (var i = 0; i < 100; i++)
        {
            if (await admin.ExecuteScalarAsync<long>($"SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = {threadId} AND INFO LIKE '%SLEEP%'") > 0)
            {
                return;
            }

            await Task.Delay(20);
        }

        throw new TimeoutException("The statement did not start.");
    }

    private static async Task SleepThroughLeaseAsync(TenantDatabase db, string key, CancellationToken cancellationToken)
    {
        await using var lease = await db.GetConnectionAsync(key, cancellationToken);
        await lease.Connection.ExecuteScalarAsync<long>(new CommandDefinition("SELECT SLEEP(3)", cancellationToken: lease.CancellationToken));
    }
}
