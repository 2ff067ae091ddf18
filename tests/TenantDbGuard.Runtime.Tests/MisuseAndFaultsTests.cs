using System.Collections.Concurrent;
using System.Data;
using System.Diagnostics;
using Dapper;
using MySqlConnector;
using TenantDbGuard.Runtime.Tests.Infrastructure;
using Xunit.Abstractions;

namespace TenantDbGuard.Runtime.Tests;

/// <summary>
/// Misuse of the public API and faults nobody planned for: calls on a disposed runtime, leases given back twice or from
/// elsewhere, a runtime disposed under load and while callers wait, cancellation at every point of every asynchronous
/// entry point, one connection used by two threads, an acquire timeout that runs out as a connection comes back, and a
/// server that restarts or kills every session under load. After each, the budget comes back whole: nothing in use,
/// nobody waiting, and the whole budget leased again at once, each lease on its own tenant's database.
/// </summary>
[Collection(MariaDbCollection.Name)]
public sealed class MisuseAndFaultsTests(MariaDbFixture fixture, ITestOutputHelper output) : IAsyncLifetime
{
    private const int Tenants = 4;

    private MariaDbServer Server => fixture.Server;

    public Task InitializeAsync() => fixture.CreateTenantsAsync(Tenants);

    public Task DisposeAsync() => Task.CompletedTask;

    private static string Key(int number) => MariaDbFixture.TenantKey(number);

    private static string Db(int number) => MariaDbFixture.TenantDatabase(number);

    private TenantDatabase CreateDatabase(int budget, Action<TenantDbGuardOptions>? configure = null, MariaDbServer? server = null) =>
        (server ?? Server).CreateTenantDatabase(o =>
        {
            o.MaxConnections = budget;
            o.MaxConnectionsPerTenant = budget;
            o.MaxMasterConnections = 1;
            o.AcquireTimeout = TimeSpan.FromSeconds(5);
            configure?.Invoke(o);
        });

    /// <summary>
    /// Every lease came back and nobody waits; then the whole budget is leased at once (tenants in turn), each lease on
    /// its tenant's database, and given back again.
    /// </summary>
    private static async Task AssertBudgetWholeAsync(TenantDatabase db, int budget)
    {
        await db.WaitForSnapshotAsync(s => s is { InUse: 0, TenantsInUse: 0, Waiting: 0 }, TimeSpan.FromSeconds(10));
        var leases = await Task.WhenAll(Enumerable.Range(0, budget).Select(i => db.GetConnectionAsync(Key(1 + (i % Tenants))).AsTask()));
        try
        {
            foreach (var lease in leases)
            {
                Assert.Equal(Db(1 + Array.IndexOf(leases, lease) % Tenants), await lease.Connection.ExecuteScalarAsync<string>("SELECT DATABASE()"));
            }
        }
        finally
        {
            foreach (var lease in leases)
            {
                await lease.DisposeAsync();
            }
        }

        var snapshot = await db.WaitUntilAllReturnedAsync();
        Assert.True(snapshot.Open <= budget, $"{snapshot.Open} connections open on a budget of {budget}.");
    }

    // ---- A disposed runtime ----

    public static TheoryData<string> EntryPointsOfADisposedRuntime() =>
    [
        "ForTenant",
        "ForMaster",
        "InvalidateTenant",
        "a data source's CreateConnection, then Open",
        "a data source's OpenConnection",
        "a data source's OpenConnectionAsync",
        "GetConnectionAsync",
        "WithTenantConnectionAsync",
        "ExecuteScalarTenantAsync",
        "QueryMasterUnbufferedAsync",
    ];

    [Theory]
    [MemberData(nameof(EntryPointsOfADisposedRuntime))]
    public async Task Every_entry_point_of_a_disposed_runtime_throws_ObjectDisposedException(string entry)
    {
        var db = CreateDatabase(2);
        // Data sources got before the disposal are kept by callers (DI singletons, EF Core options).
        var source = db.ForTenant(Key(1));
        await db.DisposeAsync();
        var before = await Server.GetStatusAsync("Connections");

        Func<Task> call = entry switch
        {
            "ForTenant" => () => Task.FromResult(db.ForTenant(Key(1))),
            "ForMaster" => () => Task.FromResult(db.ForMaster()),
            "InvalidateTenant" => () => { db.InvalidateTenant(Key(1)); return Task.CompletedTask; },
            "a data source's CreateConnection, then Open" => () => { using var c = source.CreateConnection(); c.Open(); return Task.CompletedTask; },
            "a data source's OpenConnection" => () => Task.FromResult(source.OpenConnection()),
            "a data source's OpenConnectionAsync" => async () => await source.OpenConnectionAsync(),
            "GetConnectionAsync" => async () => await db.GetConnectionAsync(Key(1)),
            "WithTenantConnectionAsync" => () => db.WithTenantConnectionAsync(Key(1), (_, _) => Task.FromResult(1)),
            "ExecuteScalarTenantAsync" => () => db.ExecuteScalarTenantAsync<int>(Key(1), "SELECT 1"),
            _ => async () => await db.QueryMasterUnbufferedAsync<int>("SELECT 1").GetAsyncEnumerator().MoveNextAsync(),
        };

        await Assert.ThrowsAsync<ObjectDisposedException>(call);
        // The status query itself is the one connection the server saw meanwhile; the figures stay readable.
        Assert.Equal(before + 1, await Server.GetStatusAsync("Connections"));
        Assert.Equal(0, db.GetBudgetSnapshot().InUse);
    }

