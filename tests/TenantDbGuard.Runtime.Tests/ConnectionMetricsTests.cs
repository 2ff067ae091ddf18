using System.Diagnostics.Metrics;
using TenantDbGuard.Runtime.Tests.Infrastructure;

namespace TenantDbGuard.Runtime.Tests;

/// <summary>The OpenTelemetry database-client connection metrics (<c>db.client.connection.*</c>) against a real server.</summary>
[Collection(MariaDbCollection.Name)]
public sealed class ConnectionMetricsTests(MariaDbFixture fixture) : IAsyncLifetime
{
    private const string Count = "db.client.connection.count";
    private const string Pending = "db.client.connection.pending_requests";
    private const string Tenant = "tenantdbguard.tenant";

    private MariaDbServer Server => fixture.Server;

    private string PoolName => $"127.0.0.1:{Server.Port}/{MariaDbFixture.MasterDatabase}";

    public Task InitializeAsync() => fixture.CreateTenantsAsync(30);

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Used_and_idle_counts_follow_the_leases_under_the_pools_name()
    {
        using var metrics = new RecordedMetrics();
        var logs = new CapturedLogs();

        // A slow machine must not make a reset or a reading of the server's load run out of time and close a connection.
        await using var db = Server.CreateTenantDatabase(
            o =>
            {
                o.MaxConnections = 6;
                o.ResetTimeout = TimeSpan.FromSeconds(10);
            },
            logs,
            metrics);
        await db.QueryTenantAsync<int>(Key(1), "SELECT 1");
        await db.WaitUntilAllReturnedAsync();

        await using (await db.GetConnectionAsync(Key(1)))
        await using (await db.GetConnectionAsync(Key(1)))
        await using (await db.GetConnectionAsync(Key(2)))
        {
            var held = metrics.ObserveNow(Count);
            Assert.All(held, m => Assert.Equal(("{connection}", PoolName), (m.Unit, m.Tags["db.client.connection.pool.name"])));
            Assert.Equal(3, Used(held));
            Assert.Equal(new Dictionary<string, double> { [Key(1)] = 2, [Key(2)] = 1, ["(other)"] = 0 }, UsedByTenant(held));
            // A reading of the server's load may hold an idle connection for a moment: it is then in neither state.
            var open = db.GetBudgetSnapshot().Open;
            Assert.True(Idle(held) >= open - 3 - 1 && Idle(held) <= open - 3, $"idle {Idle(held)}, open {open}, {string.Join(", ", held.Select(m => $"{m.Tags["db.client.connection.state"]}={m.Value}"))}");
            var max = Assert.Single(metrics.ObserveNow("db.client.connection.max"));
            Assert.Equal((6d, "{connection}", PoolName), (max.Value, max.Unit, max.Tags["db.client.connection.pool.name"]));
        }

        // Given back, each connection is reset in the background (in neither state), then idle.
        await db.WaitUntilAllReturnedAsync();
        await RuntimeTestExtensions.WaitUntilAsync(
            () => Task.FromResult(Idle(metrics.ObserveNow(Count)) == db.GetBudgetSnapshot().Open),
            TimeSpan.FromSeconds(5),
            "every open connection idle");
        var returned = metrics.ObserveNow(Count);
        Assert.Equal(0, Used(returned));
        Assert.True(Idle(returned) is >= 3 and <= 6, $"{Idle(returned)} idle; the log: " + string.Join(" | ", logs.Entries.Select(e => $"{e.EventId.Id} {e.Message}")));
    }

