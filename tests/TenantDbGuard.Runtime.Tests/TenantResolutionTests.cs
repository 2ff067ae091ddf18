using System.Diagnostics;
using Dapper;
using Microsoft.Extensions.Time.Testing;
using TenantDbGuard.Core;
using TenantDbGuard.Runtime.Tests.Infrastructure;
using Xunit.Abstractions;

namespace TenantDbGuard.Runtime.Tests;

/// <summary>How tenant keys become tenants: one identity per tenant row, bounded cost for keys that name no tenant,
/// eviction on demand, and messages that are safe to log whatever the key holds.</summary>
[Collection(MariaDbCollection.Name)]
public sealed class TenantResolutionTests(MariaDbFixture fixture, ITestOutputHelper output) : IAsyncLifetime
{
    private const string CaseKey = "acme-co";
    private const string CaseDatabase = "tdg_acme_co";
    private const string DisabledKey = "soon-gone";
    private const string DisabledDatabase = "tdg_soon_gone";

    private MariaDbServer Server => fixture.Server;

    public async Task InitializeAsync()
    {
        await fixture.CreateTenantsAsync(3);
        await Server.ExecuteAsync(
            $"""
            CREATE DATABASE IF NOT EXISTS {CaseDatabase};
            CREATE TABLE IF NOT EXISTS {CaseDatabase}.marker (tenant VARCHAR(64) NOT NULL);
            DELETE FROM {CaseDatabase}.marker; INSERT INTO {CaseDatabase}.marker VALUES ('{CaseKey}');
            CREATE DATABASE IF NOT EXISTS {DisabledDatabase};
            INSERT INTO {MariaDbFixture.MasterDatabase}.tenants (tenant_key, database_name) VALUES ('{CaseKey}', '{CaseDatabase}'), ('{DisabledKey}', '{DisabledDatabase}')
                ON DUPLICATE KEY UPDATE database_name = VALUES(database_name), is_active = 1;
            """);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    // ---- 7. The tenant row's key is the tenant's identity ----

    [Fact]
    [Trait("Guarantee", "7")]
    public async Task Case_variants_of_a_key_are_one_tenant_for_caps_caches_and_metrics()
    {
        using var metrics = new RecordedMetrics();
        await using var db = Server.CreateTenantDatabase(
            o =>
            {
                o.MaxConnectionsPerTenant = 2;
                o.AcquireTimeout = TimeSpan.FromMilliseconds(300);
            },
            meters: metrics);

        await using var first = await db.GetConnectionAsync("acme-co");
        await using var second = await db.GetConnectionAsync("ACME-CO");

        Assert.Equal(CaseKey, first.TenantKey);
        Assert.Equal(CaseKey, second.TenantKey);
        Assert.Equal(CaseKey, await second.Connection.ExecuteScalarAsync<string>("SELECT tenant FROM marker"));
        var error = await Assert.ThrowsAsync<ConnectionBudgetExhaustedException>(async () => await db.GetConnectionAsync("Acme-Co"));
        Assert.Equal((ConnectionBudgetKind.Tenant, CaseKey, 2), (error.Budget, error.TenantKey, error.Held));
        Assert.Equal(1, db.GetBudgetSnapshot().TenantsInUse);
        var inUse = Assert.Single(metrics.ObserveNow("tenantdbguard.connections.in_use"), m => m.Value > 0);
        Assert.Equal((CaseKey, 2.0), ((string)inUse.Tags["tenantdbguard.tenant"]!, inUse.Value));
    }

    // ---- 8. Unknown keys cost bounded memory and bounded master queries ----

    [Fact]
    [Trait("Guarantee", "8")]
    public async Task A_hundred_thousand_random_keys_cost_bounded_memory_and_master_queries()
    {
        await using var server = await MariaDbServer.StartAsync(maxConnections: 20);
        await MariaDbFixture.CreateTenantsAsync(server, 3);
        await using var db = server.CreateTenantDatabase(o => o.MaxConnections = 4);
        Assert.Equal([MariaDbFixture.TenantDatabase(1)], await db.QueryTenantAsync<string>(MariaDbFixture.TenantKey(1), "SELECT DATABASE()"));
        var selectsBefore = await server.GetStatusAsync("Com_select");
        var memoryBefore = GC.GetTotalMemory(forceFullCollection: true);
        var random = new Random(8);
        var stopwatch = Stopwatch.StartNew();
        var notFound = 0;
        var notLookedUp = 0;

        for (var i = 0; i < 100_000; i++)
        {
            try
            {
                await db.ExecuteScalarTenantAsync<int>(RandomKey(random), "SELECT 1");
            }
            catch (TenantNotFoundException error)
            {
                notFound++;
                notLookedUp += error.IsTransient ? 1 : 0;
            }
        }

        var elapsed = stopwatch.Elapsed;
        var memoryAfter = GC.GetTotalMemory(forceFullCollection: true);
        var selects = await server.GetStatusAsync("Com_select") - selectsBefore;
        output.WriteLine($"100,000 random keys in {elapsed.TotalSeconds:0.0} s: {selects} SELECTs on the server, memory {(memoryAfter - memoryBefore) / 1024.0:0} KiB more");

        // Keys never seen before are looked up at most 100 times a second (each lookup is two SELECTs: the lease's
        // database check and the lookup); the rest are refused without a query, and none is remembered for long.
        Assert.Equal(100_000, notFound);
        Assert.InRange(selects, 0, 2 * (long)(100 * (elapsed.TotalSeconds + 1)) + 10);

        // A key refused without a lookup may be found when it is tried again (transient); one the table lacks is not.
        Assert.InRange(notFound - notLookedUp, 1, selects);
        Assert.InRange(memoryAfter - memoryBefore, long.MinValue, 2 * 1024 * 1024);

        // The bound refills at 100 new keys a second: a second after the flood, a tenant never looked up before is found.
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.Equal([MariaDbFixture.TenantDatabase(2)], await db.QueryTenantAsync<string>(MariaDbFixture.TenantKey(2), "SELECT DATABASE()"));
    }

    [Fact]
    [Trait("Guarantee", "8")]
    public async Task Random_keys_from_many_callers_at_once_are_refused_within_the_limit_while_known_tenants_are_served()
    {
        await using var server = await MariaDbServer.StartAsync(maxConnections: 30);
        await MariaDbFixture.CreateTenantsAsync(server, 3);
        await using var db = server.CreateTenantDatabase(o => o.MaxConnections = 8);
        Assert.Equal([MariaDbFixture.TenantDatabase(1)], await db.QueryTenantAsync<string>(MariaDbFixture.TenantKey(1), "SELECT DATABASE()"));
        var selectsBefore = await server.GetStatusAsync("Com_select");
        var stopwatch = Stopwatch.StartNew();
        var notFound = 0;
        var served = 0;

        // 32 callers send keys never seen before as fast as they can, while one caller keeps asking for a known tenant:
        // waiting for the lookups in flight gives no token back here (they find nothing), so the keys are refused.
        var flood = Enumerable.Range(0, 32).Select(seed => Task.Run(async () =>
        {
            var random = new Random(seed);
            for (var i = 0; i < 1_500; i++)
            {
                try
                {
                    await db.ExecuteScalarTenantAsync<int>(RandomKey(random), "SELECT 1");
                }
                catch (TenantNotFoundException)
                {
                    Interlocked.Increment(ref notFound);
                }
            }
        })).ToArray();
        var known = Task.Run(async () =>
        {
            while (!flood.All(t => t.IsCompleted))
            {
                Assert.Equal(MariaDbFixture.TenantDatabase(1), await db.ExecuteScalarTenantAsync<string>(MariaDbFixture.TenantKey(1), "SELECT DATABASE()"));
                Interlocked.Increment(ref served);
            }
        });
        await Task.WhenAll(flood.Append(known));

        var elapsed = stopwatch.Elapsed;
        var selects = await server.GetStatusAsync("Com_select") - selectsBefore;
        output.WriteLine($"32 x 1,500 random keys in {elapsed.TotalSeconds:0.0} s: {selects} SELECTs on the server, the known tenant served {served} times meanwhile");
        Assert.Equal(32 * 1_500, notFound);
        Assert.True(served > 0);

        // Lookups of keys never seen: at most 100 a second and 100 at once (two SELECTs each); the known tenant's
        // queries: two each; some room for the clock (48,000 keys looked up would be 96,000 SELECTs).
        Assert.InRange(selects, 0, 2 * (long)(100 * (elapsed.TotalSeconds + 1)) + 2L * served + 50);
    }

    [Fact]
    [Trait("Guarantee", "8")]
    public async Task A_cold_start_finds_every_tenant_however_fast_they_arrive()
    {
        const int Tenants = 300;
        await using var server = await MariaDbServer.StartAsync(maxConnections: 40);
        var tenants = await MariaDbFixture.CreateTenantsAsync(server, Tenants);

        // One after another, far faster than the flood limit on keys never seen before: each finds a tenant.
        await using (var db = server.CreateTenantDatabase(o => o.MaxConnections = 4))
        {
            var stopwatch = Stopwatch.StartNew();
            foreach (var tenant in tenants)
            {
                Assert.Equal(tenant.DatabaseName, await db.ExecuteScalarTenantAsync<string>(tenant.Key, "SELECT DATABASE()"));
            }

            output.WriteLine($"{Tenants} tenants, one after another: {stopwatch.Elapsed.TotalMilliseconds:0} ms");
        }

        // All at once, 32 callers, on a process that has seen none of them.
        await using (var db = server.CreateTenantDatabase(o => o.MaxConnections = 8))
        {
            var stopwatch = Stopwatch.StartNew();
            var next = -1;
            await Task.WhenAll(Enumerable.Range(0, 32).Select(_ => Task.Run(async () =>
            {
                for (var i = Interlocked.Increment(ref next); i < Tenants; i = Interlocked.Increment(ref next))
                {
                    Assert.Equal(tenants[i].DatabaseName, await db.ExecuteScalarTenantAsync<string>(tenants[i].Key, "SELECT DATABASE()"));
                }
            })));

            output.WriteLine($"{Tenants} tenants, 32 callers at once: {stopwatch.Elapsed.TotalMilliseconds:0} ms");
        }

        // More first requests at the same instant than the flood limit lets lookups start, each naming a tenant not
        // seen yet (a cold start under full load): the ones beyond the limit wait for the lookups in flight, which find
        // tenants and so do not count against it. None is told "not found".
        await using (var db = server.CreateTenantDatabase(o => o.MaxConnections = 8))
        {
            var stopwatch = Stopwatch.StartNew();
            var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var calls = tenants.Select(tenant => Task.Run(async () =>
            {
                await go.Task;
                return await db.ExecuteScalarTenantAsync<string>(tenant.Key, "SELECT DATABASE()");
            })).ToArray();
            go.SetResult();
            Assert.Equal(tenants.Select(t => t.DatabaseName), await Task.WhenAll(calls));
            output.WriteLine($"{Tenants} tenants, {Tenants} callers at the same instant: {stopwatch.Elapsed.TotalMilliseconds:0} ms");
        }
    }

    [Fact]
    [Trait("Guarantee", "8")]
    public async Task A_hundred_thousand_random_keys_through_a_custom_resolver_cost_bounded_memory()
    {
        var real = new TenantInfo("tenant-real", MariaDbFixture.TenantDatabase(1));
        var realLookups = 0;
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.MaxConnections = 4;
            o.TenantResolver = (key, _) =>
            {
                if (key == real.TenantKey)
                {
                    Interlocked.Increment(ref realLookups);
                    return ValueTask.FromResult<TenantInfo?>(real);
                }

                return ValueTask.FromResult<TenantInfo?>(null);
            };
        });
        await db.QueryTenantAsync<int>("tenant-real", "SELECT 1");
        var memoryBefore = GC.GetTotalMemory(forceFullCollection: true);
        var random = new Random(88);