    [Fact]
    public async Task A_lease_given_back_twice_from_two_threads_after_the_runtimes_disposal_returns_its_place_once()
    {
        var db = CreateDatabase(2);
        var lease = await db.GetConnectionAsync(Key(1));
        var other = await db.GetConnectionAsync(Key(2));
        await db.DisposeAsync();

        // Still usable until given back: disposal does not pull a connection from under its holder.
        Assert.Equal(Db(1), await lease.Connection.ExecuteScalarAsync<string>("SELECT DATABASE()"));
        await Task.WhenAll(Task.Run(() => lease.Dispose()), Task.Run(async () => await lease.DisposeAsync()), Task.Run(() => lease.Dispose()));
        Assert.Equal(1, db.GetBudgetSnapshot().InUse);
        await other.DisposeAsync();
        await other.DisposeAsync();
        var snapshot = await db.WaitUntilAllReturnedAsync();
        Assert.Equal(0, snapshot.InUse);
        await RuntimeTestExtensions.WaitUntilAsync(async () => await Server.CountConnectionsAsync() == 0, TimeSpan.FromSeconds(10), "the server let go of the disposed runtime's connections");
    }

    [Fact]
    public async Task A_lease_given_back_twice_and_from_another_thread_counts_once()
    {
        await using var db = CreateDatabase(2);
        var lease = await db.GetConnectionAsync(Key(1));
        await Task.Run(async () => await lease.DisposeAsync());
        lease.Dispose();
        await lease.DisposeAsync();
        await db.WaitUntilAllReturnedAsync();

        // Had a second release counted, the budget would let three leases out at once, or refuse one.
        await AssertBudgetWholeAsync(db, 2);
        var held = await Task.WhenAll(db.GetConnectionAsync(Key(1)).AsTask(), db.GetConnectionAsync(Key(2)).AsTask());
        await Assert.ThrowsAsync<ConnectionBudgetExhaustedException>(async () =>
        {
            using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await using var third = await db.GetConnectionAsync(Key(3), cancel.Token);
        }).WaitAsync(TimeSpan.FromSeconds(15));
        foreach (var h in held)
        {
            await h.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_lease_given_back_from_a_callback_of_its_own_cancellation_token_neither_deadlocks_nor_loses_its_place()
    {
        await using var db = CreateDatabase(2);
        for (var round = 0; round < 10; round++)
        {
            using var cancel = new CancellationTokenSource();
            var lease = await db.GetConnectionAsync(Key(1 + (round % Tenants)), cancel.Token);
            using var registration = lease.CancellationToken.Register(() => lease.Dispose());
            Assert.Equal(0, await lease.Connection.ExecuteScalarAsync<int>(new CommandDefinition("SELECT SLEEP(0.01)", cancellationToken: lease.CancellationToken)));

            // The release runs inside the cancellation of the lease's own token, which the release ends: no statement
            // runs meanwhile (one that does gets whatever the driver throws when its connection goes under it; see
            // docs/benchmarks.md, 2026-12-07).
            await Task.Run(cancel.Cancel).WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Throws<ObjectDisposedException>(() => lease.Connection);
            await lease.DisposeAsync();
            await db.WaitUntilAllReturnedAsync();
        }

        await AssertBudgetWholeAsync(db, 2);
    }

    [Theory]
    [InlineData("disposed")]
    [InlineData("closed")]
    [InlineData("closed and opened again")]
    public async Task A_leases_connection_object_disposed_or_closed_by_its_holder_costs_no_budget_and_serves_no_one_else(string misuse)
    {
        await Server.WaitForAppConnectionsAsync();
        await using var db = CreateDatabase(2);
        for (var round = 0; round < 5; round++)
        {
            var lease = await db.GetConnectionAsync(Key(1));
            await lease.Connection.ExecuteAsync("SET SESSION auto_increment_increment = 7");
            switch (misuse)
            {
                case "disposed":
                    await lease.Connection.DisposeAsync();
                    break;
                case "closed":
                    await lease.Connection.CloseAsync();
                    break;
                default:
                    await lease.Connection.CloseAsync();
                    await lease.Connection.OpenAsync();
                    break;
            }

            await lease.DisposeAsync();
            await db.WaitUntilAllReturnedAsync();

            // The next leases (another tenant, then the same) see nothing of it.
            Assert.Equal(Db(2) + "|1", await db.ExecuteScalarTenantAsync<string>(Key(2), "SELECT CONCAT(DATABASE(), '|', @@session.auto_increment_increment)"));
            await using (var again = await db.GetConnectionAsync(Key(1)))
            {
                Assert.Equal(Db(1) + "|1", await again.Connection.ExecuteScalarAsync<string>("SELECT CONCAT(DATABASE(), '|', @@session.auto_increment_increment)"));
            }
        }

        await AssertBudgetWholeAsync(db, 2);
        await RuntimeTestExtensions.WaitUntilAsync(async () => await Server.CountConnectionsAsync() <= 2, TimeSpan.FromSeconds(10), "the server sees no more sessions than the budget");
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public async Task A_runtime_disposed_while_callers_wait_ends_every_wait_at_once(bool synchronousDispose, bool synchronousOpens)
    {
        var db = CreateDatabase(1, o => o.AcquireTimeout = TimeSpan.FromSeconds(30));
        var lease = await db.GetConnectionAsync(Key(1));
        var source = db.ForTenant(Key(1));
        var waiters = Enumerable.Range(0, 6).Select(i => synchronousOpens
            ? Task.Factory.StartNew(() => source.OpenConnection().Dispose(), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)
            : Task.Run(async () =>
            {
                await using var l = await db.GetConnectionAsync(Key(1));
            })).ToArray();
        await db.WaitForSnapshotAsync(s => s.Waiting == 6, TimeSpan.FromSeconds(10));

        var clock = Stopwatch.StartNew();
        if (synchronousDispose)
        {
            await Task.Run(db.Dispose);
        }
        else
        {
            await db.DisposeAsync();
        }

        var all = Task.WhenAll(waiters);
        var ended = await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(10))) == all;
        output.WriteLine($"waiters ended {(ended ? "within" : "not within")} 10 s, after {clock.ElapsedMilliseconds} ms");
        Assert.True(ended, "Callers still wait for the budget of a disposed runtime after 10 s (their acquire timeout is 30 s).");
        Assert.All(waiters, w => Assert.IsType<ObjectDisposedException>(w.Exception?.InnerException));
        await lease.DisposeAsync();
        Assert.Equal(0, db.GetBudgetSnapshot().Waiting);
        await RuntimeTestExtensions.WaitUntilAsync(async () => await Server.CountConnectionsAsync() == 0, TimeSpan.FromSeconds(10), "the server let go of the disposed runtime's connections");
    }

    [Fact]
    public async Task A_runtime_disposed_while_many_leases_and_connections_are_out_closes_every_connection_as_they_come_back()
    {
        await Server.WaitForAppConnectionsAsync();
        var db = CreateDatabase(8);
        var leases = await Task.WhenAll(Enumerable.Range(0, 4).Select(i => db.GetConnectionAsync(Key(1 + i)).AsTask()));
        var connections = await Task.WhenAll(Enumerable.Range(0, 3).Select(i => db.ForTenant(Key(1 + i)).OpenConnectionAsync().AsTask()));
        var running = leases[0].Connection.ExecuteScalarAsync<int>("SELECT SLEEP(0.5)");

        var clock = Stopwatch.StartNew();
        await db.DisposeAsync();
        output.WriteLine($"disposed in {clock.ElapsedMilliseconds} ms with 7 leases out");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"The disposal took {clock.ElapsedMilliseconds} ms.");
        Assert.Equal(0, await running);
        Assert.Equal(Db(2), await connections[1].ExecuteScalarAsync<string>("SELECT DATABASE()"));
        foreach (var lease in leases)
        {
            await lease.DisposeAsync();
        }

        foreach (var connection in connections)
        {
            connection.Close();
            Assert.Throws<ObjectDisposedException>(() => connection.Open());
            await connection.DisposeAsync();
        }

        Assert.Equal(0, db.GetBudgetSnapshot().InUse);
        await RuntimeTestExtensions.WaitUntilAsync(async () => await Server.CountConnectionsAsync() == 0, TimeSpan.FromSeconds(10), "the server let go of every connection");
    }

