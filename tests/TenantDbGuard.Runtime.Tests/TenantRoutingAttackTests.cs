using System.Diagnostics;
using Dapper;
using Microsoft.Extensions.Time.Testing;
using MySqlConnector;
using TenantDbGuard.Runtime.Tests.Infrastructure;

namespace TenantDbGuard.Runtime.Tests;

/// <summary>
/// The routing of a request to its tenant's database, attacked: keys spelled in every way the tenants table's collation
/// may or may not take for one, rows that change while the process runs, lookups many callers wait for at once, rows
/// that name no database, a database with odd characters, the master database, a system schema or another tenant's
/// database, and custom resolvers that misbehave. Each request must reach its own tenant's database or fail with a
/// typed error; it never reaches another tenant's database, the master database or a tenant that is gone.
/// </summary>
[Collection(MariaDbCollection.Name)]
public sealed class TenantRoutingAttackTests(MariaDbFixture fixture) : IAsyncLifetime
{
    private const string Table = "routing_tenants";
    private const string Latin1Table = "routing_tenants_latin1";
    private const string BinaryTable = "routing_tenants_bin";
    private const string Permissive = @"^[\s\S]{1,20000}\z";
    private const string OldDatabase = "tdg_rt_old";
    private const string NewDatabase = "tdg_rt_new";
    private const string TickDatabase = "tdg_rt`tick";
    private const string SpaceDatabase = "tdg rt space";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private MariaDbServer Server => fixture.Server;

    private static string A => MarkedTenants.Database(0);

    private static string B => MarkedTenants.Database(1);

    private static string C => MarkedTenants.Database(2);

    public async Task InitializeAsync()
    {
        await MarkedTenants.CreateAsync(Server);
        var master = MariaDbFixture.MasterDatabase;
        await Server.ExecuteAsync(
            $"""
            CREATE TABLE IF NOT EXISTS {master}.{Table} (
                tenant_key VARCHAR(64) NULL, database_name VARCHAR(255) NULL, server_host VARCHAR(255) NULL,
                server_port INT NULL, is_active TINYINT(1) NULL DEFAULT 1, KEY (tenant_key)
            ) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;
            CREATE TABLE IF NOT EXISTS {master}.{Latin1Table} (
                tenant_key VARCHAR(64) PRIMARY KEY, database_name VARCHAR(64) NOT NULL, server_host VARCHAR(255) NULL,
                server_port INT NULL, is_active TINYINT(1) NOT NULL DEFAULT 1
            ) CHARACTER SET latin1 COLLATE latin1_swedish_ci;
            CREATE TABLE IF NOT EXISTS {master}.{BinaryTable} (
                tenant_key VARCHAR(64) PRIMARY KEY, database_name VARCHAR(64) NOT NULL, server_host VARCHAR(255) NULL,
                server_port INT NULL, is_active TINYINT(1) NOT NULL DEFAULT 1
            ) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
            DELETE FROM {master}.{Table}; DELETE FROM {master}.{Latin1Table}; DELETE FROM {master}.{BinaryTable};
            """);
        foreach (var (database, marker) in new[] { (OldDatabase, "old"), (NewDatabase, "new"), (TickDatabase, "tick"), (SpaceDatabase, "space") })
        {
            var quoted = MariaDbServer.QuoteIdentifier(database);
            await Server.ExecuteAsync(
                $"""
                CREATE DATABASE IF NOT EXISTS {quoted};
                CREATE TABLE IF NOT EXISTS {quoted}.marker (tenant VARCHAR(64) NOT NULL);
                DELETE FROM {quoted}.marker; INSERT INTO {quoted}.marker VALUES ('{marker}');
                """);
        }
    }

    public Task DisposeAsync() => Task.CompletedTask;

    // ---- Keys spelled otherwise ----

    [Theory]
    [InlineData("RT-A")]
    [InlineData("Rt-a")]
    [InlineData("rt-a ")]
    [InlineData("rt-a   ")]
    public async Task Spellings_the_collation_takes_for_a_tenants_key_reach_that_tenant_under_its_own_key(string spelling)
    {
        await RowsAsync(("rt-a", A, null, null, 1), ("rt-b", B, null, null, 1));
        await using var db = Create(o => o.TenantKeyPattern = Permissive);

        await using var lease = await db.GetConnectionAsync(spelling);

        Assert.Equal(("rt-a", "iso-a"), (lease.TenantKey, await MarkedTenants.ReadMarkerAsync(lease.Connection)));
    }

