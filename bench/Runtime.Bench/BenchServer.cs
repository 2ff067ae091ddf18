using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using MySqlConnector;
using TenantDbGuard.Runtime.Tests.Infrastructure;

namespace TenantDbGuard.Bench;

/// <summary>
/// A throwaway MariaDB server (the runtime tests' <see cref="MariaDbServer"/>) laid out as a multi-tenant service:
/// a master database with a <c>tenants</c> table and one database per tenant with a <c>customers</c> table.
/// </summary>
internal sealed class BenchServer : IAsyncDisposable
{
    public const string MasterDatabase = TenantLayout.MasterDatabase;

    private BenchServer(MariaDbServer server) => Server = server;

    public MariaDbServer Server { get; }

    public static string TenantKey(int number) => TenantLayout.TenantKey(number);

    public static string TenantDatabase(int number) => TenantLayout.TenantDatabase(number);

    /// <summary>The master database's connection string for the application account (MySqlConnector's default pooling).</summary>
    public string MasterConnectionString => Server.GetAppConnectionString(MasterDatabase);

    /// <summary>Starts a server with <paramref name="maxConnections"/> and creates the master and tenants 1 to <paramref name="tenants"/>.</summary>
    public static async Task<BenchServer> StartAsync(int maxConnections, int tenants)
    {
        var server = await MariaDbServer.StartAsync(maxConnections);
        var bench = new BenchServer(server);
        try
        {
            await TenantLayout.CreateTenantsAsync(server, tenants);
            return bench;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>The connection string of one tenant's database for the application account, as a plain app would write it.</summary>
    public string TenantConnectionString(int number) => Server.GetAppConnectionString(TenantDatabase(number));

    /// <summary>Opens a root connection that is not pooled, for sampling the server's status while the load runs.</summary>
    public Task<MySqlConnection> OpenAdminConnectionAsync() => Server.OpenConnectionAsync();

    /// <summary>Reads global status counters on an open connection.</summary>
    public static async Task<Dictionary<string, long>> ReadStatusAsync(MySqlConnection connection, string filter, CancellationToken cancellationToken = default)
    {
        var values = new Dictionary<string, long>(StringComparer.OrdinalIgnoreCase);
        await using var command = new MySqlCommand("SHOW GLOBAL STATUS WHERE " + filter, connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            if (long.TryParse(reader.GetString(1), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value))
            {
                values[reader.GetString(0)] = value;
            }
        }

        return values;
    }

    public ValueTask DisposeAsync() => Server.DisposeAsync();
}