    // ---- Cancellation at every point ----

    public static TheoryData<string, string> CancellationPoints()
    {
        var data = new TheoryData<string, string>();
        foreach (var api in new[] { "lease", "query", "scalar", "transaction", "unbuffered", "connection" })
        {
            foreach (var point in new[] { "before", "waiting for the budget", "during the statement", "at random" })
            {
                data.Add(api, point);
            }
        }

        data.Add("unbuffered", "while reading");
        data.Add("connection", "while reading");
        data.Add("transaction", "during the release");
        return data;
    }

    [Theory]
    [MemberData(nameof(CancellationPoints))]
    public async Task Cancellation_at_any_point_of_an_entry_point_brings_the_whole_budget_back(string api, string point)
    {
        const int Budget = 2;
        await using var db = CreateDatabase(Budget, o => o.MaxConnectionsPerTenant = 1);
        var random = new Random(api.GetHashCode() ^ point.GetHashCode());
        var outcomes = new ConcurrentDictionary<string, int>();
        var rounds = point == "at random" ? 12 : 3;
        for (var round = 0; round < rounds; round++)
        {
            using var cancel = new CancellationTokenSource();
            TenantConnectionLease? blocker = null;
            var sleep = 0.0;
            switch (point)
            {
                case "before":
                    cancel.Cancel();
                    break;
                case "waiting for the budget":
                    // Tenant 1's cap is held: the call waits, and is cancelled while it waits.
                    blocker = await db.GetConnectionAsync(Key(1));
                    cancel.CancelAfter(100);
                    break;
                case "during the statement":
                case "while reading":
                    sleep = 3;
                    cancel.CancelAfter(300);
                    break;
                case "during the release":
                    break;
                default:
                    sleep = 0.05;
                    cancel.CancelAfter(random.Next(0, 60));
                    break;
            }

            var clock = Stopwatch.StartNew();
            try
            {
                await CallAsync(db, api, point, sleep, cancel).WaitAsync(TimeSpan.FromSeconds(15));
                outcomes.AddOrUpdate("ok", 1, (_, n) => n + 1);
            }
            catch (Exception exception) when (exception is OperationCanceledException || (exception is MySqlException { ErrorCode: MySqlErrorCode.QueryInterrupted } && api == "connection"))
            {
                outcomes.AddOrUpdate(exception.GetType().Name, 1, (_, n) => n + 1);
            }
            finally
            {
                if (blocker is not null)
                {
                    await blocker.DisposeAsync();
                }
            }

            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"Round {round}: the cancelled call took {clock.ElapsedMilliseconds} ms.");
            await AssertBudgetWholeAsync(db, Budget);
        }

