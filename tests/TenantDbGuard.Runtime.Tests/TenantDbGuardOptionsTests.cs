using Dapper;
using TenantDbGuard.Runtime.Tests.Infrastructure;

namespace TenantDbGuard.Runtime.Tests;

[Collection(MariaDbCollection.Name)]
public sealed class TenantDbGuardOptionsTests(MariaDbFixture fixture) : IAsyncLifetime
{
    private MariaDbServer Server => fixture.Server;

    public Task InitializeAsync() => fixture.CreateTenantsAsync(4);

    public Task DisposeAsync() => Task.CompletedTask;

    // ---- Validation ----

    public static TheoryData<string, string> InvalidOptions() => new()
    {
        { "missing connection string", "MasterConnectionString" },
        { "blank connection string", "MasterConnectionString" },
        { "malformed connection string", "MasterConnectionString" },
        { "connection string without a database", "MasterConnectionString" },
        { "connection string without a server", "MasterConnectionString must name the server" },
        { "connection string with an empty server", "MasterConnectionString must name the server" },
        { "connection string with port 0", "Port must be from 1 to 65535" },
        { "zero MaxConnections", "MaxConnections" },
        { "negative MaxConnections", "MaxConnections" },
        { "zero ServerShare", "ServerShare" },
        { "ServerShare above 1", "ServerShare" },
        { "negative ReservedConnections", "ReservedConnections" },
        { "zero MaxConnectionsPerTenant", "MaxConnectionsPerTenant" },
        { "negative MaxMasterConnections", "MaxMasterConnections" },
        { "zero AcquireTimeout", "AcquireTimeout" },
        { "infinite AcquireTimeout", "AcquireTimeout" },
        { "AcquireTimeout longer than a timer waits", "AcquireTimeout" },
        { "zero ResetTimeout", "ResetTimeout" },
        { "ResetTimeout of a few ticks", "ResetTimeout must be at least 10 ms" },
        { "ResetTimeout just under its minimum", "ResetTimeout must be at least 10 ms" },
        { "AcquireTimeout of a few ticks", "AcquireTimeout must be at least 1 ms" },
        { "ResetTimeout whose disposal wait is longer than a timer waits", "ResetTimeout" },
        { "negative IdleTimeout", "IdleTimeout" },
        { "negative TenantCacheDuration", "TenantCacheDuration" },
        { "negative UnknownTenantCacheDuration", "UnknownTenantCacheDuration" },
        { "negative ValidateAfterIdle", "ValidateAfterIdle" },
        { "zero LeakDetectionThreshold", "LeakDetectionThreshold" },
        { "empty TenantKeyPattern", "TenantKeyPattern" },
        { "bad TenantKeyPattern regex", "TenantKeyPattern" },
        { "TenantsTable with SQL in it", "TenantsTable" },
        { "TenantsTable with a schema", "TenantsTable" },
        { "empty TenantsTable", "TenantsTable" },
    };

