using System.Diagnostics;
using System.Transactions;
using Dapper;
using MySqlConnector;
using TenantDbGuard.Runtime.Tests.Infrastructure;
using Xunit.Abstractions;
using static TenantDbGuard.Runtime.Tests.Infrastructure.MarkedTenants;

namespace TenantDbGuard.Runtime.Tests;

/// <summary>
/// Tenants share physical connections; these tests check that they never share anything else, whatever the code that
/// holds a lease does. Every tenant's database holds a marker row naming the tenant, and the budgets are small, so that
/// one physical connection passes from tenant to tenant.
/// </summary>
[Collection(MariaDbCollection.Name)]
public sealed class TenantIsolationTests(MariaDbFixture fixture, ITestOutputHelper output) : IAsyncLifetime
{
    private MariaDbServer Server => fixture.Server;

    public Task InitializeAsync() => CreateAsync(Server);

    public Task DisposeAsync() => Task.CompletedTask;

    /// <summary>
    /// Grants the application's account a role for one test, and takes it back at its end: an account that can make a
    /// role current has every lease scrubbed, which the other tests on the shared server do not expect.
    /// </summary>
    private async Task<IAsyncDisposable> GrantIsolationRoleAsync()
    {
        await Server.ExecuteAsync($"CREATE ROLE IF NOT EXISTS tdg_isolation_role; GRANT SELECT ON {MariaDbFixture.MasterDatabase}.* TO tdg_isolation_role; GRANT tdg_isolation_role TO '{MariaDbServer.AppUser}'@'%';");
        return new Revoke(Server);
    }

