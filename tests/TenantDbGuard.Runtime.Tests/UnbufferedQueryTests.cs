using System.Diagnostics;
using TenantDbGuard.Runtime.Tests.Infrastructure;

namespace TenantDbGuard.Runtime.Tests;

/// <summary>
/// The unbuffered query: the lease is taken when the enumeration starts and held until the enumerator is disposed, and
/// given back on every path; a caller that stops early has the statement killed rather than read through.
/// </summary>
[Collection(MariaDbCollection.Name)]
public sealed class UnbufferedQueryTests(MariaDbFixture fixture) : IAsyncLifetime
{
    private const int LargeRows = 100_000;

    /// <summary>100,000 rows of about 1 KB: far more than the socket buffers hold, so the server sends them only as they are read.</summary>
    private const string LargeResult = "SELECT seq AS Id, REPEAT('x', 1000) AS Padding FROM seq_1_to_100000";

    private MariaDbServer Server => fixture.Server;

    public Task InitializeAsync() => fixture.CreateTenantsAsync(1);

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task The_lease_is_taken_when_the_enumeration_starts_and_held_until_the_enumerator_is_disposed()
    {
        await using var db = Server.CreateTenantDatabase();
        var rows = db.QueryTenantUnbufferedAsync<int>(MariaDbFixture.TenantKey(1), "SELECT seq FROM seq_1_to_5");
        Assert.Equal(0, db.GetBudgetSnapshot().InUse);

        var enumerator = rows.GetAsyncEnumerator();
        Assert.Equal(0, db.GetBudgetSnapshot().InUse);
        Assert.True(await enumerator.MoveNextAsync());
        Assert.Equal(1, db.GetBudgetSnapshot().InUse);
        Assert.True(await enumerator.MoveNextAsync());
        Assert.Equal(1, db.GetBudgetSnapshot().InUse);

        await enumerator.DisposeAsync();
        await db.WaitUntilAllReturnedAsync();
    }

    [Fact]
    public async Task A_full_enumeration_reads_every_row_and_gives_the_connection_back()
    {
        await using var db = Server.CreateTenantDatabase();

        var read = new List<LargeRow>();
        await foreach (var row in db.QueryTenantUnbufferedAsync<LargeRow>(MariaDbFixture.TenantKey(1), "SELECT seq AS Id, REPEAT('y', seq) AS Padding FROM seq_1_to_1000 WHERE seq > @from", new { from = 10 }))
        {
            read.Add(row);
        }

        Assert.Equal(Enumerable.Range(11, 990).Select(n => (long)n), read.Select(r => r.Id));
        Assert.Equal(1000, read[^1].Padding.Length);
        await db.WaitUntilAllReturnedAsync();
    }

    [Fact]
    public async Task A_break_after_ten_rows_of_a_large_result_kills_the_statement_instead_of_reading_it_through()
    {
        await using var db = Server.CreateTenantDatabase();
        await db.QueryTenantAsync<int>(MariaDbFixture.TenantKey(1), "SELECT 1");
        var sentBefore = await Server.GetStatusAsync("Rows_sent");

        var read = 0;
        await foreach (var row in db.QueryTenantUnbufferedAsync<LargeRow>(MariaDbFixture.TenantKey(1), LargeResult))
        {
            if (++read == 10)
            {
                break;
            }
        }

        await db.WaitUntilAllReturnedAsync();
        var sent = await Server.GetStatusAsync("Rows_sent") - sentBefore;
        Assert.Equal(10, read);
        Assert.InRange(sent, 10, LargeRows / 2);
        Assert.Equal(0, await Server.CountRunningAsync("seq_1_to_100000"));
        Assert.Equal([1], await db.QueryTenantAsync<int>(MariaDbFixture.TenantKey(1), "SELECT 1"));
    }

    [Fact]
    public async Task Stopping_early_opens_no_connection_outside_the_budget_to_kill_the_statement()
    {
        await using var db = Server.CreateTenantDatabase(o => o.MaxConnections = 2);

        var opened = await ConnectionsOpenedMeanwhileAsync(db, async () =>
        {
            await foreach (var row in db.QueryTenantUnbufferedAsync<LargeRow>(MariaDbFixture.TenantKey(1), LargeResult))
            {
                if (row.Id == 10)
                {
                    break;
                }
            }
        });

        Assert.Equal(0, opened);
        Assert.Equal(2, db.GetBudgetSnapshot().Open);
    }

    [Fact]
    public async Task A_mapping_error_in_a_buffered_query_opens_no_connection_outside_the_budget_either()
    {
        await using var db = Server.CreateTenantDatabase(o => o.MaxConnections = 2);

        var opened = await ConnectionsOpenedMeanwhileAsync(db, () => Assert.ThrowsAnyAsync<Exception>(
            () => db.QueryTenantAsync<int>(MariaDbFixture.TenantKey(1), "SELECT IF(seq < 5, CAST(seq AS CHAR), CONCAT('not a number ', REPEAT('x', 1000))) FROM seq_1_to_100000")));

        Assert.Equal(0, opened);
    }

