using MySqlConnector;
using TenantDbGuard.Runtime.Tests.Infrastructure;

namespace TenantDbGuard.Analyzers.Tests.FixExecution;

/// <summary>The test classes whose code fixes the execution check runs: they share one MariaDB server.</summary>
[CollectionDefinition(Name)]
public sealed class FixExecutionCollection : ICollectionFixture<SharedMariaDbLifetime>
{
    public const string Name = "FixExecution";
}

/// <summary>Stops the shared server when the last test of <see cref="FixExecutionCollection"/> has run.</summary>
public sealed class SharedMariaDbLifetime : IAsyncLifetime
{
    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => SharedMariaDb.StopAsync();
}

/// <summary>
/// One throwaway MariaDB server for the execution check (the runtime tests' <see cref="MariaDbServer"/>), started on
/// first use and stopped by <see cref="SharedMariaDbLifetime"/>. It holds two tenant databases with the tables the
/// test code uses.
/// </summary>
internal static class SharedMariaDb
{
    /// <summary>The database a string parameter named like a tenant or a database gets.</summary>
    public const string Database = "tdg_fix";

    /// <summary>The second tenant database, for loops over tenants.</summary>
    public const string SecondDatabase = "tdg_fix2";

    /// <summary>A master database in TenantDbGuard.Runtime's layout whose <c>tenants</c> are the two databases above.</summary>
    public const string MasterDatabase = "tdg_fix_master";

    // Leaked connections of the original code stay open on the server until they are collected.
    private const int MaxConnections = 2000;

    private static readonly object Gate = new();
    private static Lazy<Task<MariaDbServer>> s_server = new(StartAsync);

    private static Task<MariaDbServer> Server
    {
        get
        {
            lock (Gate)
            {
                return s_server.Value;
            }
        }
    }

    /// <summary>A connection string of its own pool: MySqlConnector names the pool after the Application Name.</summary>
    public static async Task<string> ConnectionStringAsync(string poolName)
    {
        var server = await Server.ConfigureAwait(false);
        return new MySqlConnectionStringBuilder(server.GetAppConnectionString(Database))
        {
            ApplicationName = poolName,
            ConnectionTimeout = 10,
        }.ConnectionString;
    }

    /// <summary>Stops the server if it runs; a later use starts a new one.</summary>
    public static async Task StopAsync()
    {
        Lazy<Task<MariaDbServer>> stopping;
        lock (Gate)
        {
            stopping = s_server;
            s_server = new Lazy<Task<MariaDbServer>>(StartAsync);
        }

        if (stopping.IsValueCreated)
        {
            await (await stopping.Value.ConfigureAwait(false)).DisposeAsync().ConfigureAwait(false);
        }
    }

    private static async Task<MariaDbServer> StartAsync()
    {
        var server = await MariaDbServer.StartAsync(MaxConnections).ConfigureAwait(false);
        foreach (var database in new[] { Database, SecondDatabase })
        {
            await server.ExecuteAsync(
                $"""
                CREATE DATABASE {database};
                USE {database};
                CREATE TABLE tenants (id INT AUTO_INCREMENT PRIMARY KEY, tenant_key VARCHAR(64) NOT NULL, database_name VARCHAR(64) NOT NULL DEFAULT '{database}', plan VARCHAR(32) NOT NULL DEFAULT 'basic', seen DATETIME NULL);
                INSERT INTO tenants (tenant_key) VALUES ('tenant-1'), ('tenant-2');
                CREATE TABLE sessions (id INT AUTO_INCREMENT PRIMARY KEY, tenant VARCHAR(64) NULL, expires_at DATETIME NULL);
                INSERT INTO sessions (tenant) VALUES ('tenant-1'), ('tenant-2');
                CREATE TABLE customers (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100) NOT NULL);
                INSERT INTO customers (name) VALUES ('Ada'), ('Grace'), ('Linus');
                CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, number VARCHAR(32) NOT NULL, total DECIMAL(10, 2) NOT NULL DEFAULT 0);
                INSERT INTO orders (number, total) VALUES ('A-1', 10), ('A-2', 20);
                CREATE TABLE queue (id INT AUTO_INCREMENT PRIMARY KEY, done TINYINT NOT NULL DEFAULT 0);
                CREATE TABLE audit_log (id INT AUTO_INCREMENT PRIMARY KEY, action VARCHAR(100) NOT NULL, at DATETIME NOT NULL);
                CREATE TABLE audit (id INT AUTO_INCREMENT PRIMARY KEY, event VARCHAR(100) NOT NULL);
                CREATE TABLE schema_info (version INT NOT NULL);
                INSERT INTO schema_info (version) VALUES (7);
                CREATE TABLE settings (archived INT NOT NULL DEFAULT 0, touched_at DATETIME NULL, plan VARCHAR(32) NULL, region VARCHAR(32) NULL, tenant_key VARCHAR(64) NULL);
                INSERT INTO settings (plan, region, tenant_key) VALUES ('basic', 'eu', 'tdg_fix');
                CREATE TABLE logins (id INT AUTO_INCREMENT PRIMARY KEY, at DATETIME NOT NULL);
                CREATE TABLE users (id INT AUTO_INCREMENT PRIMARY KEY, display_name VARCHAR(100) NOT NULL DEFAULT 'user', tenant_key VARCHAR(64) NULL, must_change_password TINYINT NOT NULL DEFAULT 0);
                INSERT INTO users (tenant_key) VALUES ('tdg_fix');
                CREATE TABLE deals (id INT AUTO_INCREMENT PRIMARY KEY, customer_id INT NOT NULL, amount DECIMAL(10, 2) NOT NULL, stage VARCHAR(16) NOT NULL, title VARCHAR(100) NOT NULL);
                INSERT INTO deals (customer_id, amount, stage, title) VALUES (1, 100, 'open', 'Renewal'), (2, 250, 'won', 'Upgrade');
                CREATE TABLE invoices (id INT AUTO_INCREMENT PRIMARY KEY, number VARCHAR(32) NOT NULL, total DECIMAL(10, 2) NOT NULL, paid TINYINT NOT NULL DEFAULT 0, archived TINYINT NOT NULL DEFAULT 0);
                INSERT INTO invoices (number, total, paid) VALUES ('I-1', 120, 1), ('I-2', 80, 0);
                CREATE TABLE invoice_lines (id INT AUTO_INCREMENT PRIMARY KEY, invoice_id INT NOT NULL);
                INSERT INTO invoice_lines (invoice_id) VALUES (1), (1), (2);
                """).ConfigureAwait(false);
        }

        // The master database of TenantDbGuard.Runtime's layout, for code on TenantDatabase: its tenants are the two above.
        await server.ExecuteAsync(
            $"""
            CREATE DATABASE {MasterDatabase};
            USE {MasterDatabase};
            CREATE TABLE tenants (tenant_key VARCHAR(64) PRIMARY KEY, database_name VARCHAR(64) NOT NULL, server_host VARCHAR(255) NULL, server_port INT NULL, is_active TINYINT(1) NOT NULL DEFAULT 1);
            INSERT INTO tenants (tenant_key, database_name) VALUES ('{Database}', '{Database}'), ('{SecondDatabase}', '{SecondDatabase}');
            CREATE TABLE users (id INT AUTO_INCREMENT PRIMARY KEY, display_name VARCHAR(100) NOT NULL DEFAULT 'user', tenant_key VARCHAR(64) NULL);
            """).ConfigureAwait(false);

        return server;
    }
}