    [Theory]
    [InlineData(" rt-a")]
    [InlineData("rt-a\0")]
    [InlineData("rt\u200B-a")]
    [InlineData("rt-a\u200B")]
    [InlineData("\uFF52\uFF54-\uFF41")]
    [InlineData("rt-\u0430")]
    [InlineData("rt-a\t")]
    [InlineData("rt-a\n")]
    [InlineData("rt-%")]
    [InlineData("rt-_")]
    [InlineData("rt-a' OR '1'='1")]
    [InlineData("rt-a`; USE tdg_iso_b; --")]
    [InlineData("tdg_iso_b")]
    [InlineData("(master)")]
    public async Task Keys_that_only_look_like_a_tenants_key_reach_no_tenant_or_that_tenant_under_its_own_key(string key)
    {
        await RowsAsync(("rt-a", A, null, null, 1), ("rt-b", B, null, null, 1));
        await using var db = Create(o => o.TenantKeyPattern = Permissive);

        await AssertNotFoundOrTenantAsync(db, key, "rt-a", "iso-a");
        await AssertReachesAsync(db, "rt-b", "rt-b", "iso-b");
    }

    [Fact]
    public async Task A_key_far_longer_than_the_key_column_is_not_found()
    {
        await RowsAsync(("rt-a", A, null, null, 1));
        await using var db = Create(o => o.TenantKeyPattern = Permissive);

        var key = "rt-a" + new string('x', 19_000);
        var error = await Assert.ThrowsAsync<TenantNotFoundException>(() => db.QueryTenantAsync<int>(key, "SELECT 1"));
        Assert.Equal(key, error.TenantKey);
    }

    [Fact]
    public async Task Unicode_normalisation_forms_of_a_key_reach_no_tenant_or_that_tenant_under_its_own_key()
    {
        await RowsAsync(("rt-caf\u00E9", A, null, null, 1));
        await using var db = Create(o => o.TenantKeyPattern = Permissive);

        await AssertReachesAsync(db, "rt-caf\u00E9", "rt-caf\u00E9", "iso-a");
        await AssertNotFoundOrTenantAsync(db, "rt-cafe\u0301", "rt-caf\u00E9", "iso-a");
        await AssertNotFoundOrTenantAsync(db, "RT-CAF\u00C9", "rt-caf\u00E9", "iso-a");
    }

    [Theory]
    [InlineData("\u65E5\u672C")]
    [InlineData("rt-\u0430")]
    [InlineData("rt-\U0001F600")]
    public async Task A_key_the_tenants_tables_character_set_cannot_hold_is_not_found(string key)
    {
        await Server.ExecuteAsync($"DELETE FROM {Latin1Table}; INSERT INTO {Latin1Table} (tenant_key, database_name) VALUES ('rt-a', '{A}')", MariaDbFixture.MasterDatabase);
        await using var db = Create(o => o.TenantKeyPattern = Permissive, Latin1Table);

        var error = await Assert.ThrowsAsync<TenantNotFoundException>(() => db.QueryTenantAsync<int>(key, "SELECT 1"));
        Assert.Equal(key, error.TenantKey);
        await AssertReachesAsync(db, "RT-A", "rt-a", "iso-a");
    }

    [Fact]
    public async Task Under_a_case_sensitive_collation_keys_that_differ_in_case_are_two_tenants_each_on_its_own_database()
    {
        await Server.ExecuteAsync(
            $"DELETE FROM {BinaryTable}; INSERT INTO {BinaryTable} (tenant_key, database_name) VALUES ('rt-x', '{A}'), ('RT-X', '{B}')",
            MariaDbFixture.MasterDatabase);
        await using var db = Create(table: BinaryTable);

        await AssertReachesAsync(db, "RT-X", "RT-X", "iso-b");
        await AssertReachesAsync(db, "rt-x", "rt-x", "iso-a");
        await Assert.ThrowsAsync<TenantNotFoundException>(() => db.QueryTenantAsync<int>("Rt-X", "SELECT 1"));
        db.InvalidateTenant("rt-x");
        await AssertReachesAsync(db, "RT-X", "RT-X", "iso-b");
        await AssertReachesAsync(db, "rt-x", "rt-x", "iso-a");
    }

    // ---- Rows that change while the process runs ----

    [Fact]
    public async Task A_tenant_moved_to_another_database_is_served_on_the_old_one_until_its_entry_expires_and_no_longer()
    {
        var time = new FakeTimeProvider();
        await RowsAsync(("rt-m", OldDatabase, null, null, 1));
        await using var db = Create(o => o.TimeProvider = time);
        await AssertReachesAsync(db, "rt-m", "rt-m", "old");

        await Server.ExecuteAsync($"UPDATE {Table} SET database_name = '{NewDatabase}'", MariaDbFixture.MasterDatabase);
        time.Advance(TimeSpan.FromMinutes(5) - TimeSpan.FromTicks(1));
        await AssertReachesAsync(db, "rt-m", "rt-m", "old");
        time.Advance(TimeSpan.FromTicks(1));
        await AssertReachesAsync(db, "RT-M", "rt-m", "new");
    }