    [Fact]
    public async Task A_caller_waiting_at_a_budget_of_one_is_a_pending_request_and_its_wait_and_the_holders_use_are_timed()
    {
        using var metrics = new RecordedMetrics();
        await using var db = Server.CreateTenantDatabase(o => o.MaxConnections = 1, meters: metrics);
        await db.QueryTenantAsync<int>(Key(2), "SELECT 1");
        await db.WaitUntilAllReturnedAsync();
        Assert.Equal(0, Assert.Single(metrics.ObserveNow(Pending)).Value);

        var held = await db.GetConnectionAsync(Key(1));
        var waiter = db.QueryTenantAsync<int>(Key(2), "SELECT 1");
        await RuntimeTestExtensions.WaitUntilAsync(() => Task.FromResult(metrics.ObserveNow(Pending).Single().Value == 1), TimeSpan.FromSeconds(5), "a pending request");
        var pending = Assert.Single(metrics.ObserveNow(Pending));
        Assert.Equal(("{request}", PoolName), (pending.Unit, pending.Tags["db.client.connection.pool.name"]));
        await Task.Delay(300);
        await held.DisposeAsync();
        await waiter.WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal(0, Assert.Single(metrics.ObserveNow(Pending)).Value);
        var waits = metrics.Of("db.client.connection.wait_time");
        Assert.All(waits, w => Assert.Equal(("s", PoolName), (w.Unit, w.Tags["db.client.connection.pool.name"])));
        // The leases, and the runtime's own reads of the tenants table: every acquisition is timed.
        Assert.True(waits.Count >= 3, $"{waits.Count} waits");
        Assert.InRange(waits.Max(w => w.Value), 0.25, 5);
        var uses = metrics.Of("db.client.connection.use_time");
        Assert.All(uses, u => Assert.Equal(("s", PoolName), (u.Unit, u.Tags["db.client.connection.pool.name"])));
        Assert.True(uses.Count >= 3, $"{uses.Count} uses");
        Assert.InRange(uses.Max(u => u.Value), 0.25, 5);
    }

