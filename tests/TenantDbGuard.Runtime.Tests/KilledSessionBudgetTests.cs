using System.Diagnostics;
using Dapper;
using MySqlConnector;
using TenantDbGuard.Runtime.Tests.Infrastructure;
using Xunit.Abstractions;
using static TenantDbGuard.Runtime.Tests.Infrastructure.MarkedTenants;

namespace TenantDbGuard.Runtime.Tests;

/// <summary>
/// A session an administrator kills (<c>KILL CONNECTION</c>) has its socket shut by the server at once, but the server
/// counts it against <c>max_connections</c> until its thread has ended what it was doing: here, rolling back a large
/// transaction, which takes a while. The runtime must keep counting it until then, or a new connection opened in its
/// place is one beyond the budget, also when an administrator's <c>KILL QUERY</c> stops the runtime's check of whether it is
/// gone, or a <c>KILL CONNECTION</c> ends the connection that check goes over. A monitor polls the server's process list
/// every few milliseconds.
/// </summary>
[Collection(MariaDbCollection.Name)]
public sealed class KilledSessionBudgetTests(MariaDbFixture fixture, ITestOutputHelper output) : IAsyncLifetime
{
    private const int Budget = 2;
    private const int Rows = 300_000;

    /// <summary>MariaDB's ER_NO_SUCH_QUERY: a <c>KILL QUERY ID</c> whose query has already ended.</summary>
    private const int UnknownQueryId = 1957;

    private MariaDbServer Server => fixture.Server;

    public async Task InitializeAsync()
    {
        await CreateAsync(Server);
        await Server.ExecuteAsync($"CREATE TABLE IF NOT EXISTS {Database(0)}.bulk (id INT PRIMARY KEY, pad CHAR(200) NOT NULL) ENGINE=InnoDB; TRUNCATE TABLE {Database(0)}.bulk;");
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [Theory]
    [Trait("Guarantee", "10")]
    [InlineData("lease", "none")]
    [InlineData("connection helper", "none")]
    [InlineData("transaction helper", "none")]
    [InlineData("connection helper", "query")]
    [InlineData("connection helper", "connection")]
    public async Task A_session_killed_from_outside_while_the_server_still_rolls_it_back_stays_counted(string entry, string interruptTheCheck)
    {
        await Server.WaitForAppConnectionsAsync();
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.MaxConnections = Budget;

            // Long enough for the server to end the killed session on a busy machine: the runtime counts it until then.
            o.ResetTimeout = TimeSpan.FromSeconds(10);
        });
        var started = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        var killed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var insert = $"INSERT INTO {Database(0)}.bulk SELECT seq, 'x' FROM seq_1_to_{Rows}";
        Task doomed = entry == "lease"
            ? UseLeaseAsync()
            : entry == "connection helper"
            ? db.WithTenantConnectionAsync(Key(0), async (connection, token) =>
            {
                await connection.ExecuteAsync("START TRANSACTION");
                await connection.ExecuteAsync(insert);
                started.SetResult(await connection.ExecuteScalarAsync<long>("SELECT CONNECTION_ID()"));
                await killed.Task;
                return await connection.ExecuteScalarAsync<long>("SELECT 1");
            })
            : db.WithTenantTransactionAsync(Key(0), async (connection, transaction, token) =>
            {
                await connection.ExecuteAsync(new CommandDefinition(insert, transaction: transaction));
                started.SetResult(await connection.ExecuteScalarAsync<long>(new CommandDefinition("SELECT CONNECTION_ID()", transaction: transaction)));
                await killed.Task;
                return await connection.ExecuteScalarAsync<long>(new CommandDefinition("SELECT 1", transaction: transaction));
            });
        var id = await started.Task.WaitAsync(TimeSpan.FromSeconds(60));

        async Task UseLeaseAsync()
        {
            // Code that holds the connection gets the driver's error for the killed session, and gives the lease back.
            await using var lease = await db.GetConnectionAsync(Key(0));
            await lease.Connection.ExecuteAsync("START TRANSACTION");
            await lease.Connection.ExecuteAsync(insert);
            started.SetResult(await lease.Connection.ExecuteScalarAsync<long>("SELECT CONNECTION_ID()"));
            await killed.Task;
            await Assert.ThrowsAnyAsync<Exception>(() => lease.Connection.ExecuteScalarAsync<long>("SELECT 1"));
        }

        await using var monitorConnection = await Server.OpenConnectionAsync();
        using var stop = new CancellationTokenSource();
        var seen = 0;
        var lingered = false;
        var over = new List<string>();
        var monitor = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var sessions = (await monitorConnection.QueryAsync<(long Id, string Command)>(
                    "SELECT ID, COMMAND FROM information_schema.PROCESSLIST WHERE USER = @user", new { user = MariaDbServer.AppUser })).AsList();
                seen = Math.Max(seen, sessions.Count);
                lingered |= sessions.Any(s => s.Id == id && s.Command == "Killed");
                if (sessions.Count > Budget)
                {
                    over.Add(string.Join(" | ", sessions));
                }

