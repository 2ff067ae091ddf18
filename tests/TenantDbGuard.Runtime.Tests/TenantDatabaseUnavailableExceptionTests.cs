using Dapper;
using Microsoft.Extensions.Logging;
using MySqlConnector;
using TenantDbGuard.Runtime.Tests.Infrastructure;

namespace TenantDbGuard.Runtime.Tests;

[Collection(MariaDbCollection.Name)]
public sealed class TenantDatabaseUnavailableExceptionTests(MariaDbFixture fixture) : IAsyncLifetime
{
    private const int TenantDatabaseUnavailable = 1022;

    private MariaDbServer Server => fixture.Server;

    public Task InitializeAsync() => fixture.CreateTenantsAsync(3);

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task A_tenant_whose_database_does_not_exist_fails_alone()
    {
        await RegisterAsync("tenant-ghost", "tdg_ghost");
        var logs = new CapturedLogs();
        await using var db = Server.CreateTenantDatabase(loggers: logs);
        await db.QueryTenantAsync<int>(Key(1), "SELECT 1");

        var error = await Assert.ThrowsAsync<TenantDatabaseUnavailableException>(() => db.QueryTenantAsync<int>("tenant-ghost", "SELECT 1"));

        Assert.Equal("tenant-ghost", error.TenantKey);
        Assert.Equal("tdg_ghost", error.DatabaseName);
        Assert.Contains("'tdg_ghost'", error.Message);
        Assert.Contains("'tenant-ghost'", error.Message);
        Assert.Contains("Other tenants are not affected", error.Message);
        var inner = Assert.IsType<MySqlException>(error.InnerException);
        Assert.Equal(MySqlErrorCode.UnknownDatabase, inner.ErrorCode);
        Assert.Equal((1049, "42000"), (error.ErrorCode, error.SqlState));
        Assert.False(error.IsTransient);
        var logged = Assert.Single(logs.WithId(TenantDatabaseUnavailable));
        Assert.Equal(LogLevel.Error, logged.Level);

        await db.WaitUntilAllReturnedAsync();
        for (var number = 1; number <= 3; number++)
        {
            Assert.Equal([MariaDbFixture.TenantDatabase(number)], await db.QueryTenantAsync<string>(Key(number), "SELECT DATABASE()"));
        }

        await Assert.ThrowsAsync<TenantDatabaseUnavailableException>(() => db.GetConnectionAsync("tenant-ghost").AsTask());
        await db.WaitUntilAllReturnedAsync();
    }

    [Fact]
    public async Task A_tenant_whose_database_the_account_may_not_use_fails_alone()
    {
        // An account granted the master and some tenants' databases only: a row that names another database is refused
        // by the server with "access denied" (1044), which is this tenant's problem, not the connection's.
        const string User = "tdg_narrow";
        await Server.ExecuteAsync($"""
            CREATE DATABASE IF NOT EXISTS tdg_denied;
            CREATE USER IF NOT EXISTS '{User}'@'%' IDENTIFIED BY 'narrow-pw';
            GRANT ALL PRIVILEGES ON `{MariaDbFixture.MasterDatabase}`.* TO '{User}'@'%';
            GRANT ALL PRIVILEGES ON `{MariaDbFixture.TenantDatabase(1)}`.* TO '{User}'@'%';
            GRANT ALL PRIVILEGES ON `{MariaDbFixture.TenantDatabase(2)}`.* TO '{User}'@'%';
            """);
        await RegisterAsync("tenant-denied", "tdg_denied");
        try
        {
            var connectionString = new MySqlConnectionStringBuilder(Server.GetAppConnectionString(MariaDbFixture.MasterDatabase)) { UserID = User, Password = "narrow-pw" }.ConnectionString;
            await using var db = Server.CreateTenantDatabase(o => o.MasterConnectionString = connectionString);
            await db.QueryTenantAsync<int>(Key(1), "SELECT 1");

            var error = await Assert.ThrowsAsync<TenantDatabaseUnavailableException>(() => db.QueryTenantAsync<int>("tenant-denied", "SELECT 1"));
            Assert.Equal(("tenant-denied", "tdg_denied"), (error.TenantKey, error.DatabaseName));
            Assert.Equal(MySqlErrorCode.DatabaseAccessDenied, Assert.IsType<MySqlException>(error.InnerException).ErrorCode);
            Assert.False(error.IsTransient);
            await Assert.ThrowsAsync<TenantDatabaseUnavailableException>(() => db.GetConnectionAsync("tenant-denied").AsTask());

            await db.WaitUntilAllReturnedAsync();
            for (var number = 1; number <= 2; number++)
            {
                Assert.Equal([MariaDbFixture.TenantDatabase(number)], await db.QueryTenantAsync<string>(Key(number), "SELECT DATABASE()"));
            }
        }
        finally
        {
            await Server.ExecuteAsync($"DELETE FROM tenants WHERE tenant_key = 'tenant-denied'", MariaDbFixture.MasterDatabase);
            await Server.ExecuteAsync($"DROP USER IF EXISTS '{User}'@'%'; DROP DATABASE IF EXISTS tdg_denied;");
        }
    }