    private static readonly Dictionary<string, Action<TenantDbGuardOptions>> Breakers = new()
    {
        ["missing connection string"] = o => o.MasterConnectionString = null!,
        ["blank connection string"] = o => o.MasterConnectionString = "   ",
        ["malformed connection string"] = o => o.MasterConnectionString = "Server=127.0.0.1;NoSuchOption=1",
        ["connection string without a database"] = o => o.MasterConnectionString = "Server=127.0.0.1;User ID=app",
        ["connection string without a server"] = o => o.MasterConnectionString = "User ID=app;Database=tdg_master",
        ["connection string with an empty server"] = o => o.MasterConnectionString = "Server= ;Database=tdg_master",
        ["connection string with port 0"] = o => o.MasterConnectionString = "Server=::1;Port=0;Database=tdg_master",
        ["zero MaxConnections"] = o => o.MaxConnections = 0,
        ["negative MaxConnections"] = o => o.MaxConnections = -5,
        ["zero ServerShare"] = o => o.ServerShare = 0,
        ["ServerShare above 1"] = o => o.ServerShare = 1.5,
        ["negative ReservedConnections"] = o => o.ReservedConnections = -1,
        ["zero MaxConnectionsPerTenant"] = o => o.MaxConnectionsPerTenant = 0,
        ["negative MaxMasterConnections"] = o => o.MaxMasterConnections = -1,
        ["zero AcquireTimeout"] = o => o.AcquireTimeout = TimeSpan.Zero,
        ["infinite AcquireTimeout"] = o => o.AcquireTimeout = Timeout.InfiniteTimeSpan,
        ["AcquireTimeout longer than a timer waits"] = o => o.AcquireTimeout = TimeSpan.FromDays(50),
        ["zero ResetTimeout"] = o => o.ResetTimeout = TimeSpan.Zero,
        ["ResetTimeout of a few ticks"] = o => o.ResetTimeout = TimeSpan.FromTicks(3),
        ["ResetTimeout just under its minimum"] = o => o.ResetTimeout = TimeSpan.FromMilliseconds(10) - TimeSpan.FromTicks(1),
        ["AcquireTimeout of a few ticks"] = o => o.AcquireTimeout = TimeSpan.FromTicks(3),
        ["ResetTimeout whose disposal wait is longer than a timer waits"] = o => o.ResetTimeout = TimeSpan.FromDays(17),
        ["negative IdleTimeout"] = o => o.IdleTimeout = TimeSpan.FromSeconds(-1),
        ["negative TenantCacheDuration"] = o => o.TenantCacheDuration = TimeSpan.FromSeconds(-1),
        ["negative UnknownTenantCacheDuration"] = o => o.UnknownTenantCacheDuration = TimeSpan.FromSeconds(-1),
        ["negative ValidateAfterIdle"] = o => o.ValidateAfterIdle = TimeSpan.FromMilliseconds(-1),
        ["zero LeakDetectionThreshold"] = o => o.LeakDetectionThreshold = TimeSpan.Zero,
        ["empty TenantKeyPattern"] = o => o.TenantKeyPattern = string.Empty,
        ["bad TenantKeyPattern regex"] = o => o.TenantKeyPattern = "^[a-z",
        ["TenantsTable with SQL in it"] = o => o.TenantsTable = "tenants; DROP TABLE tenants",
        ["TenantsTable with a schema"] = o => o.TenantsTable = "tdg_master.tenants",
        ["empty TenantsTable"] = o => o.TenantsTable = string.Empty,
    };

    [Theory]
    [MemberData(nameof(InvalidOptions))]
    public void An_invalid_option_is_refused_by_name_before_anything_is_created(string invalid, string option)
    {
        var options = new TenantDbGuardOptions { MasterConnectionString = Server.GetAppConnectionString(MariaDbFixture.MasterDatabase) };
        Breakers[invalid](options);
        using var metrics = new RecordedMetrics();

        var error = Assert.Throws<ArgumentException>(() => new TenantDatabase(options, meterFactory: metrics));

        Assert.Equal("options", error.ParamName);
        Assert.Contains(option, error.Message);
        Assert.Empty(metrics.MeterNames);
    }