                await Task.Delay(2);
            }
        });

        // With interruptTheCheck, an administrator's KILL QUERY keeps hitting the runtime's reading of the process list
        // (whether the killed session is gone yet), or a KILL CONNECTION ends the connection of the first such reading;
        // the runtime must take neither for the killed session's end. The KILL QUERY names the reading by its query id, so
        // it can never reach a query the same session runs for a caller once the reading is over (a KILL QUERY by session
        // id could). One KILL CONNECTION only: the connection of a later reading may be given to a caller by the time the
        // KILL reaches it.
        await using var interrupterConnection = await Server.OpenConnectionAsync();
        var interrupted = 0;
        var interrupter = interruptTheCheck == "none" ? Task.CompletedTask : Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested && (interruptTheCheck == "query" || interrupted == 0))
            {
                foreach (var (sessionId, queryId) in await interrupterConnection.QueryAsync<(long SessionId, long QueryId)>(
                    "SELECT ID, QUERY_ID FROM information_schema.PROCESSLIST WHERE USER = @user AND INFO LIKE '%PROCESSLIST WHERE ID%'", new { user = MariaDbServer.AppUser }))
                {
                    try
                    {
                        await interrupterConnection.ExecuteAsync(interruptTheCheck == "query" ? $"KILL QUERY ID {queryId}" : $"KILL CONNECTION {sessionId}");
                        interrupted++;
                    }
                    catch (MySqlException exception) when (exception.ErrorCode == MySqlErrorCode.NoSuchThread || exception.Number == UnknownQueryId)
                    {
                    }
                }
            }
        });

        await Server.ExecuteAsync($"KILL CONNECTION {id}");
        killed.SetResult();
        var error = await Record.ExceptionAsync(() => doomed);
        Assert.True(entry == "lease" ? error is null : error is TenantConnectionFailedException, error?.ToString());

        // Two callers at once want both connections of the budget, one of which is the killed session's slot.
        var stopwatch = Stopwatch.StartNew();
        var answers = await Task.WhenAll(
            db.ExecuteScalarTenantAsync<long>(Key(1), "SELECT SLEEP(0.3) + 1"),
            db.ExecuteScalarTenantAsync<long>(Key(1), "SELECT SLEEP(0.3) + 1"));
        await db.WaitUntilAllReturnedAsync();
        await stop.CancelAsync();
        await monitor;
        await interrupter;
        Assert.True(interruptTheCheck == "none" || interrupted > 0, "The runtime's check was never interrupted.");

        output.WriteLine($"helpers answered in {stopwatch.ElapsedMilliseconds} ms; the killed session {(lingered ? "was" : "was not")} seen rolling back; at most {seen} sessions; {interrupted} checks interrupted");
        Assert.Equal([1L, 1L], answers);
        Assert.Empty(over);
        Assert.Equal(0, await monitorConnection.ExecuteScalarAsync<long>($"SELECT COUNT(*) FROM {Database(0)}.bulk"));
    }

    [Theory]
    [Trait("Guarantee", "10")]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_session_killed_while_leased_is_closed_and_uncounted_when_the_lease_ends(bool resetOnRelease)
    {
        // Without a reset on release the runtime checks a returned session with a ping; with one, the reset is the check.
        // Either way a session the server no longer has must not wait in the pool for the next caller.
        await Server.WaitForAppConnectionsAsync();
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.MaxConnections = 1;
            o.ResetSessionOnRelease = resetOnRelease;
        });
        long id;
        await using (var lease = await db.GetConnectionAsync(Key(0)))
        {
            id = await lease.Connection.ExecuteScalarAsync<long>("SELECT CONNECTION_ID()");
            await Server.ExecuteAsync($"KILL CONNECTION {id}");
            Assert.Equal(1, db.GetBudgetSnapshot().Open);
        }

        var watch = Stopwatch.StartNew();
        while (db.GetBudgetSnapshot().Open != 0 && watch.Elapsed < TimeSpan.FromSeconds(15))
        {
            await Task.Delay(20);
        }

        output.WriteLine($"open {db.GetBudgetSnapshot().Open} after {watch.ElapsedMilliseconds} ms");
        Assert.Equal(0, db.GetBudgetSnapshot().Open);
        Assert.NotEqual(id, await db.ExecuteScalarTenantAsync<long>(Key(0), "SELECT CONNECTION_ID()"));
    }
}
