using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;
using Xunit.Abstractions;

namespace TenantDbGuard.Runtime.Tests.Infrastructure;

[Collection(MariaDbCollection.Name)]
public sealed class MariaDbServerTests(MariaDbFixture fixture, ITestOutputHelper output)
{
    private MariaDbServer Server => fixture.Server;

    [Fact]
    public async Task Server_answers_as_MariaDB()
    {
        await using var connection = new MySqlConnection(Server.GetAppConnectionString());
        await connection.OpenAsync();

        var version = await connection.ExecuteScalarAsync<string>("SELECT VERSION()");

        Assert.Contains("MariaDB", version);
        output.WriteLine(version);
    }

    [Fact]
    public async Task Sessions_left_behind_fail_the_settle_wait_that_finds_them_and_are_killed_for_the_next_test()
    {
        // Held outside MySqlConnector's pools, as a runtime that a failed test never disposed holds its sessions.
        var left = new MySqlConnection(Server.GetAppConnectionString() + ";Pooling=false");
        await left.OpenAsync();
        var id = left.ServerThread;
        try
        {
            var failure = await Assert.ThrowsAnyAsync<Xunit.Sdk.XunitException>(() => Server.WaitForAppConnectionsAsync());

            Assert.Contains($"{id} ", failure.Message);
            await Server.WaitForAppConnectionsAsync();
            Assert.NotNull(await Record.ExceptionAsync(() => left.ExecuteScalarAsync<int>("SELECT 1")));
        }
        finally
        {
            await left.DisposeAsync();
        }
    }

    [Fact]
    public async Task Runs_with_the_max_connections_it_was_started_with()
    {
        await using var connection = await Server.OpenConnectionAsync();

        var maxConnections = await connection.ExecuteScalarAsync<int>("SELECT @@max_connections");

        Assert.Equal(151, Server.MaxConnections);
        Assert.Equal(Server.MaxConnections, maxConnections);
    }

    [Fact]
    public async Task Creates_300_tenant_databases_with_their_master_rows()
    {
        var stopwatch = Stopwatch.StartNew();
        var tenants = await fixture.CreateTenantsAsync(300);
        output.WriteLine($"300 tenant databases in {stopwatch.ElapsedMilliseconds} ms");

        await using var connection = new MySqlConnection(Server.GetAppConnectionString(MariaDbFixture.MasterDatabase));
        await connection.OpenAsync();
        var databases = (await connection.QueryAsync<string>(@"SHOW DATABASES LIKE 'tdg\_t\_%'")).ToList();
        var registered = (await connection.QueryAsync<(string Key, string DatabaseName)>(
            "SELECT tenant_key, database_name FROM tenants WHERE is_active ORDER BY tenant_key")).ToList();
        var lastCustomers = await connection.QueryAsync<string>($"SELECT name FROM {MariaDbFixture.TenantDatabase(300)}.customers ORDER BY id");

        Assert.Equal(300, tenants.Count);
        Assert.Equal(tenants.Select(t => t.DatabaseName), databases.Order());
        Assert.Equal(tenants.Select(t => (t.Key, t.DatabaseName)), registered);
        Assert.Equal(new[] { "Ada", "Grace", "Linus" }, lastCustomers);
    }

    [Fact]
    public async Task Creating_the_same_tenants_again_changes_nothing()
    {
        await fixture.CreateTenantsAsync(3);
        await fixture.CreateTenantsAsync(3);

        await using var connection = await Server.OpenConnectionAsync(MariaDbFixture.TenantDatabase(3));
        Assert.Equal(3, await connection.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM customers"));
    }

    [Fact]
    public async Task Restart_keeps_the_port_and_the_data()
    {
        await Server.CreateDatabaseAsync("tdg_restart_probe");
        await Server.ExecuteAsync("CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (42);", "tdg_restart_probe");
        await Server.SetGlobalAsync("max_connections", 40);
        var port = Server.Port;
        await using var before = new MySqlConnection(Server.GetAppConnectionString());
        await before.OpenAsync();

        await Server.RestartAsync();

        await using var connection = await Server.OpenConnectionAsync("tdg_restart_probe");
        Assert.Equal(port, Server.Port);
        Assert.Equal(42, await connection.ExecuteScalarAsync<int>("SELECT id FROM t"));
        Assert.Equal(Server.MaxConnections, await connection.ExecuteScalarAsync<int>("SELECT @@max_connections"));
        await Assert.ThrowsAnyAsync<MySqlException>(() => before.ExecuteScalarAsync<int>("SELECT 1"));
        await Server.ExecuteAsync("DROP DATABASE tdg_restart_probe");
    }

    [Fact]
    public async Task Refuses_the_connection_past_max_connections_with_error_1040()
    {
        var stopwatch = Stopwatch.StartNew();
        await using var server = await MariaDbServer.StartAsync(maxConnections: 10);
        output.WriteLine($"A second server started in {stopwatch.ElapsedMilliseconds} ms");
        var connectionString = new MySqlConnectionStringBuilder(server.GetAppConnectionString()) { Pooling = false }.ConnectionString;
        var connections = new List<MySqlConnection>();
        try
        {
            for (var i = 0; i < 10; i++)
            {
                var connection = new MySqlConnection(connectionString);
                connections.Add(connection);
                await connection.OpenAsync();
            }

            await using var oneTooMany = new MySqlConnection(connectionString);
            var error = await Assert.ThrowsAsync<MySqlException>(() => oneTooMany.OpenAsync());
            Assert.Equal(MySqlErrorCode.ConnectionCountError, error.ErrorCode);
            Assert.Equal(1040, error.Number);
            output.WriteLine(error.Message);

            // root has CONNECTION ADMIN, for which MariaDB keeps one connection in reserve.
            Assert.Equal(10, await server.CountConnectionsAsync());
            Assert.InRange(await server.GetStatusAsync("Threads_connected"), 11, 12);
            Assert.InRange(await server.GetStatusAsync("Max_used_connections"), 11, 12);
        }
        finally
        {
            foreach (var connection in connections)
            {
                await connection.DisposeAsync();
            }
        }

        // A closed connection leaves the process list a moment after the client lets go of it.
        while (await server.CountConnectionsAsync() > 0)
        {
            await Task.Delay(20);
        }

        await server.FlushStatusAsync();
        Assert.InRange(await server.GetStatusAsync("Max_used_connections"), 1, 3);

        await server.SetGlobalAsync("max_connections", 11);
        await using var eleventh = new MySqlConnection(connectionString);
        await eleventh.OpenAsync();
        Assert.Equal(11, await eleventh.ExecuteScalarAsync<int>("SELECT @@max_connections"));
    }
}
