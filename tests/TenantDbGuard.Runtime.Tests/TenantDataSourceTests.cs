using System.Data;
using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using Dapper;
using MySqlConnector;
using TenantDbGuard.Runtime.Tests.Infrastructure;
using Xunit.Abstractions;
using static TenantDbGuard.Runtime.Tests.Infrastructure.MarkedTenants;

namespace TenantDbGuard.Runtime.Tests;

/// <summary>
/// <see cref="TenantDatabase.ForTenant"/> and <see cref="TenantDatabase.ForMaster"/>: a <see cref="DbDataSource"/> whose
/// connections take a lease when opened and give it back when closed, under the same budget and isolation.
/// </summary>
[Collection(MariaDbCollection.Name)]
public sealed class TenantDataSourceTests(MariaDbFixture fixture, ITestOutputHelper output) : IAsyncLifetime
{
    private MariaDbServer Server => fixture.Server;

    public Task InitializeAsync() => CreateAsync(Server);

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Queries_through_the_data_source_run_on_the_tenants_database()
    {
        await using var db = Server.CreateTenantDatabase(o => o.MaxConnections = 2);

        for (var index = 0; index < Count; index++)
        {
            await using var connection = await db.ForTenant(Key(index)).OpenConnectionAsync();
            Assert.Equal(Key(index), await connection.ExecuteScalarAsync<string>("SELECT tenant FROM marker"));
            Assert.Equal(Database(index), connection.Database);
            Assert.Equal(Key(index), connection.TenantKey);
        }

        await using (var master = await db.ForMaster().OpenConnectionAsync())
        {
            Assert.Equal(MariaDbFixture.MasterDatabase, await master.ExecuteScalarAsync<string>("SELECT DATABASE()"));
            Assert.Equal(TenantDatabase.MasterKey, master.TenantKey);
        }

        // Through the base type, as a library that takes a DbDataSource sees it.
        DbDataSource source = db.ForTenant(Key(1));
        await using (var connection = await source.OpenConnectionAsync())
        {
            Assert.Equal(Key(1), await connection.ExecuteScalarAsync<string>("SELECT tenant FROM marker"));
        }

        using (var connection = source.OpenConnection())
        {
            Assert.Equal(Key(1), connection.ExecuteScalar<string>("SELECT tenant FROM marker"));
        }

        await db.WaitUntilAllReturnedAsync();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_tenant_connection_shows_and_runs_with_the_masters_AllowUserVariables(bool allowUserVariables)
    {
        // EF Core's MySQL provider reads AllowUserVariables from the connection's settings and needs the session to run
        // with it: what the connection shows must be what its lease runs with.
        var master = new MySqlConnectionStringBuilder(Server.GetAppConnectionString(MariaDbFixture.MasterDatabase)) { AllowUserVariables = allowUserVariables };
        await using var db = new TenantDatabase(new TenantDbGuardOptions { MasterConnectionString = master.ConnectionString, MaxConnections = 1 });

        await using var connection = db.ForTenant(Key(0)).CreateConnection();
        Assert.Equal(allowUserVariables, new MySqlConnectionStringBuilder(connection.ConnectionString).AllowUserVariables);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SET @answer := 41; SELECT @answer + 1";
        if (allowUserVariables)
        {
            Assert.Equal(42L, Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture));
        }
        else
        {
            var error = await Assert.ThrowsAnyAsync<Exception>(() => command.ExecuteScalarAsync());
            Assert.Contains("@answer", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_created_connection_takes_no_lease_until_it_is_opened_and_gives_it_back_when_closed()
    {
        await using var db = Server.CreateTenantDatabase(o => o.MaxConnections = 2);
        var source = db.ForTenant(Key(0));

        await using var connection = source.CreateConnection();
        Assert.Equal(ConnectionState.Closed, connection.State);
        Assert.Equal(0, db.GetBudgetSnapshot().InUse);

        await connection.OpenAsync();
        Assert.Equal(ConnectionState.Open, connection.State);
        Assert.Equal((1, 1), (db.GetBudgetSnapshot().InUse, db.GetBudgetSnapshot().TenantsInUse));

        await connection.CloseAsync();
        Assert.Equal(ConnectionState.Closed, connection.State);
        await db.WaitUntilAllReturnedAsync();

        // Closing again, or disposing a closed connection, gives nothing back twice.
        connection.Close();
        await connection.DisposeAsync();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => connection.OpenAsync());
        await db.WaitUntilAllReturnedAsync();
    }

    [Theory]
    [InlineData("Dispose")]
    [InlineData("DisposeAsync")]
    public async Task A_connection_disposed_while_its_open_waits_for_room_gives_the_lease_back_and_the_open_fails(string how)
    {
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.MaxConnections = 1;
            o.AcquireTimeout = TimeSpan.FromSeconds(10);
        });
        var connection = db.ForTenant(Key(1)).CreateConnection();
        var states = new List<ConnectionState>();
        connection.StateChange += (_, e) => states.Add(e.CurrentState);
        Task opening;
        await using (await db.GetConnectionAsync(Key(0)))
        {
            opening = connection.OpenAsync();
            await db.WaitForSnapshotAsync(s => s.Waiting == 1, TimeSpan.FromSeconds(5));
            if (how == "Dispose")
            {
                connection.Dispose();
            }
            else
            {
                await connection.DisposeAsync();
            }
        }

        await Assert.ThrowsAsync<ObjectDisposedException>(() => opening);
        Assert.Equal(ConnectionState.Closed, connection.State);
        Assert.Empty(states);
        await db.WaitUntilAllReturnedAsync();
    }