    [Fact]
    public async Task A_caller_that_times_out_is_counted_and_the_count_of_recent_timeouts_ages()
    {
        using var metrics = new RecordedMetrics();
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.MaxConnections = 1;
            o.AcquireTimeout = TimeSpan.FromMilliseconds(300);
        }, meters: metrics);
        Assert.Equal(0, db.CountTimeouts(TimeSpan.FromMinutes(1)));

        await using (await db.GetConnectionAsync(Key(1)))
        {
            await Assert.ThrowsAsync<ConnectionBudgetExhaustedException>(() => db.QueryTenantAsync<int>(Key(2), "SELECT 1"));
        }

        var timeout = Assert.Single(metrics.Of("db.client.connection.timeouts"));
        Assert.Equal((1d, "{timeout}", PoolName, "Process"), (timeout.Value, timeout.Unit, timeout.Tags["db.client.connection.pool.name"], timeout.Tags["tenantdbguard.budget"]));
        Assert.Single(metrics.Of("tenantdbguard.connections.timeouts"));
        Assert.Equal(1, db.CountTimeouts(TimeSpan.FromMinutes(1)));
        await Task.Delay(200);
        Assert.Equal(0, db.CountTimeouts(TimeSpan.FromMilliseconds(100)));
        Assert.Throws<ArgumentOutOfRangeException>(() => db.CountTimeouts(TimeSpan.FromSeconds(-1)));
    }

    [Fact]
    public async Task With_many_tenants_only_the_top_ones_are_named_and_the_rest_add_up_under_other()
    {
        using var metrics = new RecordedMetrics();
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.MaxConnections = 40;
            o.MetricsTopTenants = 3;
        }, meters: metrics);
        var leases = new List<TenantConnectionLease>();
        try
        {
            // 25 tenants hold one connection each; tenants 7, 12 and 20 hold two.
            for (var n = 1; n <= 25; n++)
            {
                leases.Add(await db.GetConnectionAsync(Key(n)));
            }

            var busy = new[] { 7, 12, 20 };
            var second = new List<TenantConnectionLease>();
            foreach (var n in busy)
            {
                second.Add(await db.GetConnectionAsync(Key(n)));
            }

            var first = UsedByTenant(metrics.ObserveNow(Count));
            Assert.Equal(new Dictionary<string, double> { [Key(7)] = 2, [Key(12)] = 2, [Key(20)] = 2, ["(other)"] = 22 }, first);
            var legacy = metrics.ObserveNow("tenantdbguard.connections.in_use");
            Assert.Equal((4, 28d), (legacy.Count, legacy.Sum(m => m.Value)));

            // Tenant 7 gives back its second connection: it drops out of the top three and is reported at 0 once.
            await second[0].DisposeAsync();
            var next = metrics.ObserveNow(Count).Where(m => (string)m.Tags["db.client.connection.state"]! == "used").ToList();
            Assert.Equal(28 - 1, next.Sum(m => m.Value));
            Assert.Equal(5, next.Count);
            Assert.Equal(0, next.Single(m => (string)m.Tags[Tenant]! == Key(7)).Value);
            Assert.Equal(3, next.Count(m => m.Value > 0 && (string)m.Tags[Tenant]! != "(other)"));
            Assert.DoesNotContain(metrics.ObserveNow(Count), m => m.Tags.TryGetValue(Tenant, out var t) && (string)t! == Key(7));

            // However many tenants there were, the series never went past the top three, the zeros and '(other)'.
            var named = metrics.Of(Count).Where(m => m.Tags.ContainsKey(Tenant)).Select(m => (string)m.Tags[Tenant]!).Distinct().ToList();
            Assert.Equal(new[] { Key(1), Key(12), Key(20), Key(7), "(other)" }.Order(StringComparer.Ordinal), named.Order(StringComparer.Ordinal));
            foreach (var lease in second.Skip(1))
            {
                await lease.DisposeAsync();
            }
        }
        finally
        {
            foreach (var lease in leases)
            {
                await lease.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task With_no_top_tenants_no_metric_names_a_tenant()
    {
        using var metrics = new RecordedMetrics();
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.MaxConnections = 6;
            o.MetricsTopTenants = 0;
        }, meters: metrics);

        await using (await db.GetConnectionAsync(Key(1)))
        await using (await db.GetConnectionAsync(Key(2)))
        {
            var held = metrics.ObserveNow(Count);
            Assert.Equal(2, Used(held));
            Assert.Equal(2, held.Count);
            Assert.Equal(2, Assert.Single(metrics.ObserveNow("tenantdbguard.connections.in_use")).Value);
            Assert.DoesNotContain(metrics.Of(Count).Concat(metrics.Of("tenantdbguard.connections.in_use")), m => m.Tags.ContainsKey(Tenant));
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(0)]
    public async Task Leaks_of_many_tenants_name_at_most_the_top_tenants_option(int top)
    {
        using var metrics = new RecordedMetrics();
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.MaxConnections = 20;
            o.MetricsTopTenants = top;
            o.LeakDetectionThreshold = TimeSpan.FromMilliseconds(100);
        }, meters: metrics);

        var leases = new List<TenantConnectionLease>();
        for (var n = 1; n <= 6; n++)
        {
            leases.Add(await db.GetConnectionAsync(Key(n)));
        }

        await RuntimeTestExtensions.WaitUntilAsync(
            () => Task.FromResult(metrics.Of("tenantdbguard.connections.leaks").Sum(m => m.Value) >= 6),
            TimeSpan.FromSeconds(5),
            "six leaks counted");
        foreach (var lease in leases)
        {
            await lease.DisposeAsync();
        }

        var leaks = metrics.Of("tenantdbguard.connections.leaks");
        if (top == 0)
        {
            Assert.All(leaks, leak => Assert.Empty(leak.Tags));
        }
        else
        {
            // The master lease of the tenants lookup may be reported too, and take one of the names.
            var named = leaks.Select(m => (string)m.Tags[Tenant]!).Where(t => t != "(other)").Distinct().ToList();
            Assert.Equal(top, named.Count);
            Assert.Contains(leaks, m => (string)m.Tags[Tenant]! == "(other)");
        }
    }

    [Fact]
    public void The_histograms_advise_the_database_conventions_buckets_in_seconds()
    {
        using var metrics = new RecordedMetrics();
        var advised = new Dictionary<string, IReadOnlyList<double>?>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, _) =>
            {
                if (instrument is Histogram<double> histogram && metrics.Made(instrument.Meter) && instrument.Name.StartsWith("db.client.", StringComparison.Ordinal))
                {
                    lock (advised)
                    {
#if NET9_0_OR_GREATER
                        advised[instrument.Name] = histogram.Advice?.HistogramBucketBoundaries;
#else
                        advised[instrument.Name] = null;
#endif
                    }
                }
            },
        };
        listener.Start();
        using var db = Server.CreateTenantDatabase(meters: metrics);

        Assert.Equal(["db.client.connection.use_time", "db.client.connection.wait_time"], advised.Keys.Order());
#if NET9_0_OR_GREATER
        // .NET 8 has no advice on instruments: the runtime's build for it makes the histograms without buckets.
        Assert.All(advised.Values, buckets => Assert.Equal([0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10], buckets!));
#endif
    }

    private static double Used(IEnumerable<Measurement> count) => count.Where(m => (string)m.Tags["db.client.connection.state"]! == "used").Sum(m => m.Value);

    private static double Idle(IEnumerable<Measurement> count) => Assert.Single(count, m => (string)m.Tags["db.client.connection.state"]! == "idle").Value;

    private static Dictionary<string, double> UsedByTenant(IEnumerable<Measurement> count) =>
        count.Where(m => (string)m.Tags["db.client.connection.state"]! == "used").ToDictionary(m => (string)m.Tags[Tenant]!, m => m.Value);

    private static string Key(int number) => MariaDbFixture.TenantKey(number);
}