    [Fact]
    public async Task A_lease_taken_before_its_tenant_moved_stays_on_its_database_and_the_next_one_follows_the_row()
    {
        await RowsAsync(("rt-m", OldDatabase, null, null, 1));
        await using var db = Create();
        await using var before = await db.GetConnectionAsync("rt-m");

        await Server.ExecuteAsync($"UPDATE {Table} SET database_name = '{NewDatabase}'", MariaDbFixture.MasterDatabase);
        db.InvalidateTenant("RT-M");

        await AssertReachesAsync(db, "rt-m", "rt-m", "new");
        Assert.Equal("old", await MarkedTenants.ReadMarkerAsync(before.Connection));
    }

    [Fact]
    public async Task A_deleted_tenant_whose_key_is_reused_by_a_new_tenant_is_served_on_the_new_database_once_invalidated()
    {
        await RowsAsync(("rt-m", OldDatabase, null, null, 1));
        await using var db = Create();
        await AssertReachesAsync(db, "rt-m", "rt-m", "old");

        await RowsAsync(("RT-M", NewDatabase, null, null, 1));
        db.InvalidateTenant("rt-m");

        await AssertReachesAsync(db, "rt-m", "RT-M", "new");
        await AssertReachesAsync(db, "Rt-M", "RT-M", "new");
    }

    [Fact]
    public async Task A_disabled_tenant_is_not_found_once_its_entry_expires_by_any_spelling()
    {
        var time = new FakeTimeProvider();
        await RowsAsync(("rt-m", OldDatabase, null, null, 1));
        await using var db = Create(o => o.TimeProvider = time);
        await AssertReachesAsync(db, "rt-m", "rt-m", "old");
        await AssertReachesAsync(db, "RT-M", "rt-m", "old");

        await Server.ExecuteAsync($"UPDATE {Table} SET is_active = 0", MariaDbFixture.MasterDatabase);
        time.Advance(TimeSpan.FromMinutes(5));

        await Assert.ThrowsAsync<TenantNotFoundException>(() => db.QueryTenantAsync<int>("RT-M", "SELECT 1"));
        await Assert.ThrowsAsync<TenantNotFoundException>(() => db.QueryTenantAsync<int>("rt-m", "SELECT 1"));
    }

    [Fact]
    public async Task A_tenant_renamed_in_the_table_is_not_served_by_its_old_key_once_the_new_key_is_looked_up()
    {
        await RowsAsync(("rt-m", OldDatabase, null, null, 1));
        await using var db = Create();
        await AssertReachesAsync(db, "rt-m", "rt-m", "old");

        await Server.ExecuteAsync($"UPDATE {Table} SET tenant_key = 'rt-m2'", MariaDbFixture.MasterDatabase);
        await AssertReachesAsync(db, "rt-m2", "rt-m2", "old");

        await Assert.ThrowsAsync<TenantNotFoundException>(() => db.QueryTenantAsync<int>("rt-m", "SELECT 1"));
    }

    [Fact]
    public async Task A_key_not_found_is_found_once_UnknownTenantCacheDuration_passed_and_poisons_no_other_key()
    {
        var time = new FakeTimeProvider();
        await RowsAsync(("rt-a", A, null, null, 1));
        await using var db = Create(o => o.TimeProvider = time);
        await Assert.ThrowsAsync<TenantNotFoundException>(() => db.QueryTenantAsync<int>("rt-new", "SELECT 1"));
        await AssertReachesAsync(db, "rt-a", "rt-a", "iso-a");

        await Server.ExecuteAsync($"INSERT INTO {Table} (tenant_key, database_name) VALUES ('rt-new', '{NewDatabase}')", MariaDbFixture.MasterDatabase);
        time.Advance(TimeSpan.FromSeconds(5) - TimeSpan.FromTicks(1));
        await Assert.ThrowsAsync<TenantNotFoundException>(() => db.QueryTenantAsync<int>("rt-new", "SELECT 1"));
        time.Advance(TimeSpan.FromTicks(1));
        await AssertReachesAsync(db, "rt-new", "rt-new", "new");
    }

    [Fact]
    public async Task A_tenant_created_and_invalidated_is_found_at_once_by_every_spelling_that_was_not_found_before()
    {
        await RowsAsync(("rt-a", A, null, null, 1));
        await using var db = Create();
        await Assert.ThrowsAsync<TenantNotFoundException>(() => db.QueryTenantAsync<int>("rt-new", "SELECT 1"));
        await Assert.ThrowsAsync<TenantNotFoundException>(() => db.QueryTenantAsync<int>("RT-NEW", "SELECT 1"));

        await Server.ExecuteAsync($"INSERT INTO {Table} (tenant_key, database_name) VALUES ('rt-new', '{NewDatabase}')", MariaDbFixture.MasterDatabase);
        db.InvalidateTenant("rt-new");

        await AssertReachesAsync(db, "RT-NEW", "rt-new", "new");
        await AssertReachesAsync(db, "rt-new", "rt-new", "new");
    }