    [Fact]
    public async Task Closing_and_opening_the_same_connection_takes_a_new_lease_for_the_same_tenant()
    {
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.MaxConnections = 1;
            o.AcquireTimeout = TimeSpan.FromSeconds(2);
        });
        await using var connection = db.ForTenant(Key(0)).CreateConnection();
        var events = new List<ConnectionState>();
        connection.StateChange += (_, e) => events.Add(e.CurrentState);

        for (var round = 0; round < 3; round++)
        {
            await connection.OpenAsync();
            Assert.Equal(Key(0), await connection.ExecuteScalarAsync<string>("SELECT tenant FROM marker"));
            await connection.ExecuteAsync("SET SESSION time_zone = '+05:00'; CREATE TEMPORARY TABLE marker (tenant VARCHAR(64)); INSERT INTO marker VALUES ('forged')");
            connection.Close();

            // With a budget of one, another tenant gets the one connection in between: the close gave the lease back.
            Assert.Equal(Key(1), await db.ExecuteScalarTenantAsync<string>(Key(1), "SELECT tenant FROM marker"));
            Assert.Equal("SYSTEM", await db.ExecuteScalarTenantAsync<string>(Key(1), "SELECT @@session.time_zone"));
        }

        Assert.Equal([ConnectionState.Open, ConnectionState.Closed, ConnectionState.Open, ConnectionState.Closed, ConnectionState.Open, ConnectionState.Closed], events);
        await db.WaitUntilAllReturnedAsync();
    }

    [Fact]
    public async Task A_budget_of_one_is_shared_between_data_source_connections_and_helpers()
    {
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.MaxConnections = 1;
            o.AcquireTimeout = TimeSpan.FromMilliseconds(300);
        });
        Assert.Equal(Key(2), await db.ExecuteScalarTenantAsync<string>(Key(2), "SELECT tenant FROM marker"));

        await using (var connection = await db.ForTenant(Key(0)).OpenConnectionAsync())
        {
            await Assert.ThrowsAsync<ConnectionBudgetExhaustedException>(() => db.ExecuteScalarTenantAsync<string>(Key(1), "SELECT tenant FROM marker"));
            await Assert.ThrowsAsync<ConnectionBudgetExhaustedException>(async () => await db.ForTenant(Key(1)).OpenConnectionAsync());
            Assert.Equal(1, db.GetBudgetSnapshot().Open);
        }

        Assert.Equal(Key(1), await db.ExecuteScalarTenantAsync<string>(Key(1), "SELECT tenant FROM marker"));
        await db.WaitUntilAllReturnedAsync();
    }

    [Fact]
    [Trait("Guarantee", "3")]
    public async Task Commands_readers_and_transactions_kept_after_the_connection_is_closed_throw_without_reaching_the_session()
    {
        await ClearItemsAsync(Server);
        await using var db = Server.CreateTenantDatabase(o => o.MaxConnections = 1);
        var connection = await db.ForTenant(Key(0)).OpenConnectionAsync();
        var command = connection.CreateCommand();
        command.CommandText = "INSERT INTO items (owner) VALUES ('kept-command')";
        var transaction = await connection.BeginTransactionAsync();
        var reader = await CreateReaderAsync(connection, transaction, "SELECT tenant FROM marker");
        await connection.DisposeAsync();

        // The one physical connection now serves another tenant.
        await using var other = await db.ForTenant(Key(1)).OpenConnectionAsync();
        Assert.Equal(Key(1), await other.ExecuteScalarAsync<string>("SELECT tenant FROM marker"));

        await Assert.ThrowsAsync<InvalidOperationException>(() => command.ExecuteNonQueryAsync());
        Assert.Throws<InvalidOperationException>(() => command.ExecuteNonQuery());
        Assert.ThrowsAny<Exception>(() => reader.Read());
        Assert.ThrowsAny<Exception>(() => transaction.Commit());
        Assert.Throws<ObjectDisposedException>(() => connection.Open());
        command.Connection = other;
        Assert.ThrowsAny<Exception>(() => { command.Transaction = transaction; command.ExecuteNonQuery(); });
        Assert.Empty(await ReadItemsAsync(Server, 1));
        Assert.Empty(await ReadItemsAsync(Server, 0));
    }

    [Fact]
    [Trait("Guarantee", "3")]
    public async Task A_command_or_batch_refuses_a_connection_or_transaction_from_outside_the_runtime_and_keeps_its_own()
    {
        // A plain MySqlConnection would run the tenant's command outside the budget and the lease (and on whatever
        // database it has): the command says so and keeps the connection and transaction it had.
        await using var db = Server.CreateTenantDatabase(o => o.MaxConnections = 2);
        await using var connection = await db.ForTenant(Key(0)).OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using var plain = new MySqlConnection(Server.GetAppConnectionString(MariaDbFixture.MasterDatabase));
        await plain.OpenAsync();
        await using var plainTransaction = await plain.BeginTransactionAsync();

        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        var error = Assert.Throws<ArgumentException>(() => command.Connection = plain);
        Assert.Contains("TenantDbConnection", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => command.Transaction = plainTransaction);
        Assert.Same(connection, command.Connection);
        Assert.Same(transaction, command.Transaction);

        await using var batch = connection.CreateBatch();
        batch.Transaction = transaction;
        Assert.Throws<ArgumentException>(() => batch.Connection = plain);
        Assert.Throws<ArgumentException>(() => batch.Transaction = plainTransaction);
        Assert.Same(connection, batch.Connection);
        Assert.Same(transaction, batch.Transaction);

        command.CommandText = "SELECT tenant FROM marker";
        Assert.Equal(Key(0), await command.ExecuteScalarAsync());
        command.Connection = null;
        command.Transaction = null;
        Assert.Null(command.Connection);
        Assert.Null(command.Transaction);
    }

    [Fact]
    public async Task A_batch_runs_on_its_tenant_s_lease_through_each_call_that_comes_first_on_a_new_lease()
    {
        await ClearItemsAsync(Server);
        await using var db = Server.CreateTenantDatabase(o => o.MaxConnections = 2);
        using var connection = db.ForTenant(Key(3)).CreateConnection();
        connection.Open();
        using var batch = connection.CreateBatch();
        var select = batch.CreateBatchCommand();
        select.CommandText = "SELECT tenant FROM marker";
        batch.BatchCommands.Add(select);

        // Each call comes first on a new lease (the connection closed and opened again): it must take that lease's session.
        batch.Prepare();
        Assert.Equal(Key(3), batch.ExecuteScalar());
        Reopen();
        Assert.Equal(Key(3), batch.ExecuteScalar());
        Reopen();
        using (var reader = batch.ExecuteReader())
        {
            Assert.True(reader.Read());
            Assert.Equal(Key(3), reader.GetString(0));
        }

        Reopen();
        await using (var reader = await batch.ExecuteReaderAsync())
        {
            Assert.True(await reader.ReadAsync());
            Assert.Equal(Key(3), reader.GetString(0));
        }

        Reopen();
        select.CommandText = "INSERT INTO items (owner) VALUES ('sync batch')";
        Assert.Equal(1, batch.ExecuteNonQuery());
        Reopen();
        batch.Prepare();
        Assert.Equal(1, batch.ExecuteNonQuery());
        Reopen();
        await batch.PrepareAsync();
        Assert.Equal(1, batch.ExecuteNonQuery());
        connection.Close();
        Assert.Equal(["sync batch", "sync batch", "sync batch"], await ReadItemsAsync(Server, 3));

        void Reopen()
        {
            connection.Close();
            connection.Open();
        }
    }

    [Fact]
    public async Task A_command_kept_across_close_and_open_runs_on_the_new_lease_of_the_same_tenant()
    {
        await ClearItemsAsync(Server);
        await using var db = Server.CreateTenantDatabase(o => o.MaxConnections = 1);
        await using var connection = db.ForTenant(Key(2)).CreateConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "INSERT INTO items (owner) VALUES (@owner)";
        var owner = command.CreateParameter();
        owner.ParameterName = "@owner";
        owner.Value = "kept";
        command.Parameters.Add(owner);

        for (var round = 0; round < 2; round++)
        {
            await connection.OpenAsync();
            Assert.Equal(1, await command.ExecuteNonQueryAsync());
            await connection.CloseAsync();
            Assert.Equal(Key(3), await db.ExecuteScalarTenantAsync<string>(Key(3), "SELECT tenant FROM marker"));
        }

        Assert.Equal(["kept", "kept"], await ReadItemsAsync(Server, 2));
    }

    [Fact]
    public async Task Commands_batches_transactions_and_a_reader_that_closes_its_connection_work()
    {
        await ClearItemsAsync(Server);
        await using var db = Server.CreateTenantDatabase(o => o.MaxConnections = 2);
        var source = db.ForTenant(Key(1));

        await using (var connection = await source.OpenConnectionAsync())
        {
            var batch = connection.CreateBatch();
            await using (batch.ConfigureAwait(false))
            {
                var insert = batch.CreateBatchCommand();
                insert.CommandText = "INSERT INTO items (owner) VALUES ('batch')";
                batch.BatchCommands.Add(insert);
                var count = batch.CreateBatchCommand();
                count.CommandText = "SELECT COUNT(*) FROM items";
                batch.BatchCommands.Add(count);
                Assert.Equal(1L, Convert.ToInt64(await batch.ExecuteScalarAsync(), CultureInfo.InvariantCulture));
            }

            await using (var transaction = await connection.BeginTransactionAsync())
            {
                Assert.Same(connection, transaction.Connection);
                await connection.ExecuteAsync("INSERT INTO items (owner) VALUES ('rolled-back')", transaction: transaction);
                await transaction.RollbackAsync();
            }

            await using (var transaction = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted))
            {
                await connection.ExecuteAsync("INSERT INTO items (owner) VALUES ('committed')", transaction: transaction);
                await transaction.CommitAsync();
            }

            Assert.Throws<NotSupportedException>(() => connection.ChangeDatabase(Database(0)));
            Assert.Throws<NotSupportedException>(() => connection.ConnectionString = Server.GetAppConnectionString(Database(0)));
        }

        // The data source's own commands open a connection per execution and give it back (the reader's with it).
        await using (var command = source.CreateCommand("SELECT owner FROM items ORDER BY id"))
        {
            var owners = new List<string>();
            await using (var reader = await command.ExecuteReaderAsync())
            {
                Assert.Equal(1, db.GetBudgetSnapshot().InUse);
                while (await reader.ReadAsync())
                {
                    owners.Add(reader.GetString(0));
                }
            }

            Assert.Equal(["batch", "committed"], owners);
        }

        await db.WaitUntilAllReturnedAsync();
        var plain = await source.OpenConnectionAsync();
        await using (var command = plain.CreateCommand())
        {
            command.CommandText = "SELECT tenant FROM marker";
            var reader = await command.ExecuteReaderAsync(CommandBehavior.CloseConnection);
            Assert.True(await reader.ReadAsync());
            Assert.Equal(Key(1), reader.GetString(0));
            await reader.DisposeAsync();
        }

        Assert.Equal(ConnectionState.Closed, plain.State);
        await db.WaitUntilAllReturnedAsync();
    }

    [Fact]
    public async Task A_reader_that_closes_its_connection_closes_only_the_opening_it_was_read_on()
    {
        await using var db = Server.CreateTenantDatabase(o => o.MaxConnections = 2);
        await using var connection = await db.ForTenant(Key(0)).OpenConnectionAsync();
        var command = connection.CreateCommand();
        command.CommandText = "SELECT tenant FROM marker";
        var reader = await command.ExecuteReaderAsync(CommandBehavior.CloseConnection);
        Assert.True(await reader.ReadAsync());

        await connection.CloseAsync();
        await connection.OpenAsync();
        await reader.DisposeAsync();

        // The reader belonged to the first opening: the second one is still open and holds its lease.
        Assert.Equal(ConnectionState.Open, connection.State);
        Assert.Equal(Key(0), await connection.ExecuteScalarAsync<string>("SELECT tenant FROM marker"));
        Assert.Equal(1, db.GetBudgetSnapshot().InUse);
    }

    [Fact]
    public async Task Fifty_concurrent_opens_across_tenants_share_a_small_budget_and_all_come_back()
    {
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.MaxConnections = 3;
            o.AcquireTimeout = TimeSpan.FromSeconds(30);
        });
        await using var admin = await Server.OpenConnectionAsync();
        var refusedBefore = await Server.GetStatusAsync("Connection_errors_max_connections");
        var mismatches = 0;
        var mostOpen = 0;

        await Task.WhenAll(Enumerable.Range(0, 50).Select(i => Task.Run(async () =>
        {
            var index = i % Count;
            await using var connection = await db.ForTenant(Key(index)).OpenConnectionAsync();
            var open = db.GetBudgetSnapshot().Open;
            InterlockedMax(ref mostOpen, open);
            if (await connection.ExecuteScalarAsync<string>("SELECT tenant FROM marker") != Key(index))
            {
                Interlocked.Increment(ref mismatches);
            }

            await connection.ExecuteAsync("DO SLEEP(0.01)");
        })));

        Assert.Equal(0, mismatches);
        Assert.InRange(mostOpen, 1, 3);
        Assert.Equal(refusedBefore, await Server.GetStatusAsync("Connection_errors_max_connections"));
        var snapshot = await db.WaitUntilAllReturnedAsync();
        Assert.InRange(snapshot.Open, 0, 3);
        Assert.InRange(await Server.CountConnectionsAsync(), 0, 3);
    }

    [Theory]
    [Trait("Guarantee", "2")]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Session_state_left_through_a_data_source_connection_never_reaches_another_tenant(bool resetSessionOnRelease)
    {
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.MaxConnections = 1;
            o.ResetSessionOnRelease = resetSessionOnRelease;
        });

        foreach (var index in new[] { 0, 1, 0, 2, 3, 1, 3 })
        {
            await using var connection = await db.ForTenant(Key(index)).OpenConnectionAsync();
            Assert.Equal(Key(index), await connection.ExecuteScalarAsync<string>("SELECT tenant FROM marker"));
            var left = await connection.ExecuteScalarAsync<string>("SELECT @@session.time_zone");
            Assert.True(left == "SYSTEM" || left == TimeZoneOf(index), $"{Key(index)} saw the time zone {left}");

            await connection.ExecuteAsync(
                $"SET SESSION time_zone = '{TimeZoneOf(index)}'; CREATE TEMPORARY TABLE marker (tenant VARCHAR(64)); INSERT INTO marker VALUES ('forged'); " +
                $"SET SESSION session_track_schema = OFF; USE {Database((index + 1) % Count)}");
        }

        await db.WaitUntilAllReturnedAsync();
    }

    [Fact]
    [Trait("Guarantee", "6")]
    public async Task A_connection_dropped_while_open_comes_back_when_it_becomes_unreachable()
    {
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.MaxConnections = 1;
            o.AcquireTimeout = TimeSpan.FromMilliseconds(300);
        });

        // The connection is held (a garbage collection cannot take it) while the budget is checked, then dropped open.
        var held = new System.Runtime.CompilerServices.StrongBox<object?>(await OpenAndUseConnectionAsync(db));
        var error = await Record.ExceptionAsync(async () =>
        {
            // Given back if the budget lets it through, so that a failure here does not leave a session behind.
            await using var unexpected = await db.ForTenant(Key(1)).OpenConnectionAsync();
        });
        Assert.IsType<ConnectionBudgetExhaustedException>(error);
        held.Value = null;

        for (var i = 0; i < 3; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        await db.WaitForSnapshotAsync(s => s is { InUse: 0, TenantsInUse: 0 }, TimeSpan.FromSeconds(5));
        await using var connection = await db.ForTenant(Key(1)).OpenConnectionAsync();
        Assert.Equal(Key(1), await connection.ExecuteScalarAsync<string>("SELECT tenant FROM marker"));
    }

    [Fact]
    [Trait("Guarantee", "10")]
    public async Task Cancelling_a_data_source_connections_statements_stays_within_the_budget()
    {
        const int Budget = 2;
        await using var server = await MariaDbServer.StartAsync(maxConnections: 20);
        await CreateAsync(server);
        await using var db = server.CreateTenantDatabase(o =>
        {
            o.MaxConnections = Budget;
            o.AcquireTimeout = TimeSpan.FromSeconds(30);
        });
        Assert.Equal(Key(0), await db.ExecuteScalarTenantAsync<string>(Key(0), "SELECT tenant FROM marker"));
        await using var admin = await server.OpenConnectionAsync();
        await admin.ExecuteAsync("FLUSH STATUS");
        var slowest = TimeSpan.Zero;

        for (var i = 0; i < 6; i++)
        {
            await using var connection = await db.ForTenant(Key(i % Count)).OpenConnectionAsync();
            using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(50 + (20 * i)));
            var stopwatch = Stopwatch.StartNew();
            var error = await Record.ExceptionAsync(() => (i % 3) switch
            {
                0 => connection.ExecuteScalarAsync<long>(new CommandDefinition("SELECT SLEEP(3)", cancellationToken: cancellation.Token)),
                1 => connection.QueryAsync<long>(new CommandDefinition("SELECT SLEEP(3)", cancellationToken: cancellation.Token)),
                _ => ReadSlowlyAsync(connection, cancellation.Token),
            });
            Assert.IsAssignableFrom<OperationCanceledException>(error);
            slowest = stopwatch.Elapsed > slowest ? stopwatch.Elapsed : slowest;

            // The statement was stopped, not the connection.
            Assert.Equal(Key(i % Count), await connection.ExecuteScalarAsync<string>("SELECT tenant FROM marker"));
        }

        var maxUsed = long.Parse((await admin.QuerySingleAsync<(string, string)>("SHOW GLOBAL STATUS LIKE 'Max_used_connections'")).Item2, CultureInfo.InvariantCulture);
        output.WriteLine($"slowest cancellation {slowest.TotalMilliseconds:0} ms; Max_used_connections {maxUsed} (budget {Budget} + this admin connection)");
        Assert.InRange(maxUsed, 1, Budget + 1);
        Assert.True(slowest < TimeSpan.FromSeconds(2), $"a cancellation took {slowest}");
        await db.WaitUntilAllReturnedAsync();
    }

    [Fact]
    public async Task The_data_source_is_cached_per_key_cheap_and_its_Dispose_leaves_the_runtime_alone()
    {
        await using var db = Server.CreateTenantDatabase(o => o.MaxConnections = 2);
        var source = db.ForTenant(Key(0));
        Assert.Same(source, db.ForTenant(Key(0)));
        Assert.Same(db.ForMaster(), db.ForMaster());
        Assert.Throws<InvalidTenantKeyException>(() => db.ForTenant("bad key;"));
        Assert.Throws<ArgumentNullException>(() => db.ForTenant(null!));

        await source.DisposeAsync();
        source.Dispose();
        await using var connection = await db.ForTenant(Key(0)).OpenConnectionAsync();
        Assert.Equal(Key(0), await connection.ExecuteScalarAsync<string>("SELECT tenant FROM marker"));

        // Many distinct keys cost a bounded cache: past it, each call gets a new (working) data source.
        for (var i = 0; i < 5000; i++)
        {
            _ = db.ForTenant("many-" + i.ToString(CultureInfo.InvariantCulture));
        }

        Assert.NotSame(db.ForTenant("many-4999"), db.ForTenant("many-4999"));
        Assert.Same(source, db.ForTenant(Key(0)));
    }

    [Fact]
    public async Task The_connection_string_carries_no_password_unless_the_master_keeps_it()
    {
        await using var db = Server.CreateTenantDatabase();
        var source = db.ForTenant(Key(0));
        Assert.DoesNotContain(MariaDbServer.AppPassword, source.ConnectionString, StringComparison.Ordinal);
        await using (var connection = await source.OpenConnectionAsync())
        {
            Assert.DoesNotContain(MariaDbServer.AppPassword, connection.ConnectionString, StringComparison.Ordinal);
            Assert.Contains(MariaDbServer.AppUser, connection.ConnectionString, StringComparison.Ordinal);

            // The string cannot open a connection outside the budget.
            await using var bypass = new MySqlConnection(connection.ConnectionString);
            await Assert.ThrowsAsync<MySqlException>(() => bypass.OpenAsync());
        }

        Assert.DoesNotContain(MariaDbServer.AppPassword, db.ForMaster().ConnectionString, StringComparison.Ordinal);

        var kept = new TenantDbGuardOptions
        {
            MasterConnectionString = new MySqlConnectionStringBuilder(Server.GetAppConnectionString(MariaDbFixture.MasterDatabase)) { PersistSecurityInfo = true }.ConnectionString,
        };
        await using var keeping = new TenantDatabase(kept);
        Assert.Contains(MariaDbServer.AppPassword, keeping.ForTenant(Key(0)).ConnectionString, StringComparison.Ordinal);
    }

    private static string TimeZoneOf(int index) => "+0" + (index + 1).ToString(CultureInfo.InvariantCulture) + ":00";

    private static async Task<DbDataReader> CreateReaderAsync(DbConnection connection, DbTransaction transaction, string sql)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        return await command.ExecuteReaderAsync();
    }

    private static async Task ReadSlowlyAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT 1; SELECT SLEEP(3)";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
        }

        Assert.True(await reader.NextResultAsync(cancellationToken));
        while (await reader.ReadAsync(cancellationToken))
        {
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static async Task<object> OpenAndUseConnectionAsync(TenantDatabase db)
    {
        var connection = await db.ForTenant(Key(0)).OpenConnectionAsync();
        Assert.Equal(Key(0), await connection.ExecuteScalarAsync<string>("SELECT tenant FROM marker"));
        return connection;
    }

    private static void InterlockedMax(ref int location, int value)
    {
        var current = Volatile.Read(ref location);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref location, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}