    [Fact]
    public async Task A_tenant_whose_database_was_dropped_while_in_use_fails_alone_and_comes_back_with_it()
    {
        const string key = "tenant-dropped";
        const string database = "tdg_dropped";
        await Server.ExecuteAsync($"DROP DATABASE IF EXISTS {database}; CREATE DATABASE {database}; CREATE TABLE {database}.customers (id INT PRIMARY KEY, name VARCHAR(100)); INSERT INTO {database}.customers VALUES (1, 'Dora');");
        await RegisterAsync(key, database);
        await using var db = Server.CreateTenantDatabase(o => o.MaxConnections = 2);
        Assert.Equal(["Dora"], await db.QueryTenantAsync<string>(key, "SELECT name FROM customers"));

        await Server.ExecuteAsync($"DROP DATABASE {database}");

        // The connections that were on the dropped database are still open and idle: the next lease must not use them as they are.
        var error = await Assert.ThrowsAsync<TenantDatabaseUnavailableException>(() => db.QueryTenantAsync<string>(key, "SELECT name FROM customers"));
        Assert.Equal((key, database), (error.TenantKey, error.DatabaseName));
        await db.WaitUntilAllReturnedAsync();
        Assert.Equal([3L], await db.QueryTenantAsync<long>(Key(2), "SELECT COUNT(*) FROM customers WHERE id <= 3"));

        await Server.ExecuteAsync($"CREATE DATABASE {database}; CREATE TABLE {database}.customers (id INT PRIMARY KEY, name VARCHAR(100)); INSERT INTO {database}.customers VALUES (1, 'Dora again');");
        Assert.Equal(["Dora again"], await db.QueryTenantAsync<string>(key, "SELECT name FROM customers"));
        await db.WaitUntilAllReturnedAsync();
        await Server.ExecuteAsync($"DROP DATABASE {database}");
    }

    [Fact]
    public async Task A_missing_database_is_reported_through_a_lease_too()
    {
        await RegisterAsync("tenant-ghost", "tdg_ghost");
        await using var db = Server.CreateTenantDatabase(o => o.MaxConnections = 1);

        var error = await Assert.ThrowsAsync<TenantDatabaseUnavailableException>(async () =>
        {
            await using var lease = await db.GetConnectionAsync("tenant-ghost");
        });

        Assert.Equal("tdg_ghost", error.DatabaseName);
        var snapshot = await db.WaitUntilAllReturnedAsync();
        Assert.Equal(1, snapshot.Open);
        await using var other = await db.GetConnectionAsync(Key(1));
        Assert.Equal(MariaDbFixture.TenantDatabase(1), await other.Connection.ExecuteScalarAsync<string>("SELECT DATABASE()"));
    }

    [Fact]
    public async Task A_helper_refused_its_tenants_database_leaves_the_session_to_the_next_helper()
    {
        // Without resets between leases, the helper of a tenant after another's lease resets the session and selects the
        // database in a statement of its own, before its batch: the server refuses that statement here.
        await RegisterAsync("tenant-ghost", "tdg_ghost");
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.MaxConnections = 1;
            o.ResetSessionOnRelease = false;

            // A busy machine must not make a slow answer look like a busy session (which is closed).
            o.ResetTimeout = TimeSpan.FromSeconds(10);
        });
        var id = await db.ExecuteScalarTenantAsync<long>(Key(1), "SELECT CONNECTION_ID()");

        await Assert.ThrowsAsync<TenantDatabaseUnavailableException>(() => db.ExecuteScalarTenantAsync<long>("tenant-ghost", "SELECT CONNECTION_ID()"));

        // The session is fine: the next helper runs on it, not on a new connection.
        Assert.Equal(id, await db.ExecuteScalarTenantAsync<long>(Key(1), "SELECT CONNECTION_ID()"));
        Assert.Equal(MariaDbFixture.TenantDatabase(1), await db.ExecuteScalarTenantAsync<string>(Key(1), "SELECT DATABASE()"));
        Assert.Equal(1, (await db.WaitUntilAllReturnedAsync()).Open);
    }

    private Task RegisterAsync(string key, string database) => Server.ExecuteAsync(
        $"INSERT INTO tenants (tenant_key, database_name) VALUES ('{key}', '{database}') ON DUPLICATE KEY UPDATE database_name = VALUES(database_name), is_active = 1",
        MariaDbFixture.MasterDatabase);

    private static string Key(int number) => MariaDbFixture.TenantKey(number);
}