    [Fact]
    public async Task A_tenant_found_by_one_spelling_is_found_by_another_that_was_not_found_before()
    {
        await RowsAsync(("rt-a", A, null, null, 1));
        await using var db = Create();
        await Assert.ThrowsAsync<TenantNotFoundException>(() => db.QueryTenantAsync<int>("RT-NEW", "SELECT 1"));

        await Server.ExecuteAsync($"INSERT INTO {Table} (tenant_key, database_name) VALUES ('rt-new', '{NewDatabase}')", MariaDbFixture.MasterDatabase);
        await AssertReachesAsync(db, "rt-new", "rt-new", "new");

        await AssertReachesAsync(db, "RT-NEW", "rt-new", "new");
    }

    [Fact]
    public async Task A_tenant_whose_old_database_was_dropped_after_it_moved_is_served_on_its_new_one_once_looked_up_again()
    {
        var time = new FakeTimeProvider();
        const string Doomed = "tdg_rt_doomed";
        await Server.ExecuteAsync($"CREATE DATABASE IF NOT EXISTS {Doomed}");
        await RowsAsync(("rt-m", Doomed, null, null, 1));
        await using var db = Create(o => o.TimeProvider = time);
        Assert.Equal([Doomed], await db.QueryTenantAsync<string>("rt-m", "SELECT DATABASE()"));

        await Server.ExecuteAsync($"UPDATE {Table} SET database_name = '{NewDatabase}'; DROP DATABASE {Doomed};", MariaDbFixture.MasterDatabase);
        time.Advance(TimeSpan.FromSeconds(5));

        var error = await Assert.ThrowsAsync<TenantDatabaseUnavailableException>(() => db.QueryTenantAsync<string>("rt-m", "SELECT DATABASE()"));
        Assert.Equal((Doomed, false), (error.DatabaseName, error.IsTransient));
        await AssertReachesAsync(db, "rt-m", "rt-m", "new");
    }

    // ---- Many callers at once, a slow, failing or cancelled lookup ----

    [Fact]
    public async Task Many_first_requests_for_many_keys_while_the_tenants_table_is_locked_each_reach_their_own_database()
    {
        await RowsAsync(("rt-a", A, null, null, 1), ("rt-b", B, null, null, 1), ("rt-c", C, null, null, 1), ("rt-m", NewDatabase, null, null, 1));
        await using var db = Create(o => o.MaxConnectionsPerTenant = 40);
        var keys = new[] { ("rt-a", "iso-a"), ("RT-B", "iso-b"), ("rt-c", "iso-c"), ("Rt-M", "new"), ("RT-A", "iso-a") };
        var requests = new List<Task<(string Key, string? Marker)>>();
        await using (var root = await Server.OpenConnectionAsync(MariaDbFixture.MasterDatabase))
        {
            await root.ExecuteAsync($"LOCK TABLES {Table} WRITE");
            for (var i = 0; i < 40; i++)
            {
                var key = keys[i % keys.Length].Item1;
                requests.Add(Task.Run(async () =>
                {
                    await using var lease = await db.GetConnectionAsync(key);
                    return (lease.TenantKey, await MarkedTenants.ReadMarkerAsync(lease.Connection));
                }));
            }

            await Task.Delay(300);
            Assert.DoesNotContain(requests, r => r.IsCompleted);
            await root.ExecuteAsync("UNLOCK TABLES");
        }

        var served = await Task.WhenAll(requests).WaitAsync(Patience);
        for (var i = 0; i < served.Length; i++)
        {
            var (key, marker) = keys[i % keys.Length];
            Assert.Equal((key.ToLowerInvariant(), marker), (served[i].Key, served[i].Marker));
        }
    }

    [Fact]
    public async Task A_caller_that_cancels_while_the_tenants_table_is_locked_leaves_the_others_their_answer_and_poisons_nothing()
    {
        await RowsAsync(("rt-a", A, null, null, 1));
        await using var db = Create();
        using var cancel = new CancellationTokenSource();
        Task<IReadOnlyList<string>> cancelled, waiting;
        await using (var root = await Server.OpenConnectionAsync(MariaDbFixture.MasterDatabase))
        {
            await root.ExecuteAsync($"LOCK TABLES {Table} WRITE");
            cancelled = db.QueryTenantAsync<string>("rt-a", "SELECT tenant FROM marker", cancellationToken: cancel.Token);
            waiting = db.QueryTenantAsync<string>("RT-A", "SELECT tenant FROM marker");
            await Task.Delay(200);
            cancel.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled).WaitAsync(Patience);
            Assert.False(waiting.IsCompleted);
            await root.ExecuteAsync("UNLOCK TABLES");
        }

