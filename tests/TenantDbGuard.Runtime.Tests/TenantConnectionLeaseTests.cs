using System.Runtime.CompilerServices;
using Dapper;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using MySqlConnector;
using TenantDbGuard.Runtime.Tests.Infrastructure;
using Xunit.Abstractions;

namespace TenantDbGuard.Runtime.Tests;

[Collection(MariaDbCollection.Name)]
public sealed class TenantConnectionLeaseTests(MariaDbFixture fixture, ITestOutputHelper output) : IAsyncLifetime
{
    private const int LeakSuspected = 1030;
    private const int LeakReturned = 1031;
    private const int LeakReclaimed = 1032;

    private MariaDbServer Server => fixture.Server;

    public Task InitializeAsync() => fixture.CreateTenantsAsync(3);

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Connection_throws_ObjectDisposedException_once_the_lease_is_given_back()
    {
        await using var db = Server.CreateTenantDatabase();
        var lease = await db.GetConnectionAsync(Key(1));
        var connection = lease.Connection;

        await lease.DisposeAsync();

        var error = Assert.Throws<ObjectDisposedException>(() => lease.Connection);
        Assert.Contains("acquire a new one", error.Message);
        Assert.Equal(Key(1), lease.TenantKey);
        await db.WaitUntilAllReturnedAsync();

        // The lease's connection object is closed for good; the physical connection went back to the pool (beside the
        // one the tenant lookup used).
        Assert.Equal(System.Data.ConnectionState.Closed, connection.State);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => connection.OpenAsync());
        Assert.InRange(db.GetBudgetSnapshot().Open, 1, 2);
    }

    [Fact]
    public async Task Dispose_gives_the_connection_back_like_DisposeAsync()
    {
        await using var db = Server.CreateTenantDatabase(o => o.MaxConnections = 1);

        using (var lease = await db.GetConnectionAsync(Key(1)))
        {
            Assert.Equal(1, await lease.Connection.ExecuteScalarAsync<int>("SELECT 1"));
        }

        await db.WaitUntilAllReturnedAsync();
        await using var next = await db.GetConnectionAsync(Key(2));
        Assert.Equal(MariaDbFixture.TenantDatabase(2), await next.Connection.ExecuteScalarAsync<string>("SELECT DATABASE()"));
    }

    [Fact]
    public async Task Disposing_twice_gives_the_connection_back_once()
    {
        await using var db = Server.CreateTenantDatabase(o => o.MaxConnections = 2);
        var other = await db.GetConnectionAsync(Key(2));
        var lease = await db.GetConnectionAsync(Key(1));

        await lease.DisposeAsync();
        await lease.DisposeAsync();
        lease.Dispose();

        var snapshot = await db.WaitForSnapshotAsync(s => s.TenantsInUse == 1, TimeSpan.FromSeconds(5));
        Assert.Equal(1, snapshot.InUse);

        // Had the second dispose counted, the budget would now lend a third connection.
        await using (var again = await db.GetConnectionAsync(Key(1)))
        {
            Assert.Equal((2, 2), (db.GetBudgetSnapshot().InUse, db.GetBudgetSnapshot().Open));
        }

        await other.DisposeAsync();
        await db.WaitUntilAllReturnedAsync();
    }

    [Fact]
    public async Task A_connection_closed_and_opened_again_by_the_borrower_serves_its_lease_and_is_reset_after_it()
    {
        var connectionString = new MySqlConnectionStringBuilder(Server.GetAppConnectionString(MariaDbFixture.MasterDatabase)) { AllowUserVariables = true }.ConnectionString;
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.MasterConnectionString = connectionString;
            o.MaxConnections = 1;
        });
        long first;

        await using (var lease = await db.GetConnectionAsync(Key(1)))
        {
            first = await lease.Connection.ExecuteScalarAsync<long>("SELECT CONNECTION_ID()");
            await lease.Connection.ExecuteAsync("SET @borrowed = 'yes'");
            await lease.Connection.CloseAsync();

            // Dapper opens a closed connection itself (and closes it again afterwards).
            Assert.Equal(MariaDbFixture.TenantDatabase(1), await lease.Connection.ExecuteScalarAsync<string>("SELECT DATABASE()"));
            Assert.Equal("yes", await lease.Connection.ExecuteScalarAsync<string>("SELECT @borrowed"));
            await lease.Connection.CloseAsync();
        }

        await db.WaitUntilAllReturnedAsync();
        await using var next = await db.GetConnectionAsync(Key(2));
        Assert.Equal(first, await next.Connection.ExecuteScalarAsync<long>("SELECT CONNECTION_ID()"));
        Assert.Null(await next.Connection.ExecuteScalarAsync<string>("SELECT @borrowed"));
        Assert.Equal(1, db.GetBudgetSnapshot().Open);
    }

    // ---- Leak detection ----

    [Fact]
    public async Task A_lease_held_past_the_leak_threshold_is_reported_with_the_stack_of_its_acquirer()
    {
        var logs = new CapturedLogs();
        using var metrics = new RecordedMetrics();
        var time = new FakeTimeProvider();
        await using var db = CreateWithLeakDetection(time, logs, metrics);

        await HoldALeaseTooLongAsync(db, logs, time, TimeSpan.FromSeconds(29), TimeSpan.FromSeconds(2));

        var warning = Assert.Single(logs.WithId(LeakSuspected), e => e.Message.Contains(Key(1)));
        output.WriteLine(warning.Message);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains($"tenant '{Key(1)}'", warning.Message);
        Assert.Contains(nameof(HoldALeaseTooLongAsync), warning.Message);
        Assert.Contains($"{nameof(TenantConnectionLeaseTests)}.cs:line ", warning.Message);

        var returned = Assert.Single(logs.WithId(LeakReturned), e => e.Message.Contains(Key(1)));
        Assert.Equal(LogLevel.Information, returned.Level);

        var leak = Assert.Single(metrics.Of("tenantdbguard.connections.leaks"), m => Equals(m.Tags["tenantdbguard.tenant"], Key(1)));
        Assert.Equal(1, leak.Value);
        await db.WaitUntilAllReturnedAsync();
    }

    [Theory]
    [InlineData(30, 35)]
    [InlineData(600, 630)]
    public async Task A_lease_held_past_the_leak_threshold_is_reported_within_a_quarter_of_it_or_30_seconds(int thresholdSeconds, int reportedBySeconds)
    {
        var logs = new CapturedLogs();
        var time = new FakeTimeProvider();
        await using var db = Server.CreateTenantDatabase(
            o =>
            {
                o.LeakDetectionThreshold = TimeSpan.FromSeconds(thresholdSeconds);
                o.TimeProvider = time;
            },
            logs);

        // Acquired between two checks, so that checks further apart would report it later.
        time.Advance(TimeSpan.FromSeconds(10));
        await using var lease = await db.GetConnectionAsync(Key(1));
        time.Advance(TimeSpan.FromSeconds(thresholdSeconds - 1));
        Assert.Empty(logs.WithId(LeakSuspected));

        time.Advance(TimeSpan.FromSeconds(reportedBySeconds - thresholdSeconds + 1));
        Assert.Single(logs.WithId(LeakSuspected), e => e.Message.Contains(Key(1)));
    }

    [Fact]
    public async Task A_leak_through_a_helper_names_the_code_that_called_the_helper()
    {
        var logs = new CapturedLogs();
        var time = new FakeTimeProvider();
        await using var db = CreateWithLeakDetection(time, logs);
        await db.QueryTenantAsync<int>(Key(2), "SELECT 1");

        await RunSlowWorkInAHelperAsync(db, time);

        var warning = Assert.Single(logs.WithId(LeakSuspected), e => e.Message.Contains(Key(2)));
        Assert.Contains(nameof(RunSlowWorkInAHelperAsync), warning.Message);
        Assert.Single(logs.WithId(LeakReturned), e => e.Message.Contains(Key(2)));
    }

    [Fact]
    public async Task A_lease_given_back_in_time_is_not_reported()
    {
        var logs = new CapturedLogs();
        using var metrics = new RecordedMetrics();
        var time = new FakeTimeProvider();
        await using var db = CreateWithLeakDetection(time, logs, metrics);

        for (var i = 0; i < 5; i++)
        {
            await using var lease = await db.GetConnectionAsync(Key(1));
            await lease.Connection.ExecuteScalarAsync<int>("SELECT 1");
            time.Advance(TimeSpan.FromSeconds(29));
        }

        time.Advance(TimeSpan.FromHours(1));
        Assert.Empty(logs.WithId(LeakSuspected));
        Assert.Empty(logs.WithId(LeakReturned));
        Assert.Empty(metrics.Of("tenantdbguard.connections.leaks"));
    }

    [Fact]
    public async Task Leak_detection_is_off_unless_a_threshold_is_set()
    {
        var logs = new CapturedLogs();
        await using var db = Server.CreateTenantDatabase(loggers: logs);

        await using (var lease = await db.GetConnectionAsync(Key(1)))
        {
            await Task.Delay(300);
        }

        Assert.Empty(logs.WithId(LeakSuspected));
    }

    // ---- 6. A lease that is never given back comes back when it becomes unreachable ----

    [Theory]
    [Trait("Guarantee", "6")]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_lease_that_becomes_unreachable_gives_back_its_budget_and_cap_and_its_connection_is_closed(bool detectLeaks)
    {
        var logs = new CapturedLogs();
        using var metrics = new RecordedMetrics();
        await using var db = Server.CreateTenantDatabase(
            o =>
            {
                o.MaxConnections = 2;
                o.MaxConnectionsPerTenant = 2;
                o.AcquireTimeout = TimeSpan.FromMilliseconds(300);
                o.LeakDetectionThreshold = detectLeaks ? TimeSpan.FromMinutes(10) : null;
            },
            logs,
            metrics);

        var leaked = await LeakTwoLeasesAsync(db);

        // Resumed afresh: the continuation after LeakTwoLeasesAsync may run inside its completion, where the finished
        // state machine (and the leases in its fields) is still on the stack. Collect on every poll, so that a lease
        // one collection missed is found by the next rather than waiting for a full collection that may never come.
        await Task.Yield();
        var snapshot = await db.WaitForSnapshotAsync(
            s =>
            {
                ForceGarbageCollection();
                return s is { InUse: 0, TenantsInUse: 0 };
            },
            TimeSpan.FromSeconds(5));
        Assert.InRange(snapshot.Open, 0, 2);
        await RuntimeTestExtensions.WaitUntilAsync(async () => !(await OpenIdsAsync()).Intersect(leaked).Any(), TimeSpan.FromSeconds(5), "the leaked physical connections are closed on the server");
        await using (var first = await db.GetConnectionAsync(Key(1)))
        await using (var second = await db.GetConnectionAsync(Key(1)))
        {
            var ids = new[] { await IdOf(first), await IdOf(second) };
            Assert.Empty(ids.Intersect(leaked));
        }

        var reclaimed = logs.WithId(LeakReclaimed);
        Assert.Equal(2, reclaimed.Count);
        Assert.All(reclaimed, entry =>
        {
            Assert.Equal(LogLevel.Warning, entry.Level);
            Assert.Contains($"tenant '{Key(1)}'", entry.Message);
            // Where it was acquired is known only when acquisitions record their stacks; it is counted either way.
            Assert.Contains(detectLeaks ? nameof(LeakTwoLeasesAsync) : "not recorded: set LeakDetectionThreshold", entry.Message);
        });
        output.WriteLine(reclaimed[0].Message);
        Assert.Equal(2, metrics.Of("tenantdbguard.connections.leaks").Where(m => Equals(m.Tags["tenantdbguard.tenant"], Key(1))).Sum(m => m.Value));

        // Logged and counted once: collecting again finds nothing more.
        ForceGarbageCollection();
        await Task.Delay(200);
        Assert.Equal(2, logs.WithId(LeakReclaimed).Count);
        await db.WaitUntilAllReturnedAsync();
    }

    [Fact]
    [Trait("Guarantee", "6")]
    public async Task A_lease_whose_connection_code_still_holds_is_not_taken_back()
    {
        await MarkedTenants.CreateAsync(Server);
        var logs = new CapturedLogs();
        await using var db = Server.CreateTenantDatabase(
            o =>
            {
                o.MaxConnections = 1;
                o.AcquireTimeout = TimeSpan.FromMilliseconds(300);
            },
            logs);

        var kept = await KeepOnlyTheConnectionAsync(db, MarkedTenants.Key(0));

        // Resumed afresh: the helper's finished frame no longer holds the lease, so only the connection object can.
        await Task.Yield();
        ForceGarbageCollection();
        await Task.Delay(200);

        // The connection is still the code's to use: nothing took it back.
        Assert.Equal(1, db.GetBudgetSnapshot().InUse);
        Assert.Equal(MarkedTenants.Key(0), await MarkedTenants.ReadMarkerAsync(kept));
        Assert.Empty(logs.WithId(LeakReclaimed));

        GC.KeepAlive(kept);
        kept = null!;

        // Resumed afresh, so that no frame of this method still holds the task that used the connection.
        await Task.Yield();
        ForceGarbageCollection();
        await db.WaitForSnapshotAsync(s => s.InUse == 0, TimeSpan.FromSeconds(5));
        await using var next = await db.GetConnectionAsync(MarkedTenants.Key(1));
        Assert.Equal(MarkedTenants.Key(1), await MarkedTenants.ReadMarkerAsync(next.Connection));
        Assert.Single(logs.WithId(LeakReclaimed));
    }

    [Fact]
    public async Task A_lease_forgotten_while_the_token_it_was_taken_with_lives_on_is_taken_back()
    {
        // An application's stopping token lives as long as the process: what it holds on to is never collected.
        using var stopping = new CancellationTokenSource();
        var logs = new CapturedLogs();
        await using var db = Server.CreateTenantDatabase(
            o =>
            {
                o.MaxConnections = 1;
                o.AcquireTimeout = TimeSpan.FromSeconds(5);
            },
            logs);

        await ForgetALeaseTakenWithAsync(db, Key(1), stopping.Token);
        await Task.Yield();
        ForceGarbageCollection();
        await db.WaitForSnapshotAsync(s => s.InUse == 0, TimeSpan.FromSeconds(5));
        await using var next = await db.GetConnectionAsync(Key(2));
        Assert.Equal(1L, await next.Connection.ExecuteScalarAsync<long>("SELECT 1"));
        Assert.Single(logs.WithId(LeakReclaimed));
        GC.KeepAlive(stopping);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static async Task ForgetALeaseTakenWithAsync(TenantDatabase db, string tenantKey, CancellationToken cancellationToken)
    {
        var lease = await db.GetConnectionAsync(tenantKey, cancellationToken);
        Assert.Equal(1L, await lease.Connection.ExecuteScalarAsync<long>(new CommandDefinition("SELECT 1", cancellationToken: lease.CancellationToken)));
    }

    /// <summary>Takes two leases of a tenant whose cap is two, and drops them without giving them back.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static async Task<long[]> LeakTwoLeasesAsync(TenantDatabase db)
    {
        var first = await db.GetConnectionAsync(Key(1));
        var second = await db.GetConnectionAsync(Key(1));
        Assert.Equal(2, db.GetBudgetSnapshot().InUse);

        // While they are held, the tenant is locked out.
        await Assert.ThrowsAsync<ConnectionBudgetExhaustedException>(async () => await db.GetConnectionAsync(Key(1)));
        long[] ids = [await IdOf(first), await IdOf(second)];
        GC.KeepAlive(first);
        GC.KeepAlive(second);
        return ids;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static async Task<MySqlConnection> KeepOnlyTheConnectionAsync(TenantDatabase db, string tenantKey)
    {
        var lease = await db.GetConnectionAsync(tenantKey);
        return lease.Connection;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ForceGarbageCollection()
    {
        for (var i = 0; i < 3; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
    }

    private static Task<long> IdOf(TenantConnectionLease lease) => lease.Connection.ExecuteScalarAsync<long>("SELECT CONNECTION_ID()");

    private async Task<long[]> OpenIdsAsync()
    {
        await using var root = await Server.OpenConnectionAsync();
        return (await root.QueryAsync<long>("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = @user", new { user = MariaDbServer.AppUser })).ToArray();
    }

    /// <summary>A runtime that reports leases held 30 s on <paramref name="time"/>'s clock.</summary>
    private TenantDatabase CreateWithLeakDetection(FakeTimeProvider time, CapturedLogs logs, RecordedMetrics? metrics = null) =>
        Server.CreateTenantDatabase(
            o =>
            {
                o.LeakDetectionThreshold = TimeSpan.FromSeconds(30);
                o.TimeProvider = time;
            },
            logs,
            metrics);

    /// <summary>Holds a lease for <paramref name="first"/> (not reported yet), then <paramref name="then"/> more.</summary>
    private static async Task HoldALeaseTooLongAsync(TenantDatabase db, CapturedLogs logs, FakeTimeProvider time, TimeSpan first, TimeSpan then)
    {
        await using var lease = await db.GetConnectionAsync(Key(1));
        await lease.Connection.ExecuteScalarAsync<int>("SELECT 1");
        time.Advance(first);
        Assert.DoesNotContain(logs.WithId(LeakSuspected), e => e.Message.Contains(Key(1)));
        time.Advance(then);
    }

    private static Task RunSlowWorkInAHelperAsync(TenantDatabase db, FakeTimeProvider time) =>
        db.WithTenantConnectionAsync(Key(2), (connection, token) =>
        {
            time.Advance(TimeSpan.FromSeconds(31));
            return connection.ExecuteScalarAsync<int>(new CommandDefinition("SELECT 1", cancellationToken: token));
        });

    private static string Key(int number) => MariaDbFixture.TenantKey(number);
}
