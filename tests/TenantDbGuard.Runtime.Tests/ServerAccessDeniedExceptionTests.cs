using Dapper;
using Microsoft.Extensions.Logging;
using MySqlConnector;
using TenantDbGuard.Runtime.Tests.Infrastructure;

namespace TenantDbGuard.Runtime.Tests;

/// <summary>The server refusing the account itself (error 1045) is a typed error that is not transient, and costs nothing else.</summary>
[Collection(MariaDbCollection.Name)]
public sealed class ServerAccessDeniedExceptionTests(MariaDbFixture fixture) : IAsyncLifetime
{
    private const int AccessDenied = 1026;
    private const string User = "tdg_rotated";
    private const string Password = "rotated-pw";

    private MariaDbServer Server => fixture.Server;

    public Task InitializeAsync() => fixture.CreateTenantsAsync(2);

    public Task DisposeAsync() => Server.ExecuteAsync($"DROP USER IF EXISTS '{User}'@'%'");

    [Fact]
    public async Task A_password_changed_on_the_server_fails_the_next_new_connection_with_a_typed_error_and_the_budget_recovers()
    {
        await Server.ExecuteAsync($"""
            DROP USER IF EXISTS '{User}'@'%';
            CREATE USER '{User}'@'%' IDENTIFIED BY '{Password}';
            GRANT ALL PRIVILEGES ON `{MariaDbFixture.MasterDatabase}`.* TO '{User}'@'%';
            GRANT ALL PRIVILEGES ON `{MariaDbFixture.TenantDatabase(1)}`.* TO '{User}'@'%';
            """);
        var connectionString = new MySqlConnectionStringBuilder(Server.GetAppConnectionString(MariaDbFixture.MasterDatabase)) { UserID = User, Password = Password }.ConnectionString;
        var logs = new CapturedLogs();
        await using var db = Server.CreateTenantDatabase(
            o =>
            {
                o.MasterConnectionString = connectionString;
                o.MaxConnections = 2;
            },
            loggers: logs);
        Assert.Equal(1, await db.ExecuteScalarTenantAsync<int>(Key(1), "SELECT 1"));
        await db.WaitUntilAllReturnedAsync();

        // The password changes on the server, and the runtime's open sessions go: the next call needs a new connection.
        await Server.ExecuteAsync($"ALTER USER '{User}'@'%' IDENTIFIED BY 'another-pw'");
        await KillSessionsAsync();

        var error = await Assert.ThrowsAsync<ServerAccessDeniedException>(() => db.ExecuteScalarTenantAsync<int>(Key(1), "SELECT 1"));
        Assert.Equal(Key(1), error.TenantKey);
        Assert.False(error.IsTransient);
        Assert.Equal(1045, error.ErrorCode);
        Assert.Equal(MySqlErrorCode.AccessDenied, Assert.IsType<MySqlException>(error.InnerException).ErrorCode);
        Assert.Contains($"tenant '{Key(1)}'", error.Message, StringComparison.Ordinal);
        Assert.Contains("Access denied", error.Message, StringComparison.Ordinal);
        Assert.Contains("Nothing of the work was sent", error.Message, StringComparison.Ordinal);
        Assert.Contains("Check the user name and password", error.Message, StringComparison.Ordinal);
        var logged = Assert.Single(logs.WithId(AccessDenied));
        Assert.Equal(LogLevel.Error, logged.Level);

        // A lease is refused the same way, and nothing is left counted: the budget is whole again.
        await Assert.ThrowsAsync<ServerAccessDeniedException>(() => db.GetConnectionAsync(Key(1)).AsTask());
        await db.WaitUntilAllReturnedAsync();
        await RuntimeTestExtensions.WaitUntilAsync(() => Task.FromResult(db.GetBudgetSnapshot().Open == 0), TimeSpan.FromSeconds(5), "the refused connections are no longer counted");

        // Nothing of the refusal is kept: once the password is back, the next call connects.
        await Server.ExecuteAsync($"ALTER USER '{User}'@'%' IDENTIFIED BY '{Password}'");
        Assert.Equal(1, await db.ExecuteScalarTenantAsync<int>(Key(1), "SELECT 1"));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(null)] // the default: the first call reads the server's max_connections with the master's account
    public async Task A_wrong_password_for_the_master_database_names_it(int? maxConnections)
    {
        var connectionString = new MySqlConnectionStringBuilder(Server.GetAppConnectionString(MariaDbFixture.MasterDatabase)) { Password = "not the password" }.ConnectionString;
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.MasterConnectionString = connectionString;
            o.MaxConnections = maxConnections;
        });

        var error = await Assert.ThrowsAsync<ServerAccessDeniedException>(() => db.ExecuteScalarTenantAsync<int>(Key(1), "SELECT 1"));

        Assert.Equal(TenantDatabase.MasterKey, error.TenantKey);
        Assert.Contains("for the master database", error.Message, StringComparison.Ordinal);
        await db.WaitUntilAllReturnedAsync();
        await RuntimeTestExtensions.WaitUntilAsync(() => Task.FromResult(db.GetBudgetSnapshot().Open == 0), TimeSpan.FromSeconds(5), "the refused connection is no longer counted");
    }

    private async Task KillSessionsAsync()
    {
        await using var connection = await Server.OpenConnectionAsync();
        var sessions = (await connection.QueryAsync<long>("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = @user", new { user = User })).ToList();
        foreach (var session in sessions)
        {
            await connection.ExecuteAsync($"KILL {session}");
        }

        await RuntimeTestExtensions.WaitUntilAsync(
            async () => await Server.CountConnectionsAsync(User) == 0, TimeSpan.FromSeconds(10), "the account's sessions leave the server");
    }

    private static string Key(int number) => MariaDbFixture.TenantKey(number);
}