        for (var i = 0; i < 100_000; i++)
        {
            await Assert.ThrowsAsync<TenantNotFoundException>(() => db.ExecuteScalarTenantAsync<int>(RandomKey(random), "SELECT 1"));
        }

        var grown = GC.GetTotalMemory(forceFullCollection: true) - memoryBefore;
        output.WriteLine($"memory {grown / 1024.0:0} KiB more after 100,000 unknown keys");
        Assert.InRange(grown, long.MinValue, 4 * 1024 * 1024);
        Assert.Equal([1], await db.QueryTenantAsync<int>("tenant-real", "SELECT 1"));
        Assert.Equal(1, realLookups);
    }

    [Fact]
    [Trait("Guarantee", "8")]
    public async Task A_custom_resolver_is_asked_about_every_new_key_however_many_arrive()
    {
        // The flood limit guards the tenants table; a custom resolver is the application's own, limited as it sees fit.
        // The clock stands still, so that a bucket of new-key lookups would not refill.
        var resolver = new CountingTenantResolver();
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.TenantResolver = resolver.ResolveAsync;
            o.TimeProvider = new FakeTimeProvider();
        });

        for (var i = 0; i < 3 * TenantResolverCache.NewKeysPerSecond; i++)
        {
            var error = await Assert.ThrowsAsync<TenantNotFoundException>(() => db.QueryTenantAsync<int>($"unknown-{i}", "SELECT 1"));
            Assert.False(error.IsTransient);
        }

        Assert.Equal(3 * TenantResolverCache.NewKeysPerSecond, resolver.TotalCalls);
    }

    // ---- 12. Eviction on demand, and log-safe messages ----

    [Fact]
    [Trait("Guarantee", "12")]
    public async Task InvalidateTenant_evicts_a_disabled_tenant_at_once()
    {
        await using var db = Server.CreateTenantDatabase();
        Assert.Equal([DisabledDatabase], await db.QueryTenantAsync<string>(DisabledKey, "SELECT DATABASE()"));

        await SetActiveAsync(DisabledKey, false);
        try
        {
            // Cached: a disabled tenant keeps access until its entry expires (TenantCacheDuration, 5 minutes) ...
            Assert.Equal([DisabledDatabase], await db.QueryTenantAsync<string>(DisabledKey, "SELECT DATABASE()"));

            // ... or until it is evicted, by any spelling of its key.
            db.InvalidateTenant("SOON-GONE");
            await Assert.ThrowsAsync<TenantNotFoundException>(() => db.QueryTenantAsync<string>(DisabledKey, "SELECT DATABASE()"));
            await Assert.ThrowsAsync<TenantNotFoundException>(async () => await db.GetConnectionAsync(DisabledKey));
        }
        finally
        {
            await SetActiveAsync(DisabledKey, true);
        }

        db.InvalidateTenant(DisabledKey);
        Assert.Equal([DisabledDatabase], await db.QueryTenantAsync<string>(DisabledKey, "SELECT DATABASE()"));
    }

    [Fact]
    [Trait("Guarantee", "12")]
    public async Task InvalidateTenant_refuses_a_null_key_and_ignores_an_unknown_one()
    {
        await using var db = Server.CreateTenantDatabase();

        Assert.Equal("tenantKey", Assert.Throws<ArgumentNullException>(() => db.InvalidateTenant(null!)).ParamName);
        db.InvalidateTenant("tenant-never-seen");
        Assert.Equal([1], await db.QueryTenantAsync<int>(MariaDbFixture.TenantKey(1), "SELECT 1"));
    }

    public static TheoryData<string> HostileKeys() =>
    [
        "evil\r\nERROR forged log entry",
        "evil\nINFO fake",
        "line\u2028separator",
        "next\u0085line",
        "tab\tand\0nul",
        "escape\u001b[31mred",
        "acme\u202Egnp.exe",
        "zero\u200Bwidth",
    ];

    [Theory]
    [Trait("Guarantee", "12")]
    [MemberData(nameof(HostileKeys))]
    public async Task Messages_that_echo_a_key_are_log_safe(string key)
    {
        var logs = new CapturedLogs();
        await using (var db = Server.CreateTenantDatabase(loggers: logs))
        {
            var malformed = await Assert.ThrowsAsync<InvalidTenantKeyException>(() => db.QueryTenantAsync<int>(key, "SELECT 1"));
            AssertLogSafe(malformed.Message);
        }

        // A pattern that lets anything through: the key reaches the lookup, and every message about it stays on one line.
        var resolver = new CountingTenantResolver();
        await using (var db = Server.CreateTenantDatabase(
            o =>
            {
                o.TenantResolver = resolver.ResolveAsync;
                o.TenantKeyPattern = @"^[\s\S]{1,64}\z";
            },
            logs))
        {
            var unknown = await Assert.ThrowsAsync<TenantNotFoundException>(() => db.QueryTenantAsync<int>(key, "SELECT 1"));
            AssertLogSafe(unknown.Message);
            Assert.Equal(key, unknown.TenantKey);
        }

        Assert.All(logs.Entries, entry => AssertLogSafe(entry.Message));
    }

    private static void AssertLogSafe(string message)
    {
        foreach (var c in message)
        {
            Assert.False(
                char.IsControl(c) || c is '\u2028' or '\u2029' || System.Globalization.CharUnicodeInfo.GetUnicodeCategory(c) == System.Globalization.UnicodeCategory.Format,
                $"The message holds U+{(int)c:X4}: {message.Replace("\r", "\\r").Replace("\n", "\\n")}");
        }
    }

    private Task SetActiveAsync(string key, bool active) =>
        Server.ExecuteAsync($"UPDATE tenants SET is_active = {(active ? 1 : 0)} WHERE tenant_key = '{key}'", MariaDbFixture.MasterDatabase);

    private static string RandomKey(Random random)
    {
        const string alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        Span<char> key = stackalloc char[24];
        for (var i = 0; i < key.Length; i++)
        {
            key[i] = alphabet[random.Next(alphabet.Length)];
        }

        return new string(key);
    }
}