    [Fact]
    public async Task An_exception_in_the_loop_body_kills_the_statement_and_gives_the_connection_back()
    {
        await using var db = Server.CreateTenantDatabase();
        var sentBefore = await Server.GetStatusAsync("Rows_sent");

        await Assert.ThrowsAsync<InvalidOperationException>(async () =>
        {
            await foreach (var row in db.QueryTenantUnbufferedAsync<LargeRow>(MariaDbFixture.TenantKey(1), LargeResult))
            {
                if (row.Id == 5)
                {
                    throw new InvalidOperationException("The caller's own failure.");
                }
            }
        });

        await db.WaitUntilAllReturnedAsync();
        Assert.InRange(await Server.GetStatusAsync("Rows_sent") - sentBefore, 5, LargeRows / 2);
    }

    [Fact]
    public async Task A_mapping_error_midway_kills_the_statement_and_gives_the_connection_back()
    {
        await using var db = Server.CreateTenantDatabase();
        var sentBefore = await Server.GetStatusAsync("Rows_sent");
        var read = 0;

        var error = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await foreach (var value in db.QueryTenantUnbufferedAsync<int>(MariaDbFixture.TenantKey(1), "SELECT IF(seq < 5, CAST(seq AS CHAR), CONCAT('not a number ', REPEAT('x', 1000))) FROM seq_1_to_100000"))
            {
                read++;
            }
        });

        Assert.IsNotAssignableFrom<TenantDbGuardException>(error);
        Assert.Equal(4, read);
        await db.WaitUntilAllReturnedAsync();
        Assert.InRange(await Server.GetStatusAsync("Rows_sent") - sentBefore, 5, LargeRows / 2);
    }

    [Fact]
    public async Task Cancelling_through_WithCancellation_between_rows_ends_the_enumeration_and_kills_the_statement()
    {
        await using var db = Server.CreateTenantDatabase();
        using var cancel = new CancellationTokenSource();
        var sentBefore = await Server.GetStatusAsync("Rows_sent");
        var read = 0;

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var row in db.QueryTenantUnbufferedAsync<LargeRow>(MariaDbFixture.TenantKey(1), LargeResult).WithCancellation(cancel.Token))
            {
                if (++read == 10)
                {
                    cancel.Cancel();
                }
            }
        });

        Assert.Equal(10, read);
        await db.WaitUntilAllReturnedAsync();
        Assert.InRange(await Server.GetStatusAsync("Rows_sent") - sentBefore, 10, LargeRows / 2);
    }

    [Fact]
    public async Task Cancelling_while_the_server_runs_the_statement_kills_it_within_the_budget()
    {
        await using var db = Server.CreateTenantDatabase(o => o.MaxConnections = 3);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var stopwatch = Stopwatch.StartNew();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var value in db.QueryTenantUnbufferedAsync<int>(MariaDbFixture.TenantKey(1), "SELECT SLEEP(5)", cancellationToken: cancel.Token))
            {
            }
        });

        Assert.InRange(stopwatch.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(4));
        Assert.Equal(0, await Server.CountRunningAsync("SLEEP(5)"));
        await db.WaitUntilAllReturnedAsync();
    }

    [Fact]
    public async Task With_a_budget_of_one_connection_an_abandoned_enumeration_leaves_it_to_the_next_query()
    {
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.MaxConnections = 1;
            o.AcquireTimeout = TimeSpan.FromSeconds(5);
        });

        await foreach (var id in db.QueryTenantUnbufferedAsync<long>(MariaDbFixture.TenantKey(1), "SELECT seq FROM seq_1_to_100000"))
        {
            if (id == 10)
            {
                break;
            }
        }

        Assert.Equal([1], await db.QueryTenantAsync<int>(MariaDbFixture.TenantKey(1), "SELECT 1"));
        Assert.Equal(1, (await db.WaitUntilAllReturnedAsync()).Open);
    }

    [Fact]
    public async Task An_enumerator_dropped_without_being_disposed_is_reclaimed()
    {
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.MaxConnectionsPerTenant = 1;
            o.AcquireTimeout = TimeSpan.FromSeconds(10);
        });
        await StartAndDropAsync(db);

        var next = db.QueryTenantAsync<int>(MariaDbFixture.TenantKey(1), "SELECT 1");
        for (var attempt = 0; attempt < 50 && !next.IsCompleted; attempt++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            await Task.Delay(100);
        }

        Assert.Equal([1], await next);
    }

    [Fact]
    public async Task The_timeout_runs_again_while_the_server_computes_a_later_row()
    {
        // The first row (large enough to leave the server's buffer at once) arrives, the caller takes it (the clock
        // stops), then asks for the next, which the server computes for 5 s: the clock runs again for the whole
        // timeout, and the statement is killed after it.
        await using var db = Server.CreateTenantDatabase();
        const string sql = "SELECT seq AS Id, REPEAT('x', 100000) AS Padding, IF(seq = 2, SLEEP(5), 0) AS Slept FROM seq_1_to_3";
        var read = 0;
        var stopwatch = System.Diagnostics.Stopwatch.StartNew();

        var error = await Assert.ThrowsAsync<CommandTimeoutException>(async () =>
        {
            await foreach (var row in db.QueryTenantUnbufferedAsync<(long Id, string Padding, long Slept)>(MariaDbFixture.TenantKey(1), sql, options: new CommandOptions { Timeout = TimeSpan.FromSeconds(1) }))
            {
                read++;
            }
        });

        Assert.Equal(1, read);
        Assert.Equal(TimeSpan.FromSeconds(1), error.Timeout);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(4), $"The statement ran {stopwatch.Elapsed.TotalSeconds:0.0} s: its timeout did not run again after the first row.");
        Assert.Equal(0, await Server.CountRunningAsync("SLEEP(5)"));
        await db.WaitUntilAllReturnedAsync();
    }

    [Fact]
    public async Task A_timeout_bounds_the_wait_for_the_server_and_fails_with_a_CommandTimeoutException()
    {
        await using var db = Server.CreateTenantDatabase();

        var error = await Assert.ThrowsAsync<CommandTimeoutException>(async () =>
        {
            await foreach (var value in db.QueryTenantUnbufferedAsync<int>(MariaDbFixture.TenantKey(1), "SELECT SLEEP(5)", options: new CommandOptions { Timeout = TimeSpan.FromSeconds(1) }))
            {
            }
        });

        Assert.Equal(TimeSpan.FromSeconds(1), error.Timeout);
        Assert.Equal(0, await Server.CountRunningAsync("SLEEP(5)"));

        // The caller's time between rows is not the statement's.
        var read = 0;
        await foreach (var value in db.QueryTenantUnbufferedAsync<long>(MariaDbFixture.TenantKey(1), "SELECT seq FROM seq_1_to_3", options: new CommandOptions { Timeout = TimeSpan.FromMilliseconds(300) }))
        {
            await Task.Delay(400);
            read++;
        }

        Assert.Equal(3, read);
        await db.WaitUntilAllReturnedAsync();
    }

    [Fact]
    public async Task The_master_has_an_unbuffered_query_too()
    {
        await using var db = Server.CreateTenantDatabase();

        var databases = new List<string>();
        await foreach (var name in db.QueryMasterUnbufferedAsync<string>("SELECT DATABASE() FROM seq_1_to_2"))
        {
            databases.Add(name);
        }

        Assert.Equal([MariaDbFixture.MasterDatabase, MariaDbFixture.MasterDatabase], databases);
        await db.WaitUntilAllReturnedAsync();
    }

    [Fact]
    public void Bad_arguments_are_refused_before_anything_runs()
    {
        using var db = Server.CreateTenantDatabase();

        Assert.Throws<ArgumentNullException>(() => db.QueryTenantUnbufferedAsync<int>(null!, "SELECT 1"));
        Assert.Throws<InvalidTenantKeyException>(() => db.QueryTenantUnbufferedAsync<int>("bad key!", "SELECT 1"));
        Assert.Throws<ArgumentNullException>(() => db.QueryMasterUnbufferedAsync<int>(null!));
        Assert.Throws<ArgumentException>(() => db.QueryTenantUnbufferedAsync<int>(MariaDbFixture.TenantKey(1), " "));
    }

    /// <summary>
    /// How many connections the server accepted while <paramref name="scenario"/> ran, its connections given back
    /// afterwards, once <paramref name="db"/> (a budget of 2) holds both of its connections open: any is one opened
    /// outside the budget.
    /// </summary>
    private async Task<long> ConnectionsOpenedMeanwhileAsync(TenantDatabase db, Func<Task> scenario)
    {
        await using (await db.GetConnectionAsync(MariaDbFixture.TenantKey(1)))
        await using (await db.GetConnectionAsync(MariaDbFixture.TenantKey(1)))
        {
        }

        await db.WaitUntilAllReturnedAsync();
        var before = await Server.GetStatusAsync("Connections");

        await scenario();

        await db.WaitUntilAllReturnedAsync();

        // Less the connection that read the counter again.
        return await Server.GetStatusAsync("Connections") - before - 1;
    }

    /// <summary>Starts an enumeration and drops its enumerator without disposing it (kept out of line so nothing stays reachable).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static async Task StartAndDropAsync(TenantDatabase db)
    {
        var enumerator = db.QueryTenantUnbufferedAsync<long>(MariaDbFixture.TenantKey(1), "SELECT seq FROM seq_1_to_5").GetAsyncEnumerator();
        Assert.True(await enumerator.MoveNextAsync());
    }

    private sealed class LargeRow
    {
        public long Id { get; set; }

        public string Padding { get; set; } = string.Empty;
    }
}