        output.WriteLine(string.Join("; ", outcomes.Select(o => $"{o.Key} x{o.Value}")));
        if (point is "before" or "waiting for the budget")
        {
            Assert.Equal(rounds, outcomes.Where(o => o.Key.Contains("Canceled", StringComparison.Ordinal)).Sum(o => o.Value));
        }
    }

    private static async Task CallAsync(TenantDatabase db, string api, string point, double sleep, CancellationTokenSource cancel)
    {
        var token = cancel.Token;
        var sql = "SELECT SLEEP(@s)";
        var args = new { s = sleep };
        switch (api)
        {
            case "lease":
                await using (var lease = await db.GetConnectionAsync(Key(1), token))
                {
                    await lease.Connection.ExecuteScalarAsync<int>(new CommandDefinition(sql, args, cancellationToken: lease.CancellationToken));
                }

                break;
            case "query":
                await db.QueryTenantAsync<int>(Key(1), sql, args, cancellationToken: token);
                break;
            case "scalar":
                await db.ExecuteScalarTenantAsync<int>(Key(1), sql, args, cancellationToken: token);
                break;
            case "transaction":
                await db.WithTenantTransactionAsync(Key(1), async (c, tx, t) =>
                {
                    await c.ExecuteAsync(new CommandDefinition("DO 1", transaction: tx, cancellationToken: t));
                    await c.ExecuteScalarAsync<int>(new CommandDefinition(sql, args, tx, cancellationToken: t));
                    if (point == "during the release")
                    {
                        // The token is cancelled as the work returns: the commit and the release see it.
                        cancel.Cancel();
                    }
                }, cancellationToken: token);
                break;
            case "unbuffered":
                var unbufferedSql = point == "while reading" ? "SELECT 1 UNION ALL SELECT SLEEP(@s)" : sql;
                await foreach (var row in db.QueryTenantUnbufferedAsync<int>(Key(1), unbufferedSql, args, cancellationToken: token))
                {
                    _ = row;
                }

                break;
            default:
                await using (var connection = db.ForTenant(Key(1)).CreateConnection())
                {
                    await connection.OpenAsync(token);
                    await using var command = connection.CreateCommand();
                    command.CommandText = point == "while reading" ? "SELECT 1 UNION ALL SELECT SLEEP(3)" : $"SELECT SLEEP({sleep.ToString(System.Globalization.CultureInfo.InvariantCulture)})";
                    await using var reader = await command.ExecuteReaderAsync(token);
                    while (await reader.ReadAsync(token))
                    {
                    }
                }

                break;
        }
    }

    // ---- One connection, two threads ----

    [Fact]
    public async Task Two_threads_using_one_connection_at_once_get_the_drivers_error_and_never_reach_another_tenant()
    {
        // One connection open holds one place and keeps one free to kill its cancelled statements: the third serves
        // the other tenant.
        await using var db = CreateDatabase(3);
        var failures = new ConcurrentBag<Exception>();
        for (var round = 0; round < 20; round++)
        {
            await using var connection = await db.ForTenant(Key(1)).OpenConnectionAsync();
            var reads = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => Task.Run(async () =>
            {
                try
                {
                    return await connection.ExecuteScalarAsync<string>("SELECT CONCAT(DATABASE(), SLEEP(0.01))");
                }
                catch (Exception exception)
                {
                    failures.Add(exception);
                    return null;
                }
            })));
            Assert.All(reads.Where(r => r is not null), r => Assert.Equal(Db(1) + "0", r));
            // Another tenant's lease in between, on the session the connection gives back.
            Assert.Equal(Db(2), await db.ExecuteScalarTenantAsync<string>(Key(2), "SELECT DATABASE()"));
        }

        output.WriteLine($"{failures.Count} calls refused: " + string.Join("; ", failures.GroupBy(f => f.GetType().Name + ": " + f.Message).Select(g => $"{g.Key} x{g.Count()}")));
        Assert.All(failures, f => Assert.True(f is InvalidOperationException or MySqlException, f.ToString()));
        await AssertBudgetWholeAsync(db, 3);
    }

    [Fact]
    public async Task Two_threads_opening_one_connection_at_once_open_it_once_and_hold_one_lease()
    {
        await using var db = CreateDatabase(2);
        for (var round = 0; round < 20; round++)
        {
            await using var connection = db.ForTenant(Key(1)).CreateConnection();
            var opens = Enumerable.Range(0, 2).Select(i => Task.Run(async () =>
            {
                if (i == 0)
                {
                    connection.Open();
                }
                else
                {
                    await connection.OpenAsync();
                }
            })).ToArray();
            var error = await Record.ExceptionAsync(() => Task.WhenAll(opens));
            Assert.Equal(1, opens.Count(o => o.IsCompletedSuccessfully));
            Assert.IsType<InvalidOperationException>(error);
            Assert.Equal(ConnectionState.Open, connection.State);
            Assert.Equal(1, db.GetBudgetSnapshot().InUse);
        }

        await AssertBudgetWholeAsync(db, 2);
    }

    [Fact]
    public async Task A_connection_closed_from_another_thread_while_its_statement_runs_gives_its_place_back()
    {
        await using var db = CreateDatabase(1);
        for (var round = 0; round < 5; round++)
        {
            var connection = await db.ForTenant(Key(1)).OpenConnectionAsync();
            var running = connection.ExecuteScalarAsync<int>("SELECT SLEEP(2)");
            await Task.Delay(100);
            var clock = Stopwatch.StartNew();
            await Task.Run(connection.Close);
            var error = await Record.ExceptionAsync(() => running.WaitAsync(TimeSpan.FromSeconds(10)));
            output.WriteLine($"round {round}: the statement ended with {error?.GetType().Name ?? "its result"} after {clock.ElapsedMilliseconds} ms");
            Assert.True(error is null or InvalidOperationException or MySqlException or OperationCanceledException, error?.ToString());
            await connection.DisposeAsync();

            // The one place of the budget serves the next tenant on its own database.
            Assert.Equal(Db(2), await db.ExecuteScalarTenantAsync<string>(Key(2), "SELECT DATABASE()"));
        }

        await AssertBudgetWholeAsync(db, 1);
    }

    // ---- What a TenantDbConnection throws ----

    [Theory]
    [InlineData("async", "no server")]
    [InlineData("sync", "no server")]
    [InlineData("async", "unknown database")]
    [InlineData("sync", "unknown database")]
    public async Task Opening_a_connection_fails_with_the_runtimes_typed_errors_never_the_drivers(string how, string fault)
    {
        var port = RuntimeTestExtensions.UnusedPort();
        await using var db = fault == "no server"
            ? CreateDatabase(2, o => o.MasterConnectionString = new MySqlConnectionStringBuilder(Server.GetAppConnectionString(MariaDbFixture.MasterDatabase)) { Port = (uint)port, ConnectionTimeout = 2 }.ConnectionString)
            : CreateDatabase(2);
        var key = Key(1);
        if (fault == "unknown database")
        {
            key = "tenant-gone-" + Guid.NewGuid().ToString("N")[..6];
            await Server.ExecuteAsync($"INSERT INTO {MariaDbFixture.MasterDatabase}.tenants (tenant_key, database_name) VALUES ('{key}', 'tdg_no_such_db')");
        }

        try
        {
            await using var connection = db.ForTenant(key).CreateConnection();
            var error = how == "sync" ? Record.Exception(connection.Open) : await Record.ExceptionAsync(() => connection.OpenAsync());
            output.WriteLine($"{error?.GetType().FullName}: {error?.Message}");
            Assert.IsAssignableFrom<TenantDbGuardException>(error);
            Assert.Equal(ConnectionState.Closed, connection.State);
        }
        finally
        {
            await Server.ExecuteAsync($"DELETE FROM {MariaDbFixture.MasterDatabase}.tenants WHERE tenant_key LIKE 'tenant-gone-%'");
        }

        Assert.Equal(0, db.GetBudgetSnapshot().InUse);
    }

    [Fact]
    public async Task A_command_whose_session_was_killed_gives_the_drivers_error_and_the_connection_opens_again()
    {
        await using var db = CreateDatabase(3);
        await using var connection = await db.ForTenant(Key(1)).OpenConnectionAsync();
        var id = await connection.ExecuteScalarAsync<long>("SELECT CONNECTION_ID()");
        await Server.ExecuteAsync($"KILL {id}");

        // As from a MySqlConnection: EF Core's MySQL execution strategies decide on the driver's error numbers.
        var error = await Record.ExceptionAsync(() => connection.ExecuteScalarAsync<long>("SELECT 1"));
        output.WriteLine($"{error?.GetType().FullName}: {error?.Message}");
        Assert.IsType<MySqlException>(error);
        connection.Close();
        await db.WaitUntilAllReturnedAsync();
        await connection.OpenAsync();
        Assert.NotEqual(id, await connection.ExecuteScalarAsync<long>("SELECT CONNECTION_ID()"));
        Assert.Equal(Db(1), await connection.ExecuteScalarAsync<string>("SELECT DATABASE()"));
    }

    // ---- The acquire timeout runs out as a connection comes back ----

    [Theory]
    [InlineData("lease", "process budget")]
    [InlineData("lease", "tenant cap")]
    [InlineData("synchronous open", "process budget")]
    [InlineData("synchronous open", "tenant cap")]
    public async Task An_acquire_timeout_that_runs_out_as_a_connection_comes_back_loses_no_budget(string how, string budget)
    {
        var timeout = TimeSpan.FromMilliseconds(200);
        var cap = budget == "tenant cap";
        await using var db = CreateDatabase(cap ? 3 : 1, o =>
        {
            o.AcquireTimeout = timeout;
            o.MaxConnectionsPerTenant = 1;
        });
        for (var i = 1; i <= Tenants; i++)
        {
            // Looked up once: the waits below are for the budget alone, not for the master's connection.
            Assert.Equal(Db(i), await db.ExecuteScalarTenantAsync<string>(Key(i), "SELECT DATABASE()"));
        }

        var outcomes = new ConcurrentDictionary<string, int>();
        for (var round = 0; round < 20; round++)
        {
            var tenant = 1 + (round % Tenants);
            var next = cap ? tenant : 1 + ((round + 1) % Tenants);
            var holder = await db.GetConnectionAsync(Key(tenant));
            var waiting = how == "lease"
                ? Task.Run(async () =>
                {
                    await using var lease = await db.GetConnectionAsync(Key(next));
                    return await lease.Connection.ExecuteScalarAsync<string>("SELECT DATABASE()");
                })
                : Task.Factory.StartNew(() =>
                {
                    using var connection = db.ForTenant(Key(next)).OpenConnection();
                    return connection.ExecuteScalar<string>("SELECT DATABASE()");
                }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

            // Given back within a few milliseconds of the waiter's deadline, either side.
            await Task.Delay(timeout + TimeSpan.FromMilliseconds((round % 7) - 3));
            await holder.DisposeAsync();
            try
            {
                Assert.Equal(Db(next), await waiting.WaitAsync(TimeSpan.FromSeconds(10)));
                outcomes.AddOrUpdate("ok", 1, (_, n) => n + 1);
            }
            catch (ConnectionBudgetExhaustedException exception)
            {
                Assert.Equal(cap ? ConnectionBudgetKind.Tenant : ConnectionBudgetKind.Process, exception.Budget);
                outcomes.AddOrUpdate("timed out", 1, (_, n) => n + 1);
            }

            await db.WaitUntilAllReturnedAsync();
        }

        output.WriteLine(string.Join("; ", outcomes.Select(o => $"{o.Key} x{o.Value}")));
        await db.WaitUntilAllReturnedAsync();
        var held = await Task.WhenAll(Enumerable.Range(0, cap ? 3 : 1).Select(i => db.GetConnectionAsync(Key(1 + i)).AsTask()));
        foreach (var lease in held)
        {
            await lease.DisposeAsync();
        }

        Assert.True(db.GetBudgetSnapshot().Open <= (cap ? 3 : 1));
    }

    [Fact]
    public async Task A_leases_token_cancelled_as_the_lease_is_given_back_loses_no_budget()
    {
        await using var db = CreateDatabase(2);
        for (var round = 0; round < 40; round++)
        {
            using var cancel = new CancellationTokenSource();
            var lease = await db.GetConnectionAsync(Key(1 + (round % Tenants)), cancel.Token);
            var running = lease.Connection.ExecuteScalarAsync<int>(new CommandDefinition("SELECT SLEEP(0.2)", cancellationToken: lease.CancellationToken));
            await Task.Delay(round % 5 * 10);
            using var start = new Barrier(2);
            await Task.WhenAll(
                Task.Run(() => { start.SignalAndWait(); cancel.Cancel(); }),
                Task.Run(() => { start.SignalAndWait(); lease.Dispose(); })).WaitAsync(TimeSpan.FromSeconds(10));
            _ = await Record.ExceptionAsync(() => running.WaitAsync(TimeSpan.FromSeconds(10)));
            await db.WaitUntilAllReturnedAsync();
        }

        await AssertBudgetWholeAsync(db, 2);
    }

    [Fact]
    public async Task A_runtime_disposed_while_calls_arrive_ends_every_call_with_a_result_or_ObjectDisposedException()
    {
        for (var round = 0; round < 5; round++)
        {
            await Server.WaitForAppConnectionsAsync();
            var db = CreateDatabase(3);
            var outcomes = new ConcurrentDictionary<string, int>();
            var calls = Enumerable.Range(0, 24).Select(i => Task.Run(async () =>
            {
                await Task.Delay(i % 8 * 5);
                try
                {
                    if (i % 3 == 0)
                    {
                        await db.ExecuteScalarTenantAsync<string>(Key(1 + (i % Tenants)), "SELECT DATABASE()");
                    }
                    else if (i % 3 == 1)
                    {
                        await using var lease = await db.GetConnectionAsync(Key(1 + (i % Tenants)));
                        await lease.Connection.ExecuteScalarAsync<string>("SELECT DATABASE()");
                    }
                    else
                    {
                        await using var connection = await db.ForTenant(Key(1 + (i % Tenants))).OpenConnectionAsync();
                        await connection.ExecuteScalarAsync<string>("SELECT DATABASE()");
                    }

                    outcomes.AddOrUpdate("ok", 1, (_, n) => n + 1);
                }
                catch (Exception exception) when (exception is ObjectDisposedException or TenantDbGuardException)
                {
                    outcomes.AddOrUpdate(exception.GetType().Name, 1, (_, n) => n + 1);
                }
            })).ToArray();
            await Task.Delay(round * 8);
            await db.DisposeAsync();
            await Task.WhenAll(calls).WaitAsync(TimeSpan.FromSeconds(15));
            output.WriteLine($"round {round}: " + string.Join("; ", outcomes.Select(o => $"{o.Key} x{o.Value}")));
            Assert.Equal(24, outcomes.Values.Sum());
            Assert.Equal(0, db.GetBudgetSnapshot().InUse);
            await RuntimeTestExtensions.WaitUntilAsync(async () => await Server.CountConnectionsAsync() == 0, TimeSpan.FromSeconds(10), "the server let go of the disposed runtime's connections");
        }
    }

    // ---- The server restarted, or every session killed, under load ----

    [Theory]
    [Trait("Speed", "Slow")]
    [InlineData("restart")]
    [InlineData("kill every session")]
    [InlineData("kill every session, three times")]
    public async Task The_server_restarted_or_killing_every_session_under_load_loses_no_budget_and_raises_only_documented_errors(string fault)
    {
        await using var server = await MariaDbServer.StartAsync();
        await MariaDbFixture.CreateTenantsAsync(server, Tenants);
        const int Budget = 4;
        await using var db = CreateDatabase(Budget, o => o.AcquireTimeout = TimeSpan.FromSeconds(3), server);
        var outcomes = new ConcurrentDictionary<string, int>();
        var findings = new ConcurrentBag<string>();
        using var stop = new CancellationTokenSource();
        var load = Enumerable.Range(0, 8).Select(worker => Task.Run(async () =>
        {
            var i = 0;
            while (!stop.IsCancellationRequested)
            {
                var tenant = 1 + ((worker + i++) % Tenants);
                try
                {
                    string? read;
                    if (worker % 2 == 0)
                    {
                        read = await db.ExecuteScalarTenantAsync<string>(Key(tenant), "SELECT CONCAT(DATABASE(), SLEEP(0.02))");
                    }
                    else
                    {
                        await using var connection = await db.ForTenant(Key(tenant)).OpenConnectionAsync();
                        read = await connection.ExecuteScalarAsync<string>("SELECT CONCAT(DATABASE(), SLEEP(0.02))");
                    }

                    if (read != Db(tenant) + "0")
                    {
                        findings.Add($"tenant {tenant} read '{read}'");
                    }

                    outcomes.AddOrUpdate("ok", 1, (_, n) => n + 1);
                }
                catch (Exception exception) when (exception is TenantDbGuardException)
                {
                    outcomes.AddOrUpdate(exception.GetType().Name, 1, (_, n) => n + 1);
                }
                catch (MySqlException exception) when (worker % 2 == 1)
                {
                    // A TenantDbConnection's commands give the driver's errors, as a MySqlConnection's do.
                    outcomes.AddOrUpdate($"MySqlException {exception.Number}", 1, (_, n) => n + 1);
                }
                catch (Exception exception) when (worker % 2 == 1 && exception is InvalidOperationException { Message: var m } && m.Contains("not open", StringComparison.OrdinalIgnoreCase))
                {
                    outcomes.AddOrUpdate("connection closed under the command", 1, (_, n) => n + 1);
                }
                catch (Exception exception)
                {
                    findings.Add($"{(worker % 2 == 0 ? "helper" : "connection")}: {exception.GetType().FullName}: {exception.Message}");
                    await Task.Delay(50);
                }
            }
        })).ToArray();

        await Task.Delay(500);
        var clock = Stopwatch.StartNew();
        if (fault == "restart")
        {
            await server.RestartAsync();
        }
        else
        {
            for (var kill = 0; kill < (fault.EndsWith("three times", StringComparison.Ordinal) ? 3 : 1); kill++)
            {
                await KillEverySessionAsync(server);
                await Task.Delay(200);
            }
        }

        output.WriteLine($"{fault} took {clock.ElapsedMilliseconds} ms");

        // Recovery: a helper's call succeeds again within the acquire timeout and a little more.
        var recovered = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                Assert.Equal(Db(1), await db.ExecuteScalarTenantAsync<string>(Key(1), "SELECT DATABASE()"));
                break;
            }
            catch (TenantDbGuardException) when (recovered.Elapsed < TimeSpan.FromSeconds(10))
            {
                await Task.Delay(50);
            }
        }

        output.WriteLine($"served again {recovered.ElapsedMilliseconds} ms after the {fault}");
        await Task.Delay(1000);
        await stop.CancelAsync();
        await Task.WhenAll(load).WaitAsync(TimeSpan.FromSeconds(30));
        output.WriteLine(string.Join("; ", outcomes.OrderByDescending(o => o.Value).Select(o => $"{o.Key} x{o.Value}")));
        Assert.Empty(findings);
        Assert.True(recovered.Elapsed < TimeSpan.FromSeconds(5), $"Served again only after {recovered.ElapsedMilliseconds} ms.");
        await AssertBudgetWholeAsync(db, Budget);
    }

    private static async Task KillEverySessionAsync(MariaDbServer server)
    {
        await using var root = await server.OpenConnectionAsync();
        var ids = (await root.QueryAsync<long>($"SELECT ID FROM information_schema.PROCESSLIST WHERE USER = '{MariaDbServer.AppUser}'")).AsList();
        foreach (var id in ids)
        {
            try
            {
                await root.ExecuteAsync($"KILL {id}");
            }
            catch (MySqlException)
            {
                // Ended meanwhile.
            }
        }
    }
}