    [Fact]
    public async Task The_longest_allowed_timeouts_are_waited_for_without_error()
    {
        var options = new TenantDbGuardOptions
        {
            MasterConnectionString = Server.GetAppConnectionString(MariaDbFixture.MasterDatabase),
            MaxConnections = 1,
            AcquireTimeout = TimeSpan.FromDays(49),
            ResetTimeout = TimeSpan.FromDays(16),
        };
        await using (var db = new TenantDatabase(options))
        {
            await using (await db.GetConnectionAsync(Key(1)))
            {
                using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
                await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await db.GetConnectionAsync(Key(1), cancel.Token));
            }

            Assert.Equal([1], await db.QueryTenantAsync<int>(Key(1), "SELECT 1"));
        }
    }

    [Fact]
    public async Task The_shortest_allowed_timeouts_are_accepted()
    {
        var options = new TenantDbGuardOptions
        {
            MasterConnectionString = Server.GetAppConnectionString(MariaDbFixture.MasterDatabase),
            AcquireTimeout = TimeSpan.FromMilliseconds(1),
            ResetTimeout = TimeSpan.FromMilliseconds(10),
        };
        Assert.Empty(TenantDbGuardOptionsValidator.Check(options));
        await using var db = new TenantDatabase(options);
        Assert.Equal(0, db.GetBudgetSnapshot().InUse);
    }

    [Fact]
    public void Null_options_are_refused()
    {
        Assert.Equal("options", Assert.Throws<ArgumentNullException>(() => new TenantDatabase(null!)).ParamName);
    }

    [Fact]
    public async Task The_options_are_copied()
    {
        var options = new TenantDbGuardOptions { MasterConnectionString = Server.GetAppConnectionString(MariaDbFixture.MasterDatabase), MaxConnections = 3 };
        await using var db = new TenantDatabase(options);

        options.MaxConnections = 50;
        options.MasterConnectionString = "Server=nowhere.invalid;Database=x";

        Assert.Equal(3, db.GetBudgetSnapshot().Limit);
        Assert.Equal([1], await db.QueryTenantAsync<int>(Key(1), "SELECT 1"));
    }

    [Fact]
    public void The_copy_holds_every_option()
    {
        // Every public option set to a value other than its default: the copy must carry each one.
        var options = new TenantDbGuardOptions();
        Func<string, CancellationToken, ValueTask<TenantInfo?>> resolver = (_, _) => ValueTask.FromResult<TenantInfo?>(null);
        var properties = typeof(TenantDbGuardOptions).GetProperties().Where(p => p.CanWrite).ToList();
        foreach (var property in properties)
        {
            var current = property.GetValue(options);
            object changed = property.PropertyType switch
            {
                var t when t == typeof(string) => property.Name + "-changed",
                var t when t == typeof(int) || t == typeof(int?) => (int?)current is { } n ? n + 7 : 7,
                var t when t == typeof(double) => (double)current! / 2,
                var t when t == typeof(bool) => !(bool)current!,
                var t when t == typeof(TimeSpan) || t == typeof(TimeSpan?) => ((TimeSpan?)current ?? TimeSpan.Zero) + TimeSpan.FromSeconds(7),
                var t when t == typeof(Func<string, CancellationToken, ValueTask<TenantInfo?>>) => resolver,
                var t when t == typeof(TimeProvider) => new Microsoft.Extensions.Time.Testing.FakeTimeProvider(),
                var t => throw new InvalidOperationException($"Give TenantDbGuardOptions.{property.Name} ({t.Name}) a changed value in this test."),
            };
            Assert.NotEqual(current, changed);
            property.SetValue(options, changed);
        }

        var copy = options.Clone();

        Assert.NotSame(options, copy);
        Assert.True(properties.Count >= 18);
        Assert.All(properties, property => Assert.Equal(property.GetValue(options), property.GetValue(copy)));
    }

    [Fact]
    public void The_defaults_are_documented_ones()
    {
        var options = new TenantDbGuardOptions();

        Assert.Null(options.MaxConnections);
        Assert.Equal((1.0, 10, 10, 10), (options.ServerShare, options.ReservedConnections, options.MaxConnectionsPerTenant, options.MaxMasterConnections));
        Assert.Equal((TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(60)), (options.AcquireTimeout, options.IdleTimeout));
        Assert.Equal((TimeSpan.FromMinutes(5), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5)), (options.TenantCacheDuration, options.UnknownTenantCacheDuration, options.ValidateAfterIdle));
        Assert.True(options.ResetSessionOnRelease);
        Assert.Null(options.LeakDetectionThreshold);
        Assert.Equal("tenants", options.TenantsTable);
        Assert.Null(options.TenantResolver);
    }

    // ---- TenantKeyPattern: keys are checked before any SQL runs ----

    public static TheoryData<string> InvalidKeys() =>
    [
        string.Empty,
        new string('a', 65),
        "x'; DROP DATABASE tdg_master; --",
        "tenant 0001",
        " tenant-0001",
        "tenant-0001 ",
        "tenant-0001\n",
        "tenant-0001\r\n",
        "ténant-0001",
        "租户",
        "tenant-0001\u200b",
        "-tenant",
        "_tenant",
        "../tenant",
        "tenant%",
        "tenant`0001",
        "tenant\"0001",
        "tenant\\0001",
        "tenant\00001",
    ];

    [Theory]
    [MemberData(nameof(InvalidKeys))]
    public async Task An_invalid_key_is_refused_before_any_SQL_runs(string key)
    {
        var resolver = new CountingTenantResolver(new TenantInfo(key, MariaDbFixture.TenantDatabase(1)));
        await using var db = Server.CreateTenantDatabase(o => o.TenantResolver = resolver.ResolveAsync);

        var errors = new List<InvalidTenantKeyException>
        {
            await Assert.ThrowsAsync<InvalidTenantKeyException>(async () => await db.GetConnectionAsync(key)),
            await Assert.ThrowsAsync<InvalidTenantKeyException>(() => db.QueryTenantAsync<int>(key, "SELECT 1")),
            await Assert.ThrowsAsync<InvalidTenantKeyException>(() => db.ExecuteTenantAsync(key, "SELECT 1")),
            await Assert.ThrowsAsync<InvalidTenantKeyException>(() => db.ExecuteScalarTenantAsync<int>(key, "SELECT 1")),
            await Assert.ThrowsAsync<InvalidTenantKeyException>(() => db.WithTenantConnectionAsync(key, (_, _) => Task.CompletedTask)),
            await Assert.ThrowsAsync<InvalidTenantKeyException>(() => db.WithTenantTransactionAsync(key, (_, _, _) => Task.CompletedTask)),
        };

        Assert.All(errors, error =>
        {
            Assert.Equal(key, error.TenantKey);
            Assert.Equal(new TenantDbGuardOptions().TenantKeyPattern, error.Pattern);
            Assert.False(error.IsTransient);
            Assert.Contains("no query was run", error.Message);
            Assert.Contains("TenantKeyPattern", error.Message);
        });
        Assert.Equal(0, resolver.TotalCalls);
        Assert.Equal((0, 0), (db.GetBudgetSnapshot().Open, db.GetBudgetSnapshot().Limit));
    }

    [Fact]
    public async Task A_null_key_is_refused_before_any_SQL_runs()
    {
        var resolver = new CountingTenantResolver();
        await using var db = Server.CreateTenantDatabase(o => o.TenantResolver = resolver.ResolveAsync);

        Assert.Equal("tenantKey", (await Assert.ThrowsAsync<ArgumentNullException>(async () => await db.GetConnectionAsync(null!))).ParamName);
        Assert.Equal("tenantKey", (await Assert.ThrowsAsync<ArgumentNullException>(() => db.QueryTenantAsync<int>(null!, "SELECT 1"))).ParamName);
        Assert.Equal(0, resolver.TotalCalls);
    }

    [Fact]
    public async Task An_injection_attempt_as_a_key_leaves_the_master_database_alone()
    {
        await using var db = Server.CreateTenantDatabase();

        await Assert.ThrowsAsync<InvalidTenantKeyException>(() => db.QueryTenantAsync<int>("x'; DROP DATABASE tdg_master; --", "SELECT 1"));

        Assert.True(await db.ExecuteScalarTenantAsync<long>(Key(1), "SELECT COUNT(*) FROM tdg_master.tenants") >= 4);
    }

    [Fact]
    public async Task The_longest_allowed_key_is_looked_up()
    {
        var key = "t" + new string('0', 63);
        var resolver = new CountingTenantResolver(new TenantInfo(key, MariaDbFixture.TenantDatabase(2)));
        await using var db = Server.CreateTenantDatabase(o => o.TenantResolver = resolver.ResolveAsync);

        Assert.Equal([MariaDbFixture.TenantDatabase(2)], await db.QueryTenantAsync<string>(key, "SELECT DATABASE()"));
    }

    [Fact]
    public async Task A_custom_TenantKeyPattern_replaces_the_default()
    {
        var resolver = new CountingTenantResolver(new TenantInfo("ACME.eu", MariaDbFixture.TenantDatabase(3)));
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.TenantResolver = resolver.ResolveAsync;
            o.TenantKeyPattern = @"^[A-Z]+\.[a-z]{2}$";
        });

        Assert.Equal([MariaDbFixture.TenantDatabase(3)], await db.QueryTenantAsync<string>("ACME.eu", "SELECT DATABASE()"));
        Assert.Equal(@"^[A-Z]+\.[a-z]{2}$", (await Assert.ThrowsAsync<InvalidTenantKeyException>(() => db.QueryTenantAsync<int>(Key(1), "SELECT 1"))).Pattern);
        Assert.Equal(1, resolver.TotalCalls);
    }

    [Fact]
    public async Task A_custom_TenantKeyPattern_may_use_lookarounds()
    {
        var resolver = new CountingTenantResolver(new TenantInfo("acme", MariaDbFixture.TenantDatabase(3)));
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.TenantResolver = resolver.ResolveAsync;
            o.TenantKeyPattern = @"^(?!admin\z)[a-z]{1,20}\z";
        });

        Assert.Equal([MariaDbFixture.TenantDatabase(3)], await db.QueryTenantAsync<string>("acme", "SELECT DATABASE()"));
        await Assert.ThrowsAsync<InvalidTenantKeyException>(() => db.QueryTenantAsync<int>("admin", "SELECT 1"));
        Assert.Equal(1, resolver.TotalCalls);
    }

    [Fact]
    public async Task A_pattern_that_backtracks_badly_still_checks_a_key_at_once()
    {
        // (a|aa)+ against a run of a's that ends in '!' takes a backtracking engine minutes: the linear engine answers at once.
        var valid = new string('a', 40);
        var resolver = new CountingTenantResolver(new TenantInfo(valid, MariaDbFixture.TenantDatabase(2)));
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.TenantResolver = resolver.ResolveAsync;
            o.TenantKeyPattern = "^(a|aa)+$";
        });

        var check = Task.Run(() => db.QueryTenantAsync<int>(valid + "!", "SELECT 1"));

        await Assert.ThrowsAsync<InvalidTenantKeyException>(() => check.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal([MariaDbFixture.TenantDatabase(2)], await db.QueryTenantAsync<string>(valid, "SELECT DATABASE()"));
        Assert.Equal(1, resolver.TotalCalls);
    }

    [Fact]
    public async Task A_key_whose_check_runs_out_of_time_is_refused_before_any_SQL_runs()
    {
        // The lookahead keeps the backtracking engine, whose match timeout stops (a|aa)+ on this key.
        var key = new string('a', 40) + "!";
        var resolver = new CountingTenantResolver(new TenantInfo(key, MariaDbFixture.TenantDatabase(2)));
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.TenantResolver = resolver.ResolveAsync;
            o.TenantKeyPattern = "^(?=a)(a|aa)+$";
        });

        var error = await Assert.ThrowsAsync<InvalidTenantKeyException>(() => db.QueryTenantAsync<int>(key, "SELECT 1"));

        Assert.Equal(key, error.TenantKey);
        Assert.Equal(0, resolver.TotalCalls);
    }

    // ---- TenantsTable ----

    [Fact]
    public async Task TenantsTable_names_the_table_that_maps_keys_to_databases()
    {
        await Server.ExecuteAsync(
            $"""
            CREATE TABLE IF NOT EXISTS tenant_directory LIKE tenants;
            INSERT IGNORE INTO tenant_directory (tenant_key, database_name) VALUES ('dir-tenant', '{MariaDbFixture.TenantDatabase(4)}');
            """,
            MariaDbFixture.MasterDatabase);
        await using var db = Server.CreateTenantDatabase(o => o.TenantsTable = "tenant_directory");

        Assert.Equal([MariaDbFixture.TenantDatabase(4)], await db.QueryTenantAsync<string>("dir-tenant", "SELECT DATABASE()"));
        await Assert.ThrowsAsync<TenantNotFoundException>(() => db.QueryTenantAsync<int>(Key(1), "SELECT 1"));
    }

    private static string Key(int number) => MariaDbFixture.TenantKey(number);
}
