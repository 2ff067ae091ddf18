using System.Collections.Concurrent;
using System.Diagnostics;
using Dapper;
using MySqlConnector;
using TenantDbGuard.Runtime.Tests.Infrastructure;
using Xunit.Abstractions;

namespace TenantDbGuard.Runtime.Tests;

/// <summary>
/// Several app instances on one server, each with default options and nothing shared but the server: the server is
/// the source of truth, a refusal becomes waiting, and the instances end up with fair shares.
/// </summary>
/// <remarks>
/// The instances are separate <see cref="TenantDatabase"/> objects in this process. They share no state: each has its
/// own budget, tenant registry and physical connections (each in a MySqlConnector pool of its own), so they meet only
/// on the server, as separate processes do (<c>bench/Runtime.Bench instances N</c> runs real processes). The
/// application account has no CONNECTION ADMIN, so the server refuses it at exactly <c>max_connections</c>.
/// </remarks>
[Collection(MariaDbCollection.Name)]
public sealed class ServerSharingTests(ITestOutputHelper output)
{
    private const int Tenants = 300;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_full_server_makes_the_caller_wait_for_a_connection_the_process_gives_back_instead_of_failing(bool coordinateOpens)
    {
        await using var server = await MariaDbServer.StartAsync(maxConnections: MariaDbServer.MinimumMaxConnections);
        await MariaDbFixture.CreateTenantsAsync(server, 3);

        // A budget as large as the server allows, or larger: every connection the server has is taken by this process's
        // leases (and its coordination session). Coordinated, the runtime finds the server full before it opens another;
        // uncoordinated, the server refuses it.
        await using var db = server.CreateTenantDatabase(o =>
        {
            // Coordinated opens need a budget derived from the server (an explicit one is kept as set).
            o.MaxConnections = coordinateOpens ? null : 20;
            o.ReservedConnections = 0;
            o.MaxConnectionsPerTenant = 20;
            o.CoordinateOpens = coordinateOpens;
        });
        var leases = new List<TenantConnectionLease>();
        for (var i = 0; i < server.MaxConnections - (coordinateOpens ? 1 : 0); i++)
        {
            leases.Add(await db.GetConnectionAsync(MariaDbFixture.TenantKey(1 + (i % 3))));
        }

        var stopwatch = Stopwatch.StartNew();
        var query = db.QueryTenantAsync<int>(MariaDbFixture.TenantKey(2), "SELECT 1");
        await Task.Delay(300);
        Assert.False(query.IsCompleted, query.IsFaulted ? query.Exception!.InnerException!.Message : "The query ran without a connection.");
        await leases[0].DisposeAsync();

        Assert.Equal([1], await query);
        output.WriteLine($"Served after {stopwatch.ElapsedMilliseconds} ms; budget now {db.GetBudgetSnapshot().Limit} of {db.GetBudgetSnapshot().Ceiling}.");
        Assert.InRange(db.GetBudgetSnapshot().Limit, 1, server.MaxConnections);
        foreach (var lease in leases.Skip(1))
        {
            await lease.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_reading_of_the_servers_load_is_what_the_server_reports()
    {
        // The server full of another client's connections, and of the one more it keeps for an administrator, refuses
        // three more: max_connections, the connections, and the refusals each read apart.
        await using var server = await MariaDbServer.StartAsync(maxConnections: MariaDbServer.MinimumMaxConnections);
        await using var hog = await HogAsync(server, server.MaxConnections);
        await using var admin = await server.OpenConnectionAsync();
        var connectionString = new MySqlConnectionStringBuilder(server.GetAppConnectionString()) { Pooling = false }.ConnectionString;
        for (var i = 0; i < 3; i++)
        {
            var refused = await Assert.ThrowsAsync<MySqlException>(async () =>
            {
                await using var extra = new MySqlConnection(connectionString);
                await extra.OpenAsync();
            });
            Assert.Equal(MySqlErrorCode.ConnectionCountError, refused.ErrorCode);
        }

        var load = await TenantDbGuard.Core.ServerLoad.ReadAsync(hog.Connections[0], CancellationToken.None);

        Assert.Equal(server.MaxConnections, load.MaxConnections);
        Assert.Equal(server.MaxConnections + 1, load.ThreadsConnected);
        Assert.Equal(3L, load.RefusedTotal);
        Assert.Equal("3", await admin.ExecuteScalarAsync<string>("SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'CONNECTION_ERRORS_MAX_CONNECTIONS'"));
    }

    [Fact]
    public async Task A_server_that_stays_full_is_waited_for_until_the_acquire_timeout_and_the_wait_can_be_cancelled()
    {
        await using var full = await FullServer.StartAsync(acquireTimeout: TimeSpan.FromSeconds(2));
        var db = full.Db;

        var stopwatch = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<ServerConnectionLimitException>(() => db.QueryTenantAsync<int>(MariaDbFixture.TenantKey(1), "SELECT 1"));
        Assert.True(stopwatch.Elapsed >= TimeSpan.FromMilliseconds(1900), $"Failed after {stopwatch.ElapsedMilliseconds} ms, before the acquire timeout.");
        Assert.Equal(1040, error.ErrorCode);

        using var cancel = new CancellationTokenSource(200);
        stopwatch.Restart();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => db.QueryTenantAsync<int>(MariaDbFixture.TenantKey(1), "SELECT 1", cancellationToken: cancel.Token));
        Assert.True(stopwatch.Elapsed < TimeSpan.FromMilliseconds(1500), $"Cancelled after {stopwatch.ElapsedMilliseconds} ms.");
        Assert.InRange(db.GetBudgetSnapshot().Limit, 1, full.Open);
    }

    [Fact]
    public async Task A_caller_that_waits_in_vain_on_a_budget_the_full_server_shrank_is_told_the_server_is_full()
    {
        // The reading of the server that follows the leases finds it full and shrinks the budget to the connections the
        // process has, without any caller having been refused.
        await using var full = await FullServer.StartAsync(acquireTimeout: TimeSpan.FromMilliseconds(800));
        var (db, open) = (full.Db, full.Open);
        var deadline = Stopwatch.StartNew();
        while (db.GetBudgetSnapshot().Limit > open && deadline.Elapsed < TimeSpan.FromSeconds(20))
        {
            await Task.Delay(50);
        }

        var budget = db.GetBudgetSnapshot();
        Assert.True(budget.Limit <= open, $"The budget stayed at {budget.Limit} of {budget.Ceiling} with {open} connections open.");

        // The caller never tries a connection of its own (the budget has none to give): it waits, and is then told that
        // the server is full, not to raise the process's own limits.
        var error = await Assert.ThrowsAsync<ServerConnectionLimitException>(() => db.QueryTenantAsync<int>(MariaDbFixture.TenantKey(1), "SELECT 1"));
        Assert.Equal(1040, error.ErrorCode);
        Assert.True(error.IsTransient);
        Assert.InRange(error.ProcessBudget!.Value, 1, open);
        Assert.Contains("max_connections", error.Message, StringComparison.Ordinal);
        Assert.Contains($"budget shrank to {error.ProcessBudget}", error.Message, StringComparison.Ordinal);
        Assert.NotNull(error.InnerException);

        // Once the other client lets go, the budget grows back and the caller is served again.
        await full.Hog.DisposeAsync();
        await full.Leases[0].DisposeAsync();
        Assert.Equal([1], await db.QueryTenantAsync<int>(MariaDbFixture.TenantKey(1), "SELECT 1"));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public async Task Instances_with_default_options_fail_no_request_and_share_the_server_fairly(int instances)
    {
        const int workers = 32;
        var duration = TimeSpan.FromSeconds(12);
        var settle = TimeSpan.FromSeconds(4);
        await using var server = await MariaDbServer.StartAsync(maxConnections: 40);
        await MariaDbFixture.CreateTenantsAsync(server, Tenants);

        // Opened first and held: the connection that reads Max_used_connections at the end is one of those it counts.
        await using var admin = await server.OpenConnectionAsync();
        await admin.FlushStatusWhenSettledAsync(remaining: 1);

        var databases = Enumerable.Range(0, instances).Select(_ => server.CreateTenantDatabase()).ToArray();
        var ok = new long[instances];
        var okAfterSettling = new long[instances];
        var failures = new ConcurrentQueue<Exception>();
        var clock = Stopwatch.StartNew();
        var load = databases.SelectMany((db, instance) => Enumerable.Range(0, workers).Select(worker => Task.Run(async () =>
        {
            var random = new Random((instance * 1000) + worker);
            while (clock.Elapsed < duration)
            {
                try
                {
                    await db.ExecuteScalarTenantAsync<long>(MariaDbFixture.TenantKey(random.Next(1, Tenants + 1)), "SELECT COUNT(*) FROM customers");
                    Interlocked.Increment(ref ok[instance]);
                    if (clock.Elapsed > settle)
                    {
                        Interlocked.Increment(ref okAfterSettling[instance]);
                    }
                }
                catch (Exception exception)
                {
                    failures.Enqueue(exception);
                }
            }
        }))).ToArray();
        var timeline = Task.Run(async () =>
        {
            while (clock.Elapsed < duration)
            {
                output.WriteLine($"  {clock.Elapsed.TotalSeconds,5:0.0} s  " + string.Join("  ", databases.Select(db => $"{db.GetBudgetSnapshot().Limit,3}/{db.GetBudgetSnapshot().Open,3}")));
                await Task.Delay(500);
            }
        });
        await Task.WhenAll(load);
        await timeline;
        var budgets = databases.Select(db => db.GetBudgetSnapshot()).ToArray();
        foreach (var db in databases)
        {
            await db.DisposeAsync();
        }

        var maxUsed = long.Parse((await admin.ExecuteScalarAsync<string>("SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'MAX_USED_CONNECTIONS'"))!, System.Globalization.CultureInfo.InvariantCulture);
        var refused = long.Parse((await admin.ExecuteScalarAsync<string>("SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'CONNECTION_ERRORS_MAX_CONNECTIONS'"))!, System.Globalization.CultureInfo.InvariantCulture);
        output.WriteLine($"{instances} instances x {workers} workers, {Tenants} tenants, max_connections {server.MaxConnections}, {duration.TotalSeconds} s");
        for (var i = 0; i < instances; i++)
        {
            output.WriteLine($"  instance {i + 1}: {ok[i]} ok ({okAfterSettling[i] / (duration - settle).TotalSeconds:0}/s after {settle.TotalSeconds} s), budget {budgets[i].Limit} of {budgets[i].Ceiling}");
        }

        output.WriteLine($"  failed: {failures.Count}; Max_used_connections {maxUsed}; connections the server refused {refused}");
        foreach (var kind in failures.GroupBy(f => f.GetType().Name + ": " + f.Message).Take(3))
        {
            output.WriteLine($"  {kind.Count()} x {kind.Key}");
        }

        Assert.Empty(failures);
        // The instances open connections only when the server has room, agreeing through a lock on the server: the
        // server refuses none of them (MariaDB would count a refused attempt in Max_used_connections too, as
        // max_connections + 1).
        Assert.Equal(0, refused);
        Assert.InRange(maxUsed, 1, server.MaxConnections);
        // No instance is starved. The fairness goal itself (none below half of another) is a throughput ratio, measured
        // by the benchmark (`Runtime.Bench instances N`, docs/benchmarks.md); eight seconds on a shared machine that
        // runs other test assemblies at the same time cannot tell 0.49 from 0.51, so this asserts a quarter.
        Assert.True(okAfterSettling.Min() * 4 >= okAfterSettling.Max(), $"Starved: {string.Join(", ", okAfterSettling)} queries per instance after {settle.TotalSeconds} s.");
    }

    [Fact]
    public async Task A_process_that_holds_the_open_lock_and_dies_holds_up_no_one_for_long()
    {
        await using var server = await MariaDbServer.StartAsync(maxConnections: 30);
        await MariaDbFixture.CreateTenantsAsync(server, 4);

        // Another instance took the lock and hangs (stopped in a debugger, swapped out): an open waits for the lock at
        // most OpenCoordinator's wait (2 s), then goes ahead uncoordinated.
        var stuck = await server.OpenConnectionAsync();
        Assert.Equal(1L, await stuck.ExecuteScalarAsync<long>("SELECT GET_LOCK('TenantDbGuard.open', 0)"));
        await using var db = server.CreateTenantDatabase();
        var stopwatch = Stopwatch.StartNew();
        Assert.Equal(1, await db.ExecuteScalarTenantAsync<int>(MariaDbFixture.TenantKey(1), "SELECT 1"));
        var heldUp = stopwatch.Elapsed;
        output.WriteLine($"Open behind a stuck holder of the lock: {heldUp.TotalMilliseconds:0} ms");
        Assert.InRange(heldUp, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(10));

        // The stuck instance dies: the server ends its session and releases its lock with it; opens are coordinated
        // again, without waiting.
        await stuck.DisposeAsync();
        await using var probe = await server.OpenConnectionAsync();
        await WaitUntilAsync(async () => await probe.ExecuteScalarAsync<long?>("SELECT IS_USED_LOCK('TenantDbGuard.open')") is null);
        var leases = new List<TenantConnectionLease>();
        stopwatch.Restart();
        for (var i = 0; i < 3; i++)
        {
            // Held at once: each needs a new connection.
            leases.Add(await db.GetConnectionAsync(MariaDbFixture.TenantKey(1 + i)));
        }

        output.WriteLine($"Three new connections after the holder died: {stopwatch.ElapsedMilliseconds} ms");
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(1.9), $"Three opens took {stopwatch.ElapsedMilliseconds} ms: they waited for the lock.");
        foreach (var lease in leases)
        {
            await lease.DisposeAsync();
        }
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var stopwatch = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(10), "The condition did not come true within 10 s.");
            await Task.Delay(20);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Lowering_max_connections_under_load_makes_callers_wait_and_raising_it_again_grows_the_budget_back(bool coordinateOpens)
    {
        // Without coordination the server is read over the budget's own connections, not the coordination session.
        await using var server = await MariaDbServer.StartAsync(maxConnections: 60);
        await MariaDbFixture.CreateTenantsAsync(server, 50);
        await using var db = server.CreateTenantDatabase(o => o.CoordinateOpens = coordinateOpens);
        var failures = new ConcurrentQueue<Exception>();
        var workers = 4;
        using var stop = new CancellationTokenSource();
        var load = Enumerable.Range(0, 48).Select(worker => Task.Run(async () =>
        {
            var random = new Random(worker);
            while (!stop.IsCancellationRequested)
            {
                if (worker >= Volatile.Read(ref workers))
                {
                    await Task.Delay(10);
                    continue;
                }

                try
                {
                    await db.ExecuteScalarTenantAsync<long>(MariaDbFixture.TenantKey(random.Next(1, 51)), "SELECT SLEEP(0.005)");
                }
                catch (Exception exception)
                {
                    failures.Enqueue(exception);
                }
            }
        })).ToArray();

        await Task.Delay(1000);
        var before = db.GetBudgetSnapshot();
        await server.SetGlobalAsync("max_connections", 20);
        Volatile.Write(ref workers, 48);
        await Task.Delay(3000);
        var lowered = db.GetBudgetSnapshot();
        var threadsLowered = await server.CountConnectionsAsync();

        await server.SetGlobalAsync("max_connections", 60);
        await Task.Delay(4000);
        var raised = db.GetBudgetSnapshot();
        stop.Cancel();
        await Task.WhenAll(load);

        output.WriteLine($"max_connections 60: budget {before.Limit} of {before.Ceiling}, {before.Open} open");
        output.WriteLine($"lowered to 20 under 48 workers: budget {lowered.Limit} of {lowered.Ceiling}, {lowered.Open} open, server sees {threadsLowered} of the application");
        output.WriteLine($"raised to 60 again: budget {raised.Limit} of {raised.Ceiling}, {raised.Open} open");
        output.WriteLine($"failed: {failures.Count}");
        foreach (var kind in failures.GroupBy(f => f.GetType().Name + ": " + f.Message).Take(3))
        {
            output.WriteLine($"  {kind.Count()} x {kind.Key}");
        }

        Assert.Empty(failures);
        Assert.Equal(50, before.Ceiling);
        Assert.Equal(10, lowered.Ceiling);
        Assert.InRange(lowered.Limit, 1, 10);
        Assert.InRange(threadsLowered, 1, 20);
        Assert.Equal(50, raised.Ceiling);
        Assert.True(raised.Limit > 20, $"The budget stayed at {raised.Limit} after max_connections was raised again.");
    }

    [Fact]
    public async Task A_refused_open_closes_an_idle_connection_the_smaller_budget_no_longer_holds_and_the_caller_gets_its_room()
    {
        // Tenant 2 is on another name of the same server, so the runtime keeps it in a pool of its own and its call
        // cannot take the idle connection of tenant 1's pool while the budget has room: it opens one. Another client has
        // taken every other connection of the server, which refuses the open (1040); the budget drops to the one
        // connection the process has, and the idle one beyond it must be closed, or the server stays full for the caller
        // that waits (until its acquire timeout), and the process holds a session it no longer counts. The tenants come
        // from a resolver (no lookup takes a connection), and the process is quiet while the other client fills the
        // server (the load is read only while the budget is in use), so that no reading lowers the budget first.
        const int ServerRefused = 1005;
        await using var server = await MariaDbServer.StartAsync(maxConnections: MariaDbServer.MinimumMaxConnections);
        await MariaDbFixture.CreateTenantsAsync(server, 2);
        var resolver = new CountingTenantResolver(
            new TenantInfo(MariaDbFixture.TenantKey(1), MariaDbFixture.TenantDatabase(1)),
            new TenantInfo(MariaDbFixture.TenantKey(2), MariaDbFixture.TenantDatabase(2), "localhost", server.Port));
        using var logs = new CapturedLogs();
        await using var db = server.CreateTenantDatabase(
            o =>
            {
                o.MaxConnections = 5;
                o.AcquireTimeout = TimeSpan.FromSeconds(10);
                o.TenantResolver = resolver.ResolveAsync;
            },
            logs);

        var first = await db.ExecuteScalarTenantAsync<long>(MariaDbFixture.TenantKey(1), "SELECT CONNECTION_ID()");
        await db.WaitUntilAllReturnedAsync();
        var idleBefore = db.GetBudgetSnapshot().Open;
        await Task.Delay(3 * TenantDbGuard.Core.BudgetControl.Interval);

        await using var hog = new Hog();
        var connectionString = new MySqlConnectionStringBuilder(server.GetAppConnectionString()) { Pooling = false }.ConnectionString;
        while (true)
        {
            var connection = new MySqlConnection(connectionString);
            try
            {
                await connection.OpenAsync();
                hog.Connections.Add(connection);
            }
            catch (MySqlException exception) when (exception.ErrorCode == MySqlErrorCode.ConnectionCountError)
            {
                await connection.DisposeAsync();
                break;
            }
        }

        var second = await db.ExecuteScalarTenantAsync<long>(MariaDbFixture.TenantKey(2), "SELECT CONNECTION_ID()");
        await db.WaitUntilAllReturnedAsync();

        var refusals = logs.WithId(ServerRefused);
        foreach (var refusal in refusals)
        {
            output.WriteLine(refusal.Message);
        }

        Assert.Contains(refusals, refusal => refusal.Message.Contains($"tenant '{MariaDbFixture.TenantKey(2)}' with error 1040", StringComparison.Ordinal));
        Assert.NotEqual(first, second);
        await using var root = await server.OpenConnectionAsync();
        var held = (await root.QueryAsync<long>("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = @user", new { user = MariaDbServer.AppUser }))
            .Except(hog.Connections.Select(c => (long)c.ServerThread)).ToList();
        var snapshot = db.GetBudgetSnapshot();
        output.WriteLine($"{idleBefore} connections idle before; after: budget {snapshot.Limit}, {snapshot.Open} open, the server lists {string.Join(", ", held)}");

        // Every session the process has on the server is one its budget counts, within the budget the refusal left.
        Assert.Contains(second, held);
        Assert.Equal(held.Count, snapshot.Open);
        Assert.InRange(snapshot.Open, 1, idleBefore);
    }

    /// <summary>Holds <paramref name="count"/> connections of the application account, as another client would.</summary>
    private static async Task<Hog> HogAsync(MariaDbServer server, int count)
    {
        var connectionString = new MySqlConnectionStringBuilder(server.GetAppConnectionString()) { Pooling = false }.ConnectionString;
        var hog = new Hog();
        for (var i = 0; i < count; i++)
        {
            var connection = new MySqlConnection(connectionString);
            hog.Connections.Add(connection);
            await connection.OpenAsync();
        }

        return hog;
    }

    /// <summary>
    /// A server with the fewest connections MariaDB allows, every one of them taken: the process's own, each leased
    /// (and its coordination session), and the rest by another client.
    /// </summary>
    private sealed class FullServer : IAsyncDisposable
    {
        private FullServer(MariaDbServer server, TenantDatabase db, Hog hog, List<TenantConnectionLease> leases, int open)
        {
            (Server, Db, Hog, Leases, Open) = (server, db, hog, leases, open);
        }

        public MariaDbServer Server { get; }

        public TenantDatabase Db { get; }

        public Hog Hog { get; }

        public List<TenantConnectionLease> Leases { get; }

        /// <summary>The connections the process had open after its first query, all of them leased now.</summary>
        public int Open { get; }

        public static async Task<FullServer> StartAsync(TimeSpan acquireTimeout)
        {
            var server = await MariaDbServer.StartAsync(maxConnections: MariaDbServer.MinimumMaxConnections);
            await MariaDbFixture.CreateTenantsAsync(server, 1);
            var db = server.CreateTenantDatabase(o =>
            {
                o.ReservedConnections = 0;
                o.AcquireTimeout = acquireTimeout;
            });
            await db.QueryTenantAsync<int>(MariaDbFixture.TenantKey(1), "SELECT 1");
            var open = (await db.WaitUntilAllReturnedAsync()).Open;
            var hog = await HogAsync(server, server.MaxConnections - open - 1);
            var leases = new List<TenantConnectionLease>();
            for (var i = 0; i < open; i++)
            {
                leases.Add(await db.GetConnectionAsync(MariaDbFixture.TenantKey(1)));
            }

            return new FullServer(server, db, hog, leases, open);
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var lease in Leases)
            {
                await lease.DisposeAsync();
            }

            await Hog.DisposeAsync();
            await Db.DisposeAsync();
            await Server.DisposeAsync();
        }
    }

    private sealed class Hog : IAsyncDisposable
    {
        public List<MySqlConnection> Connections { get; } = [];

        public async ValueTask DisposeAsync()
        {
            foreach (var connection in Connections)
            {
                await connection.DisposeAsync();
            }
        }
    }
}