    private sealed class Revoke(MariaDbServer server) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() =>
            await server.ExecuteAsync($"SET DEFAULT ROLE NONE FOR '{MariaDbServer.AppUser}'@'%'; REVOKE tdg_isolation_role FROM '{MariaDbServer.AppUser}'@'%';");
    }

    // ---- 1. A lease always runs on its tenant's database ----

    [Theory]
    [Trait("Guarantee", "1")]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_raw_USE_with_schema_tracking_off_does_not_move_the_next_lease(bool resetSessionOnRelease)
    {
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.MaxConnections = 1;
            o.ResetSessionOnRelease = resetSessionOnRelease;
        });

        await using (var lease = await db.GetConnectionAsync(Key(0)))
        {
            Assert.Equal(Key(0), await ReadMarkerAsync(lease.Connection));
            await lease.Connection.ExecuteAsync($"SET SESSION session_track_schema = OFF; USE {Database(1)}");
            Assert.Equal(Key(1), await ReadMarkerAsync(lease.Connection));
        }

        foreach (var index in new[] { 0, 0, 1, 0, 2 })
        {
            await using var lease = await db.GetConnectionAsync(Key(index));
            Assert.Equal(Key(index), await ReadMarkerAsync(lease.Connection));
        }
    }

    [Fact]
    [Trait("Guarantee", "1")]
    public async Task On_a_server_without_schema_tracking_a_lease_still_runs_on_its_tenants_database()
    {
        await using var server = await MariaDbServer.StartAsync(maxConnections: 20);
        await CreateAsync(server);
        await server.SetGlobalAsync("session_track_schema", "OFF");
        await using var db = server.CreateTenantDatabase(o => o.MaxConnections = 1);

        for (var round = 0; round < 3; round++)
        {
            foreach (var index in new[] { 0, 0, 1, 2, 2, 0 })
            {
                await using var lease = await db.GetConnectionAsync(Key(index));
                Assert.Equal(Key(index), await ReadMarkerAsync(lease.Connection));
                await lease.Connection.ExecuteAsync($"USE {Database((index + 1) % Count)}");
            }
        }
    }

    [Fact]
    [Trait("Guarantee", "3")]
    public async Task On_a_server_whose_default_character_set_is_not_the_drivers_text_is_stored_as_written_after_every_reset()
    {
        // MySqlConnector writes UTF-8 whatever the server's defaults. On a server whose defaults are latin1 (MySQL
        // 5.7's and MariaDB's compiled-in ones), a session that went back to the defaults would store text mangled;
        // the runtime sees the difference on its first connection and puts the driver's character set back at the
        // start of every lease (MariaDB's reset keeps it anyway; a reset that did not would need that).
        await using var server = await MariaDbServer.StartAsync(maxConnections: 20);
        await CreateAsync(server);
        foreach (var (name, value) in new[] { ("character_set_client", "latin1"), ("character_set_connection", "latin1"), ("character_set_results", "latin1"), ("collation_connection", "latin1_swedish_ci") })
        {
            await server.SetGlobalAsync(name, value);
        }

        await using var db = server.CreateTenantDatabase(o => o.MaxConnections = 1);
        const string Text = "Zoë ✓ 租户 €";
        for (var round = 0; round < 3; round++)
        {
            await db.ExecuteTenantAsync(Key(round % 2), "INSERT INTO items (owner) VALUES (@text)", new { text = Text });
            await using var lease = await db.GetConnectionAsync(Key(round % 2));
            Assert.Equal("utf8mb4", await lease.Connection.ExecuteScalarAsync<string>("SELECT @@character_set_client"));
        }

        Assert.Equal([Text, Text], await ReadItemsAsync(server, 0));
        Assert.Equal([Text], await ReadItemsAsync(server, 1));
    }

    [Fact]
    [Trait("Guarantee", "1")]
    public async Task Leases_on_shared_connections_read_their_own_tenant_whatever_the_previous_holder_did()
    {
        string[] hostile =
        [
            "USE {other}",
            "SET SESSION session_track_schema = OFF; USE {other}",
            "SET SESSION session_track_schema = ON; USE {other}",
            "SET SESSION session_track_schema = OFF",
            "DO 1",
        ];
        await using var db = Server.CreateTenantDatabase(o => o.MaxConnections = 2);
        var mismatches = 0;

        await Task.WhenAll(Enumerable.Range(0, 3).Select(worker => Task.Run(async () =>
        {
            var random = new Random(worker);
            for (var i = 0; i < 60; i++)
            {
                var index = random.Next(Count);
                await using var lease = await db.GetConnectionAsync(Key(index));
                if (await ReadMarkerAsync(lease.Connection) != Key(index))
                {
                    Interlocked.Increment(ref mismatches);
                }

                var sql = hostile[random.Next(hostile.Length)].Replace("{other}", Database(random.Next(Count)));
                await lease.Connection.ExecuteAsync(sql);
                if (random.Next(3) == 0)
                {
                    await lease.Connection.ChangeDatabaseAsync(Database(random.Next(Count)));
                }
            }
        })));

        Assert.Equal(0, mismatches);
        await db.WaitUntilAllReturnedAsync();
    }

    // ---- 2. No session state crosses from one tenant to another ----

    [Theory]
    [Trait("Guarantee", "2")]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Session_state_left_by_one_tenant_never_reaches_the_next(bool resetSessionOnRelease)
    {
        await ClearItemsAsync(Server);
        var connectionString = new MySqlConnectionStringBuilder(Server.GetAppConnectionString(MariaDbFixture.MasterDatabase)) { AllowUserVariables = true }.ConnectionString;
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.MasterConnectionString = connectionString;
            o.MaxConnections = 1;
            o.ResetSessionOnRelease = resetSessionOnRelease;
        });

        long first;
        await using (var lease = await db.GetConnectionAsync(Key(0)))
        {
            var connection = lease.Connection;
            first = await connection.ExecuteScalarAsync<long>("SELECT CONNECTION_ID()");
            await connection.ExecuteAsync($"CREATE TEMPORARY TABLE {Database(1)}.marker (tenant VARCHAR(64)); INSERT INTO {Database(1)}.marker VALUES ('shadow planted by {Key(0)}')");
            await connection.ExecuteAsync("LOCK TABLES items WRITE, marker READ");
            await connection.ExecuteAsync("SET @secret = 'from iso-a'");
            await connection.ExecuteAsync("SET SESSION sql_mode = 'ANSI_QUOTES,PIPES_AS_CONCAT'; SET SESSION time_zone = '+05:00'; SET SESSION sql_select_limit = 1");
            await connection.ExecuteAsync("SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE; SET SESSION autocommit = 0");
            await connection.ExecuteAsync("SET foreign_key_checks = 0; SET unique_checks = 0");
            await connection.ExecuteAsync("INSERT INTO items (owner) VALUES ('uncommitted from iso-a')");
            Assert.Equal(1, await connection.ExecuteScalarAsync<int>("SELECT GET_LOCK('tdg-isolation-lock', 0)"));
            await connection.ExecuteAsync("PREPARE leftover FROM 'SELECT tenant FROM marker'");
            await connection.ExecuteAsync("SET NAMES latin1");
            await connection.ExecuteAsync("SELECT CAST('secret of iso-a' AS INT)");
        }

        await using (var lease = await db.GetConnectionAsync(Key(1)))
        {
            var connection = lease.Connection;
            Assert.Empty(await connection.QueryAsync("SHOW WARNINGS"));
            Assert.Equal(first, await connection.ExecuteScalarAsync<long>("SELECT CONNECTION_ID()"));
            Assert.Equal(Key(1), await ReadMarkerAsync(connection));
            Assert.Null(await connection.ExecuteScalarAsync<string>("SELECT @secret"));
            Assert.Equal((1L, 1L, 0L), await connection.QuerySingleAsync<(long, long, long)>("SELECT @@foreign_key_checks, @@unique_checks, LAST_INSERT_ID()"));
            var state = await connection.QuerySingleAsync<(long SqlMode, long TimeZone, long SelectLimit, long Isolation, long Autocommit, long InTransaction, string Charset, long LockFree)>(
                """
                SELECT @@session.sql_mode = @@global.sql_mode, @@session.time_zone = @@global.time_zone,
                       @@session.sql_select_limit = @@global.sql_select_limit, @@session.tx_isolation = @@global.tx_isolation,
                       @@session.autocommit, @@in_transaction, @@character_set_client, IS_FREE_LOCK('tdg-isolation-lock')
                """);
            Assert.Equal((1, 1, 1, 1, 1, 0, "utf8mb4", 1), state);
            var error = await Assert.ThrowsAsync<MySqlException>(() => connection.ExecuteAsync("EXECUTE leftover"));
            Assert.Equal(MySqlErrorCode.UnknownStatementHandler, error.ErrorCode);
            Assert.Equal("Zoë ✓ 租户", await connection.ExecuteScalarAsync<string>("SELECT @text", new { text = "Zoë ✓ 租户" }));
            await connection.ExecuteAsync("INSERT INTO items (owner) VALUES ('committed by iso-b'); COMMIT");
        }

        Assert.Empty(await ReadItemsAsync(Server, 0));
        Assert.Equal(["committed by iso-b"], await ReadItemsAsync(Server, 1));
    }

    public static TheoryData<bool, string> ReleasePaths() => new()
    {
        { true, "lease" }, { true, "helper" }, { true, "data source" },
        { false, "lease" }, { false, "helper" }, { false, "data source" },
    };

    public static TheoryData<bool, string> ReleasePathsWithBatches() => new()
    {
        { true, "lease" }, { true, "helper" }, { true, "data source" }, { true, "data source batch" },
        { false, "lease" }, { false, "helper" }, { false, "data source" }, { false, "data source batch" },
    };

    [Theory]
    [Trait("Guarantee", "2")]
    [MemberData(nameof(ReleasePathsWithBatches))]
    public async Task State_that_the_servers_reset_keeps_never_reaches_the_next_tenant(bool resetSessionOnRelease, string path)
    {
        // COM_RESET_CONNECTION leaves three things as they were: the role SET ROLE made current, the count FOUND_ROWS()
        // reports (here that of a query over iso-a's data) and the profiling history (the text of iso-a's statements).
        await using var role = await GrantIsolationRoleAsync();
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.MaxConnections = 1;
            o.ResetSessionOnRelease = resetSessionOnRelease;
        });
        const string Shape = "SET ROLE tdg_isolation_role; SET profiling = 1; SELECT 'secret of iso-a'; SELECT SQL_CALC_FOUND_ROWS seq FROM seq_1_to_4242 LIMIT 1";
        const string Read = "SELECT FOUND_ROWS(), COALESCE(CURRENT_ROLE(), 'none'), (SELECT COUNT(*) FROM information_schema.PROFILING), CONNECTION_ID()";

        foreach (var next in new[] { "lease", "helper" })
        {
            var first = await db.ExecuteScalarTenantAsync<long>(Key(0), "SELECT CONNECTION_ID()");
            switch (path)
            {
                case "lease":
                    await using (var lease = await db.GetConnectionAsync(Key(0)))
                    {
                        await lease.Connection.ExecuteAsync(Shape);
                    }

                    break;
                case "helper":
                    await db.ExecuteTenantAsync(Key(0), Shape);
                    break;
                case "data source batch":
                    await using (var connection = await db.ForTenant(Key(0)).OpenConnectionAsync())
                    {
                        await using var batch = connection.CreateBatch();
                        foreach (var statement in Shape.Split(';'))
                        {
                            var command = batch.CreateBatchCommand();
                            command.CommandText = statement;
                            batch.BatchCommands.Add(command);
                        }

                        await batch.ExecuteNonQueryAsync();
                    }

                    break;
                default:
                    await using (var connection = await db.ForTenant(Key(0)).OpenConnectionAsync())
                    {
                        await connection.ExecuteAsync(Shape);
                    }

                    break;
            }

            (long FoundRows, string Role, long Profiles, long ConnectionId) seen;
            if (next == "lease")
            {
                await using var lease = await db.GetConnectionAsync(Key(1));
                seen = await lease.Connection.QuerySingleAsync<(long, string, long, long)>(Read);
            }
            else
            {
                seen = (await db.QueryTenantAsync<(long, string, long, long)>(Key(1), Read)).Single();
            }

            output.WriteLine($"{path} then a {next}: {seen}");
            Assert.Equal(first, seen.ConnectionId);
            Assert.NotEqual(4242, seen.FoundRows);
            Assert.Equal("none", seen.Role);
            Assert.Equal(0, seen.Profiles);
        }
    }

    [Theory]
    [Trait("Guarantee", "2")]
    [InlineData("trigger", "helper")]
    [InlineData("trigger", "lease")]
    [InlineData("function", "helper")]
    [InlineData("function", "lease")]
    [InlineData("procedure", "helper")]
    [InlineData("procedure", "lease")]
    public async Task State_that_code_of_the_tenants_schema_leaves_unseen_never_reaches_the_next_tenant(string routine, string next)
    {
        // A statement whose text names none of it (an INSERT, a SELECT of a function, a procedure called by name through
        // CommandType.StoredProcedure) runs code of iso-a's schema, written by the application's account as migrations
        // are, that makes a role current and turns profiling on. The server's reset keeps both.
        await using var role = await GrantIsolationRoleAsync();
        await using (var app = new MySqlConnection(Server.GetAppConnectionString(Database(0))))
        {
            await app.OpenAsync();
            await app.ExecuteAsync("CREATE TABLE IF NOT EXISTS unseen_audit (id INT)");
            await app.ExecuteAsync("CREATE OR REPLACE TRIGGER unseen_audit_bi BEFORE INSERT ON unseen_audit FOR EACH ROW BEGIN SET ROLE tdg_isolation_role; SET profiling = 1; END");
            await app.ExecuteAsync("CREATE OR REPLACE FUNCTION unseen_fn() RETURNS INT SQL SECURITY INVOKER BEGIN SET ROLE tdg_isolation_role; SET profiling = 1; RETURN 1; END");
            await app.ExecuteAsync("CREATE OR REPLACE PROCEDURE unseen_proc() SQL SECURITY INVOKER BEGIN SET ROLE tdg_isolation_role; SET profiling = 1; END");
        }

        await using var db = Server.CreateTenantDatabase(o => o.MaxConnections = 1);
        var first = await db.ExecuteScalarTenantAsync<long>(Key(0), "SELECT CONNECTION_ID()");
        switch (routine)
        {
            case "trigger":
                await db.ExecuteTenantAsync(Key(0), "INSERT INTO unseen_audit (id) VALUES (1)");
                break;
            case "function":
                Assert.Equal(1, await db.ExecuteScalarTenantAsync<int>(Key(0), "SELECT unseen_fn()"));
                break;
            default:
                await using (var connection = await db.ForTenant(Key(0)).OpenConnectionAsync())
                {
                    await using var command = connection.CreateCommand();
                    command.CommandText = "unseen_proc";
                    command.CommandType = System.Data.CommandType.StoredProcedure;
                    await command.ExecuteNonQueryAsync();
                }

                break;
        }

        // The reset leaves profiling on: iso-a's next statement is recorded, with its text.
        await db.ExecuteScalarTenantAsync<string>(Key(0), "SELECT 'secret of iso-a'");

        (string Role, long ConnectionId) seen;
        List<string> profiled;
        if (next == "lease")
        {
            await using var lease = await db.GetConnectionAsync(Key(1));
            seen = await lease.Connection.QuerySingleAsync<(string, long)>("SELECT COALESCE(CURRENT_ROLE(), 'none'), CONNECTION_ID()");
            profiled = (await lease.Connection.QueryAsync<dynamic>("SHOW PROFILES")).Select(row => (string)((IDictionary<string, object>)row)["Query"]).ToList();
        }
        else
        {
            seen = (await db.QueryTenantAsync<(string, long)>(Key(1), "SELECT COALESCE(CURRENT_ROLE(), 'none'), CONNECTION_ID()")).Single();
            profiled = (await db.QueryTenantAsync<dynamic>(Key(1), "SHOW PROFILES")).Select(row => (string)((IDictionary<string, object>)row)["Query"]).ToList();
        }

        output.WriteLine($"{routine} then a {next}: role {seen.Role}, profiles [{string.Join(" | ", profiled)}]");
        Assert.Equal(first, seen.ConnectionId);
        Assert.Equal("none", seen.Role);
        Assert.DoesNotContain(profiled, query => query.Contains("iso-a", StringComparison.Ordinal));
    }

    [Fact]
    [Trait("Guarantee", "2")]
    public async Task Code_that_profiles_its_own_statements_on_a_lease_reads_them()
    {
        // The lease's start empties the history and leaves profiling as a reset session has it: the lease's own
        // profiling works as on any session.
        await using var db = Server.CreateTenantDatabase(o => o.MaxConnections = 1);
        await using var lease = await db.GetConnectionAsync(Key(0));
        await lease.Connection.ExecuteAsync("SET profiling = 1");
        await lease.Connection.ExecuteScalarAsync<string>("SELECT 'profiled here'");
        var profiled = (await lease.Connection.QueryAsync<dynamic>("SHOW PROFILES")).Select(row => (string)((IDictionary<string, object>)row)["Query"]).ToList();
        Assert.Contains(profiled, query => query.Contains("profiled here", StringComparison.Ordinal));
    }

    [Theory]
    [Trait("Guarantee", "2")]
    [InlineData("SET -- the report's role\nROLE tdg_isolation_role", "helper")]
    [InlineData("SET # the report's role\nROLE tdg_isolation_role", "helper")]
    [InlineData("SET -- the report's role\nROLE tdg_isolation_role", "data source")]
    [InlineData("EXECUTE IMMEDIATE @statement", "helper")]
    [InlineData("PREPARE s FROM @statement; EXECUTE s; DEALLOCATE PREPARE s", "data source")]
    public async Task A_role_a_statement_sets_however_it_is_written_never_reaches_the_next_tenant(string sql, string path)
    {
        // A line comment between SET and ROLE, or the statement in a parameter that the server runs as SQL: the runtime
        // sees neither the words SET ROLE nor the role, and must still clear it.
        await using var role = await GrantIsolationRoleAsync();
        await using var db = Server.CreateTenantDatabase(o => o.MaxConnections = 1);
        var parameters = new { statement = "SET ROLE tdg_isolation_role" };
        var first = await db.ExecuteScalarTenantAsync<long>(Key(0), "SELECT CONNECTION_ID()");
        if (path == "helper")
        {
            Assert.Equal("tdg_isolation_role", await db.ExecuteScalarTenantAsync<string>(Key(0), sql + "; SELECT CURRENT_ROLE()", parameters));
        }
        else
        {
            await using var connection = await db.ForTenant(Key(0)).OpenConnectionAsync();
            Assert.Equal("tdg_isolation_role", await connection.ExecuteScalarAsync<string>(sql + "; SELECT CURRENT_ROLE()", parameters));
        }

        var seen = (await db.QueryTenantAsync<(string, long)>(Key(1), "SELECT COALESCE(CURRENT_ROLE(), 'none'), CONNECTION_ID()")).Single();
        Assert.Equal(first, seen.Item2);
        Assert.Equal("none", seen.Item1);
    }

    [Theory]
    [Trait("Guarantee", "2")]
    [InlineData("lease")]
    [InlineData("data source")]
    public async Task A_role_a_tenant_made_current_before_its_own_USE_never_reaches_the_next_tenant_without_reset_on_release(string path)
    {
        // Without a reset between one tenant's leases, that tenant's USE of another database leaves its session as it was
        // (MySqlConnector is made to forget the change, and does not reset the session itself): the role stays the
        // tenant's, and must still be put back before another tenant gets the session.
        await using var role = await GrantIsolationRoleAsync();
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.MaxConnections = 1;
            o.ResetSessionOnRelease = false;
        });
        var sql = $"SET ROLE tdg_isolation_role; USE `{Database(2)}`";
        var first = await db.ExecuteScalarTenantAsync<long>(Key(0), "SELECT CONNECTION_ID()");
        for (var round = 0; round < 2; round++)
        {
            if (path == "lease")
            {
                await using var lease = await db.GetConnectionAsync(Key(0));
                await lease.Connection.ExecuteAsync(sql);
            }
            else
            {
                await using var connection = await db.ForTenant(Key(0)).OpenConnectionAsync();
                await connection.ExecuteAsync(sql);
            }

            var own = (await db.QueryTenantAsync<(string, string, long)>(Key(0), "SELECT COALESCE(CURRENT_ROLE(), 'none'), DATABASE(), CONNECTION_ID()")).Single();
            var seen = (await db.QueryTenantAsync<(string, string, long)>(Key(1), "SELECT COALESCE(CURRENT_ROLE(), 'none'), DATABASE(), CONNECTION_ID()")).Single();
            output.WriteLine($"{path}, round {round}: the tenant's next lease {own}, the next tenant's {seen}");
            Assert.Equal((Database(0), first), (own.Item2, own.Item3));
            Assert.Equal(("none", Database(1), first), seen);
        }
    }

    [Fact]
    [Trait("Guarantee", "2")]
    public async Task The_next_tenant_gets_back_the_role_the_users_sessions_start_with()
    {
        // The role is put back to the one the session opened with: the user's default role, when it has one.
        await using var role = await GrantIsolationRoleAsync();
        await Server.ExecuteAsync($"SET DEFAULT ROLE tdg_isolation_role FOR '{MariaDbServer.AppUser}'@'%';");
        try
        {
            await using var db = Server.CreateTenantDatabase(o => o.MaxConnections = 1);
            var first = await db.ExecuteScalarTenantAsync<long>(Key(0), "SELECT CONNECTION_ID()");
            Assert.Equal("none", await db.ExecuteScalarTenantAsync<string>(Key(0), "SET ROLE NONE; SELECT COALESCE(CURRENT_ROLE(), 'none')"));
            var seen = (await db.QueryTenantAsync<(string, long)>(Key(1), "SELECT COALESCE(CURRENT_ROLE(), 'none'), CONNECTION_ID()")).Single();
            Assert.Equal(first, seen.Item2);
            Assert.Equal("tdg_isolation_role", seen.Item1);
        }
        finally
        {
            await Server.ExecuteAsync($"SET DEFAULT ROLE NONE FOR '{MariaDbServer.AppUser}'@'%';");
        }
    }

    [Fact]
    [Trait("Guarantee", "2")]
    public async Task A_role_never_reaches_the_next_tenant_whichever_statement_fails_while_the_first_session_is_read()
    {
        // The runtime reads from the first session it opens what a session starts with, the role to put back among it.
        // A statement of that reading may fail for a reason that says nothing of what the server supports (the session
        // killed, the statement interrupted, a resource limit): here the account's query limit stops the reading at
        // each of its statements in turn, and the next sessions must still get their role put back.
        await using var server = await MariaDbServer.StartAsync(maxConnections: 20);
        await CreateAsync(server);
        await server.ExecuteAsync($"CREATE ROLE IF NOT EXISTS tdg_isolation_role; GRANT SELECT ON {MariaDbFixture.MasterDatabase}.* TO tdg_isolation_role; GRANT tdg_isolation_role TO '{MariaDbServer.AppUser}'@'%';");
        for (var limit = 1; limit <= 8; limit++)
        {
            await server.ExecuteAsync($"GRANT USAGE ON *.* TO '{MariaDbServer.AppUser}'@'%' WITH MAX_QUERIES_PER_HOUR {limit}; FLUSH USER_RESOURCES;");
            await using var db = server.CreateTenantDatabase(o =>
            {
                o.MaxConnections = 1;
                o.AcquireTimeout = TimeSpan.FromSeconds(1);
            });
            var failed = await Record.ExceptionAsync(() => db.ExecuteScalarTenantAsync<string>(Key(0), "SELECT tenant FROM marker"));
            await server.ExecuteAsync($"GRANT USAGE ON *.* TO '{MariaDbServer.AppUser}'@'%' WITH MAX_QUERIES_PER_HOUR 0; FLUSH USER_RESOURCES;");
            output.WriteLine($"query limit {limit}: {failed?.GetType().Name ?? "no error"}");

            var first = await db.ExecuteScalarTenantAsync<long>(Key(0), "SET ROLE tdg_isolation_role; SELECT CONNECTION_ID()");
            var seen = (await db.QueryTenantAsync<(string, long)>(Key(1), "SELECT COALESCE(CURRENT_ROLE(), 'none'), CONNECTION_ID()")).Single();
            Assert.Equal(first, seen.Item2);
            Assert.True(seen.Item1 == "none", $"With the reading stopped by a query limit of {limit}, the next tenant got the role {seen.Item1}.");
        }
    }

    [Theory]
    [Trait("Guarantee", "2")]
    [InlineData(true)]
    [InlineData(false)]
    public async Task The_row_count_of_a_plain_helper_query_never_reaches_the_next_tenants_FOUND_ROWS(bool resetSessionOnRelease)
    {
        // A helper whose SQL names nothing of what the server's reset keeps skips the batch that clears it; the count
        // FOUND_ROWS() reports after its SELECT (4242 rows of iso-a's query) must still not reach the next tenant.
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.MaxConnections = 1;
            o.ResetSessionOnRelease = resetSessionOnRelease;
        });
        const string Read = "SELECT FOUND_ROWS(), CONNECTION_ID()";

        foreach (var next in new[] { "lease", "helper", "data source" })
        {
            var first = await db.ExecuteScalarTenantAsync<long>(Key(0), "SELECT CONNECTION_ID()");
            Assert.Equal(4242, (await db.QueryTenantAsync<long>(Key(0), "SELECT seq FROM seq_1_to_4242")).Count());
            (long FoundRows, long ConnectionId) seen;
            switch (next)
            {
                case "lease":
                    await using (var lease = await db.GetConnectionAsync(Key(1)))
                    {
                        seen = await lease.Connection.QuerySingleAsync<(long, long)>(Read);
                    }

                    break;
                case "helper":
                    seen = (await db.QueryTenantAsync<(long, long)>(Key(1), Read)).Single();
                    break;
                default:
                    await using (var connection = await db.ForTenant(Key(1)).OpenConnectionAsync())
                    {
                        seen = await connection.QuerySingleAsync<(long, long)>(Read);
                    }

                    break;
            }

            output.WriteLine($"a plain helper then a {next}: {seen}");
            Assert.Equal(first, seen.ConnectionId);
            Assert.NotEqual(4242, seen.FoundRows);
        }
    }

    public static TheoryData<string, string, bool> XaStates() => new()
    {
        { "PREPARE", "lease", true }, { "PREPARE", "helper", true }, { "PREPARE", "data source", true },
        { "PREPARE", "lease", false }, { "PREPARE", "helper", false }, { "PREPARE", "data source", false },
        { "END", "lease", true }, { "END", "helper", false }, { "START", "data source", true }, { "START", "lease", false },
    };

    [Theory]
    [Trait("Guarantee", "2")]
    [MemberData(nameof(XaStates))]
    public async Task An_XA_transaction_left_by_one_tenant_never_reaches_the_next_and_never_breaks_its_lease(string leftAfter, string path, bool resetSessionOnRelease)
    {
        // MariaDB's reset detaches a prepared XA transaction from the session but leaves the session unable to use
        // InnoDB (every table read fails with error 1031, and a consistent snapshot crashes the server): such a session
        // must be closed, never reset and handed on.
        await RollBackXaAsync();
        await ClearItemsAsync(Server);
        var db = Server.CreateTenantDatabase(o =>
        {
            o.MaxConnections = 1;
            o.ResetSessionOnRelease = resetSessionOnRelease;
        });
        var sql = "XA START 'tdg-iso-xa'; INSERT INTO items (owner) VALUES ('xa of iso-a')";
        sql += leftAfter switch
        {
            "START" => "",
            "END" => "; XA END 'tdg-iso-xa'",
            _ => "; XA END 'tdg-iso-xa'; XA PREPARE 'tdg-iso-xa'",
        };

        try
        {
            switch (path)
            {
                case "lease":
                    await using (var lease = await db.GetConnectionAsync(Key(0)))
                    {
                        await lease.Connection.ExecuteAsync(sql);
                    }

                    break;
                case "helper":
                    await db.ExecuteTenantAsync(Key(0), sql);
                    break;
                default:
                    await using (var connection = await db.ForTenant(Key(0)).OpenConnectionAsync())
                    {
                        await connection.ExecuteAsync(sql);
                    }

                    break;
            }

            for (var round = 0; round < 2; round++)
            {
                await using (var lease = await db.GetConnectionAsync(Key(1)))
                {
                    Assert.Equal(Key(1), await ReadMarkerAsync(lease.Connection));
                    Assert.Equal(0, await lease.Connection.ExecuteScalarAsync<long>("SELECT @@in_transaction"));
                    await lease.Connection.ExecuteAsync("XA START 'tdg-iso-b'; INSERT INTO items (owner) VALUES ('xa of iso-b'); XA END 'tdg-iso-b'; XA COMMIT 'tdg-iso-b' ONE PHASE");
                    await lease.Connection.ExecuteAsync("INSERT INTO items (owner) VALUES ('committed by iso-b'); COMMIT");
                }

                Assert.Equal(Key(1), await db.ExecuteScalarTenantAsync<string>(Key(1), "SELECT tenant FROM marker"));
            }

            Assert.Empty(await ReadItemsAsync(Server, 0));
            Assert.Equal(["xa of iso-b", "committed by iso-b", "xa of iso-b", "committed by iso-b"], await ReadItemsAsync(Server, 1));
        }
        finally
        {
            // The prepared transaction outlives the session (as the server keeps any), holding its row locks until it ends.
            await db.DisposeAsync();
            await RollBackXaAsync();
        }
    }

    private async Task RollBackXaAsync()
    {
        await using var root = await Server.OpenConnectionAsync();
        if ((await root.QueryAsync("XA RECOVER")).Any())
        {
            await root.ExecuteAsync("XA ROLLBACK 'tdg-iso-xa'");
        }
    }

    [Fact]
    [Trait("Guarantee", "2")]
    public async Task Without_ResetSessionOnRelease_only_the_same_tenant_keeps_its_session()
    {
        var connectionString = new MySqlConnectionStringBuilder(Server.GetAppConnectionString(MariaDbFixture.MasterDatabase)) { AllowUserVariables = true }.ConnectionString;
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.MasterConnectionString = connectionString;
            o.MaxConnections = 1;
            o.ResetSessionOnRelease = false;
        });

        await using (var lease = await db.GetConnectionAsync(Key(0)))
        {
            await lease.Connection.ExecuteAsync("SET @kept = 'iso-a state'");
        }

        await using (var lease = await db.GetConnectionAsync(Key(0)))
        {
            Assert.Equal("iso-a state", await lease.Connection.ExecuteScalarAsync<string>("SELECT @kept"));
        }

        await using (var lease = await db.GetConnectionAsync(Key(1)))
        {
            Assert.Null(await lease.Connection.ExecuteScalarAsync<string>("SELECT @kept"));
            await lease.Connection.ExecuteAsync("SET @kept = 'iso-b state'");
        }

        await using (var lease = await db.GetConnectionAsync(Key(0)))
        {
            Assert.Null(await lease.Connection.ExecuteScalarAsync<string>("SELECT @kept"));
        }
    }

    [Fact]
    [Trait("Guarantee", "2")]
    public async Task Without_ResetSessionOnRelease_a_tenants_own_USE_of_another_database_neither_resets_its_session_nor_reaches_another_tenant()
    {
        // The driver is made to forget the database change, so it does not reset the session with COM_CHANGE_USER when the
        // next lease opens it: the tenant keeps its session as it left it, back on its own database.
        var connectionString = new MySqlConnectionStringBuilder(Server.GetAppConnectionString(MariaDbFixture.MasterDatabase)) { AllowUserVariables = true }.ConnectionString;
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.MasterConnectionString = connectionString;
            o.MaxConnections = 1;
            o.ResetSessionOnRelease = false;
        });

        long first;
        await using (var lease = await db.GetConnectionAsync(Key(0)))
        {
            first = await lease.Connection.ExecuteScalarAsync<long>($"SET @kept = 'iso-a state'; USE `{Database(2)}`; SELECT CONNECTION_ID()");
        }

        await using (var lease = await db.GetConnectionAsync(Key(0)))
        {
            var row = await lease.Connection.QuerySingleAsync<(string, string, long)>("SELECT DATABASE(), @kept, CONNECTION_ID()");
            Assert.Equal((Database(0), "iso-a state", first), row);
            Assert.Equal(Database(0), lease.Connection.Database);
            await lease.Connection.ChangeDatabaseAsync(Database(2));
        }

        await using (var lease = await db.GetConnectionAsync(Key(1)))
        {
            var row = await lease.Connection.QuerySingleAsync<(string, string?, long)>("SELECT DATABASE(), @kept, CONNECTION_ID()");
            Assert.Equal((Database(1), null, first), row);
        }
    }

    [Theory]
    [Trait("Guarantee", "2")]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_lease_enlisted_by_hand_in_a_TransactionScope_keeps_its_session_from_other_tenants_until_the_scope_ends(bool complete)
    {
        // Leases do not enlist on their own; code that enlists one by hand ties the session to the scope, and
        // MySqlConnector keeps it for the scope's commit or rollback after the lease is given back.
        await ClearItemsAsync(Server);
        var connectionString = new MySqlConnectionStringBuilder(Server.GetAppConnectionString(MariaDbFixture.MasterDatabase)) { AllowUserVariables = true }.ConnectionString;
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.MasterConnectionString = connectionString;
            o.MaxConnections = 3;
        });

        long enlisted;
        using (var scope = new TransactionScope(TransactionScopeAsyncFlowOption.Enabled))
        {
            await using (var lease = await db.GetConnectionAsync(Key(0)))
            {
                lease.Connection.EnlistTransaction(Transaction.Current);
                enlisted = await lease.Connection.ExecuteScalarAsync<long>("SELECT CONNECTION_ID()");
                await lease.Connection.ExecuteAsync("SET @secret = 'from iso-a'; INSERT INTO items (owner) VALUES ('in the scope of iso-a')");
            }

            // Longer than ResetTimeout: the session the scope holds is neither lent nor killed meanwhile.
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(2);
            while (DateTime.UtcNow < deadline)
            {
                await using var other = await db.GetConnectionAsync(Key(1));
                Assert.NotEqual(enlisted, await other.Connection.ExecuteScalarAsync<long>("SELECT CONNECTION_ID()"));
                Assert.Equal(0, await other.Connection.ExecuteScalarAsync<long>("SELECT @@in_transaction"));
                await Task.Delay(100);
            }

            await db.ExecuteTenantAsync(Key(1), "INSERT INTO items (owner) VALUES ('by iso-b, outside the scope')");
            if (complete)
            {
                scope.Complete();
            }
        }

        Assert.Equal(complete ? ["in the scope of iso-a"] : [], await ReadItemsAsync(Server, 0));
        Assert.Equal(["by iso-b, outside the scope"], await ReadItemsAsync(Server, 1));

        // Once the scope is over the session serves leases again, reset like any other.
        var seen = new HashSet<long>();
        for (var i = 0; i < 12; i++)
        {
            await using var lease = await db.GetConnectionAsync(Key(1 - (i % 2)));
            seen.Add(await lease.Connection.ExecuteScalarAsync<long>("SELECT CONNECTION_ID()"));
            Assert.Equal(Key(1 - (i % 2)), await ReadMarkerAsync(lease.Connection));
            Assert.Null(await lease.Connection.ExecuteScalarAsync<string>("SELECT @secret"));
            Assert.Equal(0, await lease.Connection.ExecuteScalarAsync<long>("SELECT @@in_transaction"));
        }

        output.WriteLine($"enlisted session {enlisted}; sessions after the scope: {string.Join(", ", seen)}");
    }

    // ---- 3. A connection object is dead after its lease ----

    [Fact]
    [Trait("Guarantee", "3")]
    public async Task A_kept_connection_is_dead_after_release_and_never_reaches_the_next_tenant()
    {
        await Server.WaitForAppConnectionsAsync();
        var connectionString = new MySqlConnectionStringBuilder(Server.GetAppConnectionString(MariaDbFixture.MasterDatabase)) { ConnectionTimeout = 2 }.ConnectionString;
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.MasterConnectionString = connectionString;
            o.MaxConnections = 1;
        });
        MySqlConnection kept;
        MySqlCommand keptCommand;
        await using (var lease = await db.GetConnectionAsync(Key(0)))
        {
            kept = lease.Connection;
            keptCommand = new MySqlCommand("SELECT tenant FROM marker", kept);
            Assert.Equal(Key(0), await keptCommand.ExecuteScalarAsync());
        }

        await using var next = await db.GetConnectionAsync(Key(1));
        var nextId = await next.Connection.ExecuteScalarAsync<long>("SELECT CONNECTION_ID()");

        await AssertDeadAsync(() => kept.ExecuteScalarAsync<string>("SELECT tenant FROM marker"));
        await AssertDeadAsync(() => keptCommand.ExecuteScalarAsync());
        await AssertDeadAsync(() => kept.ExecuteAsync($"USE {Database(2)}"));
        await AssertDeadAsync(() => kept.ChangeDatabaseAsync(Database(2)));
        await AssertDeadAsync(async () => await kept.BeginTransactionAsync());
        await AssertDeadAsync(() => kept.OpenAsync());

        // A copy made from it waits for the physical connection like any other opener, and never gets it: it is
        // refused when it gets hold of it, or gives up waiting while the next lease holds it.
        var cloneError = await Record.ExceptionAsync(async () =>
        {
            await using var clone = kept.Clone();
            await clone.OpenAsync();
            await clone.ExecuteScalarAsync<string>("SELECT tenant FROM marker");
        });
        Assert.True(
            cloneError is InvalidOperationException or ObjectDisposedException or MySqlException { ErrorCode: MySqlErrorCode.UnableToConnectToHost },
            $"The copy got {(cloneError is null ? "no error" : cloneError.GetType().Name + ": " + cloneError.Message)}.");

        Assert.Equal(Key(1), await ReadMarkerAsync(next.Connection));
        Assert.Equal(nextId, await next.Connection.ExecuteScalarAsync<long>("SELECT CONNECTION_ID()"));
        Assert.Equal(1, await Server.CountConnectionsAsync());
    }

    [Fact]
    [Trait("Guarantee", "3")]
    public async Task A_copy_of_a_kept_connection_is_refused_the_session_while_it_is_idle()
    {
        await using var db = Server.CreateTenantDatabase(o => o.MaxConnections = 1);
        MySqlConnection kept;
        long id;
        await using (var lease = await db.GetConnectionAsync(Key(0)))
        {
            kept = lease.Connection;
            id = await kept.ExecuteScalarAsync<long>("SELECT CONNECTION_ID()");
        }

        // The session is idle, waiting for the next lease: a copy of the dead connection object must not get it.
        await db.WaitUntilAllReturnedAsync();
        await db.WaitForSnapshotAsync(s => s is { Open: 1, InUse: 0 }, TimeSpan.FromSeconds(2));
        await using (var clone = kept.Clone())
        {
            await AssertDeadAsync(async () =>
            {
                await clone.OpenAsync();
                await clone.ExecuteAsync($"USE {Database(2)}");
            });
        }

        await using var next = await db.GetConnectionAsync(Key(1));
        Assert.Equal(id, await next.Connection.ExecuteScalarAsync<long>("SELECT CONNECTION_ID()"));
        Assert.Equal(Key(1), await ReadMarkerAsync(next.Connection));
    }

    [Fact]
    [Trait("Guarantee", "3")]
    public async Task A_copy_of_a_kept_connection_is_refused_the_session_the_next_lease_closes_for_a_moment()
    {
        await using var db = Server.CreateTenantDatabase(o => o.MaxConnections = 1);
        MySqlConnection kept;
        await using (var lease = await db.GetConnectionAsync(Key(0)))
        {
            kept = lease.Connection;
            Assert.Equal(Key(0), await ReadMarkerAsync(kept));
        }

        await using var next = await db.GetConnectionAsync(Key(1));
        var id = await next.Connection.ExecuteScalarAsync<long>("SELECT CONNECTION_ID()");
        await using var clone = kept.Clone();

        // The copy waits for the one session while the next lease holds it; the lease's code closes its connection (as
        // Dapper does between statements), which hands the session to the waiting copy for a moment: the copy must be
        // refused it, though a lease is out on it.
        var cloneOpen = clone.OpenAsync();
        await Task.Delay(200);
        Assert.False(cloneOpen.IsCompleted, "The copy got the session while the next lease held it.");
        await next.Connection.CloseAsync();
        var cloneError = await Record.ExceptionAsync(() => cloneOpen);
        Assert.True(
            cloneError is InvalidOperationException,
            $"The copy got {(cloneError is null ? "the session of the next lease" : cloneError.GetType().Name + ": " + cloneError.Message)}.");

        await next.Connection.OpenAsync();
        Assert.Equal(id, await next.Connection.ExecuteScalarAsync<long>("SELECT CONNECTION_ID()"));
        Assert.Equal(Key(1), await ReadMarkerAsync(next.Connection));
    }

    [Fact]
    [Trait("Guarantee", "3")]
    public async Task A_connection_kept_by_the_work_of_a_helper_is_dead_once_the_helper_returns()
    {
        await using var db = Server.CreateTenantDatabase(o => o.MaxConnections = 1);
        MySqlConnection? stored = null;

        var read = await db.WithTenantConnectionAsync(Key(0), async (connection, token) =>
        {
            stored = connection;
            return await ReadMarkerAsync(connection);
        });

        Assert.Equal(Key(0), read);
        await using var next = await db.GetConnectionAsync(Key(1));
        await AssertDeadAsync(() => stored!.ExecuteScalarAsync<string>("SELECT tenant FROM marker"));
        await AssertDeadAsync(() => stored!.ExecuteAsync($"USE {Database(2)}"));
        Assert.Equal(Key(1), await ReadMarkerAsync(next.Connection));
    }

    // ---- 4. Prepared commands ----

    [Theory]
    [Trait("Guarantee", "4")]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_prepared_command_works_on_a_reused_connection_and_runs_on_its_own_tenant(bool resetSessionOnRelease)
    {
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.MaxConnections = 1;
            o.ResetSessionOnRelease = resetSessionOnRelease;
        });

        foreach (var index in new[] { 0, 1, 0, 2, 2, 1 })
        {
            await using var lease = await db.GetConnectionAsync(Key(index));
            await using var command = new MySqlCommand("SELECT tenant FROM marker WHERE tenant <> @nobody", lease.Connection);
            command.Parameters.AddWithValue("@nobody", "nobody");
            await command.PrepareAsync();
            Assert.Equal(Key(index), await command.ExecuteScalarAsync());
            Assert.Equal(Key(index), await command.ExecuteScalarAsync());
        }
    }

    // ---- 5. A busy connection is never handed out or parked ----

    public static TheoryData<string> UnawaitedOperations() =>
    [
        "a long query",
        "a short query",
        "an update",
        "a reader left half read",
        "a database change",
        "a ping",
    ];

    [Theory]
    [Trait("Guarantee", "5")]
    [MemberData(nameof(UnawaitedOperations))]
    public async Task A_connection_released_while_an_operation_still_runs_never_serves_the_next_tenant(string operation)
    {
        await MySqlConnection.ClearAllPoolsAsync();
        var before = await Server.CountConnectionsAsync();
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.MaxConnections = 2;
            o.AcquireTimeout = TimeSpan.FromSeconds(10);
        });
        Task orphan;
        MySqlDataReader? halfRead = null;
        using var sampling = new CancellationTokenSource();
        var peak = 0;
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                peak = Math.Max(peak, await Server.CountConnectionsAsync());
                await Task.Delay(10);
            }
        });
        var stopwatch = Stopwatch.StartNew();
        await using (var lease = await db.GetConnectionAsync(Key(0)))
        {
            var connection = lease.Connection;
            switch (operation)
            {
                case "a long query":
                    orphan = connection.ExecuteScalarAsync<string>("SELECT CONCAT('stale from iso-a ', SLEEP(3))");
                    break;
                case "a short query":
                    orphan = connection.ExecuteScalarAsync<string>("SELECT CONCAT('stale from iso-a ', SLEEP(0.05))");
                    break;
                case "an update":
                    orphan = connection.ExecuteAsync("UPDATE items SET owner = owner");
                    break;
                case "a reader left half read":
                    halfRead = await new MySqlCommand("SELECT seq, 'stale from iso-a' FROM seq_1_to_50000", connection).ExecuteReaderAsync();
                    await halfRead.ReadAsync();
                    orphan = Task.CompletedTask;
                    break;
                case "a database change":
                    orphan = connection.ChangeDatabaseAsync(Database(3));
                    break;
                default:
                    orphan = connection.PingAsync();
                    break;
            }
        }

        // Several leases after it, some of them surely on the connection that was busy; each reads its own data only.
        for (var i = 0; i < 8; i++)
        {
            var index = 1 + (i % (Count - 1));
            await using var lease = await db.GetConnectionAsync(Key(index));
            Assert.Equal(Key(index), await ReadMarkerAsync(lease.Connection));
            for (var probe = 0; probe < 3; probe++)
            {
                var expected = $"probe {i}.{probe}";
                Assert.Equal(expected, await lease.Connection.ExecuteScalarAsync<string>("SELECT @probe", new { probe = expected }));
            }
        }

        output.WriteLine($"{operation}: eight leases after the release in {stopwatch.ElapsedMilliseconds} ms");
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(2), $"The leases after the release waited {stopwatch.ElapsedMilliseconds} ms for the busy connection.");

        // The statement left running is stopped on the server long before it would end, and the server never sees more
        // connections than the budget: the busy connection was not simply dropped while its statement ran on.
        await RuntimeTestExtensions.WaitUntilAsync(async () => await CountRunningAsync("stale from iso-a") == 0, TimeSpan.FromSeconds(2) - stopwatch.Elapsed, "the orphaned statement stops on the server");
        await db.WaitUntilAllReturnedAsync();
        await sampling.CancelAsync();
        await sampler;
        Assert.InRange(peak, 0, before + 2);
        Assert.InRange(db.GetBudgetSnapshot().Open, 0, 2);
        _ = await Record.ExceptionAsync(() => orphan);
        if (halfRead is not null)
        {
            _ = await Record.ExceptionAsync(() => halfRead.DisposeAsync().AsTask());
        }
    }

    [Theory]
    [Trait("Guarantee", "5")]
    [InlineData("connection helper")]
    [InlineData("transaction helper")]
    [InlineData("master connection helper")]
    [InlineData("lease")]
    [InlineData("data source")]
    public async Task A_statement_not_awaited_before_the_lease_ends_is_never_a_raw_driver_error_and_never_reaches_the_next_tenant(string path)
    {
        // The statement is on its way when the lease ends: its connection object was disposed under it, which gave the
        // session back to its pool while the statement still read from it, and the statement failed later with a raw
        // NullReferenceException from inside the driver. Now it ends on its own tenant's session, which is reset only
        // after it, and a helper's caller is told the work did not await it.
        await ClearItemsAsync(Server);
        await using var db = Server.CreateTenantDatabase(o => o.MaxConnections = 1);
        const string Orphan = "INSERT INTO items (owner) SELECT CONCAT('orphan of iso-a ', SLEEP(0.3))";
        Task? orphan = null;
        Exception? callerError = null;
        switch (path)
        {
            case "connection helper":
                callerError = await Record.ExceptionAsync(() => db.WithTenantConnectionAsync(
                    Key(0),
                    (connection, token) =>
                    {
                        orphan = connection.ExecuteAsync(Orphan);
                        return Task.CompletedTask;
                    }));
                break;
            case "transaction helper":
                callerError = await Record.ExceptionAsync(() => db.WithTenantTransactionAsync(
                    Key(0),
                    (connection, transaction, token) =>
                    {
                        orphan = connection.ExecuteAsync(Orphan, transaction: transaction);
                        return Task.CompletedTask;
                    }));
                break;
            case "master connection helper":
                callerError = await Record.ExceptionAsync(() => db.WithMasterConnectionAsync((connection, token) =>
                {
                    orphan = connection.ExecuteScalarAsync<long>("SELECT SLEEP(0.3)");
                    return Task.CompletedTask;
                }));
                break;
            case "lease":
                await using (var lease = await db.GetConnectionAsync(Key(0)))
                {
                    orphan = lease.Connection.ExecuteAsync(Orphan);
                }

                break;
            default:
                await using (var connection = await db.ForTenant(Key(0)).OpenConnectionAsync())
                {
                    orphan = connection.ExecuteAsync(Orphan);
                }

                break;
        }

        if (path.EndsWith("helper", StringComparison.Ordinal))
        {
            // The work's result is not to be trusted: its caller is told what happened and what to do.
            var error = Assert.IsType<InvalidOperationException>(callerError);
            output.WriteLine(error.Message);
            var named = path.StartsWith("master", StringComparison.Ordinal) ? "(master)" : Key(0);
            Assert.Contains(named, error.Message, StringComparison.Ordinal);
            Assert.Contains("did not await", error.Message, StringComparison.Ordinal);
        }
        else
        {
            Assert.Null(callerError);
        }

        for (var i = 0; i < 3; i++)
        {
            await using var lease = await db.GetConnectionAsync(Key(1));
            Assert.Equal(Key(1), await ReadMarkerAsync(lease.Connection));
        }

        var orphanError = await Record.ExceptionAsync(() => orphan!.WaitAsync(TimeSpan.FromSeconds(10)));
        var seen = orphanError is null ? "no error" : orphanError.GetType().Name + ": " + orphanError.Message;
        output.WriteLine($"{path}: the statement left running got {seen}");
        Assert.True(
            orphanError is null or System.Data.Common.DbException or ObjectDisposedException or InvalidOperationException,
            $"The statement left running got {seen}.");
        Assert.Empty(await ReadItemsAsync(Server, 1));
        if (path == "transaction helper")
        {
            Assert.Empty(await ReadItemsAsync(Server, 0));
        }
        await db.WaitUntilAllReturnedAsync();
        await using var after = await db.GetConnectionAsync(Key(1));
        Assert.Equal(Key(1), await ReadMarkerAsync(after.Connection));
    }

    public static TheoryData<int, string> EveryConnectionGivenBackBusy() => new()
    {
        { 1, "a reader left unread" },
        { 2, "a reader left unread" },
        { 1, "a short query not awaited" },
        { 2, "a short query not awaited" },
    };

    [Theory]
    [Trait("Guarantee", "5")]
    [MemberData(nameof(EveryConnectionGivenBackBusy))]
    public async Task Every_connection_of_the_budget_given_back_busy_at_once_does_not_stall_the_next_lease(int budget, string operation)
    {
        await MySqlConnection.ClearAllPoolsAsync();
        var before = await Server.CountConnectionsAsync();
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.MaxConnections = budget;
            o.AcquireTimeout = TimeSpan.FromSeconds(20);
        });
        // Every session the server lists beyond the budget is kept with what it was doing, for the failure.
        await using var sampler = SessionSampler.Start(Server, before + budget);
        await using var holder = await Server.OpenConnectionAsync(Database(0));
        await holder.ExecuteAsync("DO GET_LOCK('busy-budget', 0)");

        // Every connection of the budget is given back with something still running on it that takes 8 s, so no
        // connection is free to send a kill over, and no room is left for a new one.
        var leases = new List<TenantConnectionLease>();
        for (var i = 0; i < budget; i++)
        {
            leases.Add(await db.GetConnectionAsync(Key(i)));
        }

        var orphans = new List<Task<string?>>();
        var readers = new List<MySqlDataReader>();
        foreach (var lease in leases)
        {
            switch (operation)
            {
                case "a long query":
                    orphans.Add(lease.Connection.ExecuteScalarAsync<string>("SELECT CONCAT('stale busy ', SLEEP(8))"));
                    break;
                case "a short query not awaited":
                    orphans.Add(lease.Connection.ExecuteScalarAsync<string>("SELECT CONCAT('stale busy ', SLEEP(0.3))"));
                    break;
                case "a lock wait":
                    orphans.Add(lease.Connection.ExecuteScalarAsync<string>("SELECT CONCAT('stale busy ', GET_LOCK('busy-budget', 8))"));
                    break;
                default:
                    var reader = await new MySqlCommand("SELECT seq, 'stale busy', REPEAT('x', 1000) FROM seq_1_to_2000000", lease.Connection).ExecuteReaderAsync();
                    await reader.ReadAsync();
                    readers.Add(reader);
                    break;
            }
        }

        if (operation != "a short query not awaited")
        {
            await Task.Delay(100);
        }

        var stopwatch = Stopwatch.StartNew();
        await Task.WhenAll(leases.Select(lease => lease.DisposeAsync().AsTask()));
        await using (var next = await db.GetConnectionAsync(Key(Count - 1)))
        {
            Assert.Equal(Key(Count - 1), await ReadMarkerAsync(next.Connection));
        }

        output.WriteLine($"budget {budget}, {operation}: the next lease in {stopwatch.ElapsedMilliseconds} ms");
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5), $"The next lease waited {stopwatch.ElapsedMilliseconds} ms for the busy connections.");

        // The leases after it read their own answers only, and what the code left running never reads theirs.
        for (var i = 0; i < 6; i++)
        {
            var index = 1 + (i % (Count - 1));
            await using var lease = await db.GetConnectionAsync(Key(index));
            Assert.Equal(Key(index), await ReadMarkerAsync(lease.Connection));
            Assert.Equal($"probe {i}", await lease.Connection.ExecuteScalarAsync<string>("SELECT @probe", new { probe = $"probe {i}" }));
        }

        await db.WaitUntilAllReturnedAsync();
        await sampler.StopAndAssertWithinLimitAsync($"{before} before the test, a budget of {budget}");
        foreach (var orphan in orphans)
        {
            var answer = await Record.ExceptionAsync(() => orphan) is null ? await orphan : null;
            Assert.True(answer is null or "stale busy 0", $"A statement left running read an answer that was not its own: {answer}");
        }

        foreach (var reader in readers)
        {
            _ = await Record.ExceptionAsync(() => reader.DisposeAsync().AsTask());
        }
    }

    [Fact]
    [Trait("Guarantee", "5")]
    public async Task A_session_ended_from_this_side_stays_counted_while_the_server_rolls_back_its_transaction()
    {
        // The server closes a session's socket as soon as it reads the end of the stream, and only then rolls back the
        // transaction the session left open, counting the session all that time. A connection opened meanwhile would
        // be one beyond the budget: the session is watched until it is gone, over the next connection given back.
        await MySqlConnection.ClearAllPoolsAsync();
        var before = await Server.CountConnectionsAsync();
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.MaxConnections = 2;
            o.ResetSessionOnRelease = false;
            o.ResetTimeout = TimeSpan.FromSeconds(3);
            o.AcquireTimeout = TimeSpan.FromSeconds(30);
        });
        await using var sampler = SessionSampler.Start(Server, before + 2);

        await using var busy = await db.GetConnectionAsync(Key(0));
        await using var held = await db.GetConnectionAsync(Key(1));
        var session = await busy.Connection.ExecuteScalarAsync<long>("SELECT CONNECTION_ID()");
        await busy.Connection.ExecuteAsync("CREATE TABLE IF NOT EXISTS rolled_back (id INT PRIMARY KEY, pad CHAR(200)) ENGINE=InnoDB; TRUNCATE TABLE rolled_back");
        await busy.Connection.ExecuteAsync("BEGIN; INSERT INTO rolled_back SELECT seq, REPEAT('x', 200) FROM seq_1_to_400000", commandTimeout: 120);

        // Given back with a statement still running: after the reset timeout the runtime ends the session from its
        // side, and the server ends it once the statement is over, then undoes the 400,000 rows.
        var orphan = busy.Connection.ExecuteAsync("DO SLEEP(4)");
        await busy.DisposeAsync();
        var next = db.GetConnectionAsync(Key(2)).AsTask();
        await RuntimeTestExtensions.WaitUntilAsync(
            async () => (await Server.ListSessionsAsync()).Any(line => line.StartsWith($"{session} Killed", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(15),
            "the server ends the session given back busy");

        // Long after the runtime's own pause for a closed session: the budget's other connection comes back only now.
        await Task.Delay(400);
        Assert.False(next.IsCompleted, "The next lease had a connection while the server still rolled back the session given back busy.");
        await held.DisposeAsync();
        await using (var lease = await next)
        {
            Assert.Equal(Key(2), await ReadMarkerAsync(lease.Connection));
        }

        await db.WaitUntilAllReturnedAsync();
        await sampler.StopAndAssertWithinLimitAsync($"{before} before the test, a budget of 2");
        _ = await Record.ExceptionAsync(() => orphan);
        await using var check = await Server.OpenConnectionAsync(Database(0));
        Assert.Equal(0, await check.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM rolled_back"));
    }

    [Fact]
    [Trait("Guarantee", "5")]
    public async Task A_busy_connection_is_killed_soon_even_while_leases_keep_every_other_connection_of_the_budget_busy()
    {
        await MySqlConnection.ClearAllPoolsAsync();
        var before = await Server.CountConnectionsAsync();
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.MaxConnections = 2;
            o.AcquireTimeout = TimeSpan.FromSeconds(20);
        });
        Task<string?> orphan;
        await using (var lease = await db.GetConnectionAsync(Key(0)))
        {
            orphan = lease.Connection.ExecuteScalarAsync<string>("SELECT CONCAT('stale under load ', SLEEP(8))");
            await Task.Delay(100);
        }

        // Four callers take the budget's other connection in turn, without a pause: it is never idle for long.
        var stopwatch = Stopwatch.StartNew();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(4));
        var callers = Enumerable.Range(0, 4).Select(c => Task.Run(async () =>
        {
            var leases = 0;
            while (!stop.IsCancellationRequested)
            {
                var index = 1 + ((c + leases) % (Count - 1));
                await using var lease = await db.GetConnectionAsync(Key(index));
                Assert.Equal(Key(index), await ReadMarkerAsync(lease.Connection));
                leases++;
            }

            return leases;
        })).ToList();

        await RuntimeTestExtensions.WaitUntilAsync(async () => await CountRunningAsync("stale under load") == 0, TimeSpan.FromSeconds(3), "the busy connection's statement is killed while the other connection serves");
        output.WriteLine($"killed after {stopwatch.ElapsedMilliseconds} ms");
        var served = await Task.WhenAll(callers);
        output.WriteLine($"leases served meanwhile: {served.Sum()}");
        Assert.All(served, count => Assert.True(count > 0));
        await db.WaitUntilAllReturnedAsync();
        Assert.InRange(await Server.CountConnectionsAsync(), 0, before + 2);
        _ = await Record.ExceptionAsync(() => orphan);
    }

    private async Task<long> CountRunningAsync(string marker)
    {
        await using var root = await Server.OpenConnectionAsync();
        return await root.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = @user AND INFO LIKE @pattern",
            new { user = MariaDbServer.AppUser, pattern = "%" + marker + "%" });
    }

    private static async Task AssertDeadAsync(Func<Task> use)
    {
        var error = await Record.ExceptionAsync(use);
        Assert.True(
            error is ObjectDisposedException or InvalidOperationException,
            $"Expected ObjectDisposedException or InvalidOperationException, got {(error is null ? "no exception" : error.GetType().Name + ": " + error.Message)}.");
    }
}