        Assert.Equal(["iso-a"], await waiting.WaitAsync(Patience));
        await AssertReachesAsync(db, "rt-a", "rt-a", "iso-a");
    }

    [Fact]
    public async Task Every_caller_cancelling_a_locked_lookup_leaves_nothing_behind_and_the_next_caller_reads_the_row_as_it_is_then()
    {
        await RowsAsync(("rt-m", OldDatabase, null, null, 1));
        await using var db = Create();
        using var cancel = new CancellationTokenSource();
        await using (var root = await Server.OpenConnectionAsync(MariaDbFixture.MasterDatabase))
        {
            await root.ExecuteAsync($"LOCK TABLES {Table} WRITE");
            var first = db.QueryTenantAsync<string>("rt-m", "SELECT tenant FROM marker", cancellationToken: cancel.Token);
            var second = db.QueryTenantAsync<string>("RT-M", "SELECT tenant FROM marker", cancellationToken: cancel.Token);
            await Task.Delay(200);
            cancel.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first).WaitAsync(Patience);
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => second).WaitAsync(Patience);
            await root.ExecuteAsync($"UPDATE {Table} SET database_name = '{NewDatabase}'; UNLOCK TABLES;");
        }

        await AssertReachesAsync(db, "rt-m", "rt-m", "new");
    }

    [Fact]
    public async Task A_lookup_that_fails_once_fails_its_callers_typed_and_the_next_caller_is_served()
    {
        await RowsAsync(("rt-a", A, null, null, 1));
        await using var db = Create(o => o.MasterConnectionString = Server.GetAppConnectionString(MariaDbFixture.MasterDatabase) + ";Default Command Timeout=1");
        Task<IReadOnlyList<string>> query;
        await using (var root = await Server.OpenConnectionAsync(MariaDbFixture.MasterDatabase))
        {
            await root.ExecuteAsync($"LOCK TABLES {Table} WRITE");
            query = db.QueryTenantAsync<string>("rt-a", "SELECT tenant FROM marker");
            var error = await Assert.ThrowsAsync<CommandTimeoutException>(() => query).WaitAsync(Patience);
            Assert.True(error.IsTransient);
            await root.ExecuteAsync("UNLOCK TABLES");
        }

        await AssertReachesAsync(db, "rt-a", "rt-a", "iso-a");
    }

    [Fact]
    public async Task A_resolver_asked_by_many_callers_at_once_is_asked_once_and_every_caller_gets_its_one_answer()
    {
        var calls = 0;
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var db = Create(o => o.TenantResolver = async (key, ct) =>
        {
            var call = Interlocked.Increment(ref calls);
            await gate.Task.WaitAsync(ct);
            return new TenantInfo("rt-a", call % 2 == 1 ? A : B);
        });

        var requests = Enumerable.Range(0, 32).Select(_ => Task.Run(async () =>
        {
            await using var lease = await db.GetConnectionAsync("rt-a");
            return await MarkedTenants.ReadMarkerAsync(lease.Connection);
        })).ToList();
        await Task.Delay(200);
        gate.SetResult();

        Assert.All(await Task.WhenAll(requests).WaitAsync(Patience), marker => Assert.Equal("iso-a", marker));
        Assert.Equal(1, calls);
    }

    [Fact]
    public async Task A_resolver_that_throws_once_fails_only_the_callers_of_that_lookup()
    {
        var calls = 0;
        await using var db = Create(o => o.TenantResolver = (key, ct) =>
            Interlocked.Increment(ref calls) == 1 ? throw new InvalidOperationException("directory down") : ValueTask.FromResult<TenantInfo?>(new TenantInfo(key, A)));

        Assert.Equal("directory down", (await Assert.ThrowsAsync<InvalidOperationException>(() => db.QueryTenantAsync<int>("rt-a", "SELECT 1"))).Message);
        await AssertReachesAsync(db, "rt-a", "rt-a", "iso-a");
    }

    [Fact]
    public async Task A_resolver_that_hangs_until_cancelled_fails_only_the_callers_that_gave_up_and_a_later_answer_is_served()
    {
        var calls = 0;
        await using var db = Create(o => o.TenantResolver = async (key, ct) =>
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                await Task.Delay(Timeout.Infinite, ct);
            }

            return new TenantInfo(key, B);
        });
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => db.QueryTenantAsync<int>("rt-b", "SELECT 1", cancellationToken: cancel.Token)).WaitAsync(Patience);
        await AssertReachesAsync(db, "rt-b", "rt-b", "iso-b");
    }

    [Fact]
    public async Task A_resolver_that_answers_null_is_a_tenant_not_found_and_poisons_no_other_key()
    {
        await using var db = Create(o => o.TenantResolver = (key, ct) => ValueTask.FromResult(key == "rt-a" ? new TenantInfo(key, A) : null));

        await Assert.ThrowsAsync<TenantNotFoundException>(() => db.QueryTenantAsync<int>("rt-z", "SELECT 1"));
        await AssertReachesAsync(db, "rt-a", "rt-a", "iso-a");
    }

    [Fact]
    public async Task A_resolver_that_answers_another_tenants_key_serves_that_tenant_under_its_own_key_never_the_asked_one()
    {
        await using var db = Create(o => o.TenantResolver = (key, ct) => ValueTask.FromResult<TenantInfo?>(key == "rt-b" ? new TenantInfo("rt-b", B) : new TenantInfo("rt-a", A)));

        await AssertReachesAsync(db, "rt-b", "rt-b", "iso-b");
        await AssertReachesAsync(db, "someone-else", "rt-a", "iso-a");
        await AssertReachesAsync(db, "rt-b", "rt-b", "iso-b");
    }

    [Fact]
    public async Task A_resolver_that_answers_two_keys_with_one_database_has_the_second_refused()
    {
        await using var db = Create(o => o.TenantResolver = (key, ct) => ValueTask.FromResult<TenantInfo?>(new TenantInfo(key, key == "rt-a" ? A : A.ToUpperInvariant())));

        await AssertReachesAsync(db, "rt-a", "rt-a", "iso-a");
        var error = await Assert.ThrowsAsync<TenantConfigurationException>(() => db.QueryTenantAsync<int>("rt-b", "SELECT 1"));
        Assert.Equal("rt-b", error.TenantKey);
    }

    // ---- Rows that name a database they must not, or none ----

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData(null)]
    [InlineData("mysql")]
    [InlineData("MYSQL")]
    [InlineData("information_schema")]
    [InlineData("Performance_Schema")]
    [InlineData("sys")]
    [InlineData("tdg_master")]
    [InlineData("TDG_MASTER")]
    public async Task A_row_that_names_no_database_a_system_schema_or_the_master_is_refused_typed(string? database)
    {
        await RowsAsync(("rt-bad", database, null, null, 1), ("rt-a", A, null, null, 1));
        await using var db = Create();

        var error = await Assert.ThrowsAsync<TenantConfigurationException>(() => db.QueryTenantAsync<string>("rt-bad", "SELECT DATABASE()"));
        Assert.Equal(("rt-bad", false), (error.TenantKey, error.IsTransient));
        await AssertReachesAsync(db, "rt-a", "rt-a", "iso-a");
    }

    [Fact]
    public async Task A_row_that_names_the_master_database_with_the_masters_port_spelled_out_is_refused()
    {
        await RowsAsync(("rt-bad", MariaDbFixture.MasterDatabase, "127.0.0.1", Server.Port, 1));
        await using var db = Create();

        await Assert.ThrowsAsync<TenantConfigurationException>(() => db.QueryTenantAsync<string>("rt-bad", "SELECT DATABASE()"));
    }

    [Theory]
    [InlineData("localhost")]
    [InlineData(" 127.0.0.1")]
    [InlineData("127.0.0.1 ")]
    [InlineData("127.1")]
    [InlineData("LocalHost")]
    public async Task A_row_that_names_the_master_database_on_another_spelling_of_the_masters_server_never_reaches_it(string host)
    {
        await RowsAsync(("rt-bad", MariaDbFixture.MasterDatabase, host, null, 1));
        await using var db = Create();

        var error = await Assert.ThrowsAnyAsync<TenantDbGuardException>(() => db.QueryTenantAsync<string>("rt-bad", "SELECT DATABASE()"));
        Assert.Equal("rt-bad", Assert.IsType<TenantConfigurationException>(error).TenantKey);
    }

    [Theory]
    [InlineData("localhost")]
    [InlineData(" 127.0.0.1")]
    public async Task A_row_that_names_another_tenants_database_on_another_spelling_of_its_server_is_refused(string host)
    {
        await RowsAsync(("rt-a", A, null, null, 1), ("rt-bad", A, host, null, 1));
        await using var db = Create();

        await Assert.ThrowsAsync<TenantConfigurationException>(() => db.QueryTenantAsync<string>("rt-bad", "SELECT DATABASE()"));
        await Assert.ThrowsAsync<TenantConfigurationException>(() => db.QueryTenantAsync<string>("rt-a", "SELECT DATABASE()"));
    }

    [Fact]
    public async Task A_tenant_served_before_another_name_of_its_server_was_known_is_refused_once_looked_up_again()
    {
        await RowsAsync(("rt-a", A, null, null, 1), ("rt-bad", A, "localhost", null, 1));
        await using var db = Create();
        await AssertReachesAsync(db, "rt-a", "rt-a", "iso-a");

        await Assert.ThrowsAsync<TenantConfigurationException>(() => db.QueryTenantAsync<string>("rt-bad", "SELECT DATABASE()"));
        db.InvalidateTenant("rt-a");
        await Assert.ThrowsAsync<TenantConfigurationException>(() => db.QueryTenantAsync<string>("rt-a", "SELECT DATABASE()"));
    }

    [Fact]
    public async Task A_resolver_that_answers_another_tenants_database_on_another_name_of_its_server_has_it_refused()
    {
        await using var db = Create(o => o.TenantResolver = (key, ct) =>
            ValueTask.FromResult<TenantInfo?>(key == "rt-a" ? new TenantInfo(key, A) : new TenantInfo(key, A, "LOCALHOST")));
        await AssertReachesAsync(db, "rt-a", "rt-a", "iso-a");

        var error = await Assert.ThrowsAsync<TenantConfigurationException>(() => db.QueryTenantAsync<string>("rt-bad", "SELECT DATABASE()"));
        Assert.Equal(("rt-bad", A), (error.TenantKey, error.DatabaseName));
        await AssertReachesAsync(db, "rt-a", "rt-a", "iso-a");
    }

    [Theory]
    [InlineData(null)]
    [InlineData(1)]
    public async Task A_row_on_another_name_of_the_masters_server_with_a_database_of_its_own_is_served(int? maxConnections)
    {
        await RowsAsync(("rt-a", A, null, null, 1), ("rt-own", NewDatabase, "localhost", null, 1), ("rt-b", B, " LocalHost ", null, 1));
        await using var db = Create(o =>
        {
            o.MaxConnections = maxConnections;
            o.AcquireTimeout = TimeSpan.FromSeconds(5);
        });

        await AssertReachesAsync(db, "RT-OWN", "rt-own", "new");
        await AssertReachesAsync(db, "rt-b", "rt-b", "iso-b");
        await AssertReachesAsync(db, "rt-a", "rt-a", "iso-a");
        Assert.Equal(["new"], await db.QueryTenantAsync<string>("rt-own", "SELECT tenant FROM marker"));
    }

    [Fact]
    public void A_tenants_server_is_named_without_the_white_space_around_it()
    {
        Assert.Equal("db2.internal", new TenantInfo("acme", "acme_db", " db2.internal\t").ServerHost);
        Assert.Null(new TenantInfo("acme", "acme_db", " \t").ServerHost);
    }

    [Theory]
    [InlineData("tdg_iso_b")]
    [InlineData("TDG_ISO_B")]
    public async Task Two_rows_on_one_database_are_both_refused(string database)
    {
        await RowsAsync(("rt-b", B, null, null, 1), ("rt-bad", database, null, null, 1));
        await using var db = Create();

        await Assert.ThrowsAsync<TenantConfigurationException>(() => db.QueryTenantAsync<string>("rt-bad", "SELECT DATABASE()"));
        await Assert.ThrowsAsync<TenantConfigurationException>(() => db.QueryTenantAsync<string>("rt-b", "SELECT DATABASE()"));
    }

    [Fact]
    public async Task Two_active_rows_for_one_key_are_refused_rather_than_served_on_either()
    {
        await RowsAsync(("rt-dup", OldDatabase, null, null, 1), ("RT-DUP", NewDatabase, null, null, 1), ("rt-a", A, null, null, 1));
        await using var db = Create();

        var error = await Assert.ThrowsAsync<TenantConfigurationException>(() => db.QueryTenantAsync<string>("rt-dup", "SELECT tenant FROM marker"));
        Assert.False(error.IsTransient);
        await Assert.ThrowsAsync<TenantConfigurationException>(() => db.QueryTenantAsync<string>("Rt-Dup", "SELECT tenant FROM marker"));
        await AssertReachesAsync(db, "rt-a", "rt-a", "iso-a");
    }

    [Fact]
    public async Task An_inactive_duplicate_of_a_row_is_ignored()
    {
        await RowsAsync(("rt-dup", OldDatabase, null, null, 0), ("rt-dup", NewDatabase, null, null, 1), ("rt-dup", A, null, null, null));
        await using var db = Create();

        await AssertReachesAsync(db, "RT-DUP", "rt-dup", "new");
    }

    [Theory]
    [InlineData(TickDatabase, "tick")]
    [InlineData(SpaceDatabase, "space")]
    public async Task A_database_whose_name_needs_quoting_is_reached_as_it_is_named(string database, string marker)
    {
        await RowsAsync(("rt-odd", database, null, null, 1));
        await using var db = Create();

        await AssertReachesAsync(db, "rt-odd", "rt-odd", marker);
    }

    [Theory]
    [InlineData("tdg_iso_a ")]
    [InlineData("tdg_iso_a\0")]
    [InlineData("tdg_iso_a\0x")]
    [InlineData("tdg_iso_a\n")]
    [InlineData("tdg_iso_a\t")]
    [InlineData("tdg_iso_a.marker")]
    [InlineData("tdg_iso_\u0430")]
    [InlineData("tdg_iso_a`")]
    [InlineData("`tdg_iso_a`")]
    [InlineData("tdg_rt_missing")]
    public async Task A_row_that_names_a_database_that_is_not_another_tenants_never_reaches_the_other_tenants(string database)
    {
        await RowsAsync(("rt-a", A, null, null, 1), ("rt-odd", database, null, null, 1));
        await using var db = Create();

        try
        {
            await using var lease = await db.GetConnectionAsync("rt-odd");
            var reached = await lease.Connection.ExecuteScalarAsync<string?>("SELECT DATABASE()");
            Assert.Fail($"rt-odd reached '{reached}'");
        }
        catch (TenantDbGuardException error) when (error is TenantDatabaseUnavailableException or TenantConfigurationException)
        {
        }

        await AssertReachesAsync(db, "rt-a", "rt-a", "iso-a");
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(0)]
    [InlineData(65536)]
    [InlineData(int.MinValue)]
    [InlineData(int.MaxValue)]
    public async Task A_row_whose_port_is_no_TCP_port_is_refused_typed(int port)
    {
        await RowsAsync(("rt-port", NewDatabase, null, port, 1), ("rt-a", A, null, null, 1));
        await using var db = Create(o => o.AcquireTimeout = TimeSpan.FromSeconds(2));

        var stopwatch = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<TenantConfigurationException>(() => db.QueryTenantAsync<string>("rt-port", "SELECT DATABASE()"));
        Assert.Equal(("rt-port", false), (error.TenantKey, error.IsTransient));
        Assert.InRange(stopwatch.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(5));
        await AssertReachesAsync(db, "rt-a", "rt-a", "iso-a");
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(70000)]
    public async Task A_resolver_that_answers_a_port_that_is_no_TCP_port_is_refused_typed(int port)
    {
        await using var db = Create(o => o.TenantResolver = (key, ct) => ValueTask.FromResult<TenantInfo?>(new TenantInfo(key, key == "rt-a" ? A : NewDatabase, serverPort: key == "rt-a" ? null : port)));

        await Assert.ThrowsAsync<TenantConfigurationException>(() => db.QueryTenantAsync<string>("rt-port", "SELECT DATABASE()"));
        await AssertReachesAsync(db, "rt-a", "rt-a", "iso-a");
    }

    [Fact]
    public async Task A_row_on_a_host_that_does_not_resolve_fails_that_tenant_typed_within_the_acquire_timeout()
    {
        await RowsAsync(("rt-host", NewDatabase, "no-such-host.invalid", null, 1), ("rt-a", A, null, null, 1));
        await using var db = Create(o => o.AcquireTimeout = TimeSpan.FromSeconds(3));

        var stopwatch = Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<TenantDbGuardException>(() => db.QueryTenantAsync<string>("rt-host", "SELECT DATABASE()"));
        Assert.InRange(stopwatch.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(10));
        await AssertReachesAsync(db, "rt-a", "rt-a", "iso-a");
    }

    private TenantDatabase Create(Action<TenantDbGuardOptions>? configure = null, string table = Table) =>
        Server.CreateTenantDatabase(o =>
        {
            o.TenantsTable = table;
            configure?.Invoke(o);
        });

    private async Task RowsAsync(params (string? Key, string? Database, string? Host, int? Port, int? Active)[] rows)
    {
        await using var root = await Server.OpenConnectionAsync(MariaDbFixture.MasterDatabase);
        await root.ExecuteAsync($"DELETE FROM {Table}");
        foreach (var row in rows)
        {
            await root.ExecuteAsync(
                $"INSERT INTO {Table} (tenant_key, database_name, server_host, server_port, is_active) VALUES (@Key, @Database, @Host, @Port, @Active)",
                new { row.Key, row.Database, row.Host, row.Port, row.Active });
        }
    }

    private static async Task AssertReachesAsync(TenantDatabase db, string key, string tenantKey, string marker)
    {
        await using var lease = await db.GetConnectionAsync(key);
        Assert.Equal((tenantKey, marker), (lease.TenantKey, await MarkedTenants.ReadMarkerAsync(lease.Connection)));
    }

    private static async Task AssertNotFoundOrTenantAsync(TenantDatabase db, string key, string tenantKey, string marker)
    {
        try
        {
            await AssertReachesAsync(db, key, tenantKey, marker);
        }
        catch (TenantNotFoundException error)
        {
            Assert.Equal(key, error.TenantKey);
        }
    }
}
