using System.Text;
using Dapper;
using MySqlConnector;

namespace TenantDbGuard.Runtime.Tests.Infrastructure;

/// <summary>
/// Tenants made for the isolation tests: each database holds a <c>marker</c> table whose one row names its tenant, so a
/// query tells which tenant's data it really read, and an <c>items</c> table that tests write to. The keys are
/// <c>iso-a</c>, <c>iso-b</c>, ... and the databases <c>tdg_iso_a</c>, <c>tdg_iso_b</c>, ...; they are registered in the
/// master <c>tenants</c> table next to the fixture's numbered tenants.
/// </summary>
public static class MarkedTenants
{
    public const int Count = 4;

    /// <summary>The key of marked tenant <paramref name="index"/> (0-based): <c>iso-a</c>.</summary>
    public static string Key(int index) => "iso-" + (char)('a' + index);

    /// <summary>The database of marked tenant <paramref name="index"/> (0-based): <c>tdg_iso_a</c>.</summary>
    public static string Database(int index) => "tdg_iso_" + (char)('a' + index);

    /// <summary>Creates the marked tenants (and the master layout) when they are missing; safe to call again.</summary>
    public static async Task CreateAsync(MariaDbServer server)
    {
        await TenantLayout.CreateTenantsAsync(server, 0);
        var sql = new StringBuilder();
        for (var i = 0; i < Count; i++)
        {
            var database = MariaDbServer.QuoteIdentifier(Database(i));
            sql.AppendLine($"CREATE DATABASE IF NOT EXISTS {database};");
            sql.AppendLine($"CREATE TABLE IF NOT EXISTS {database}.marker (tenant VARCHAR(64) NOT NULL);");
            sql.AppendLine($"INSERT INTO {database}.marker (tenant) SELECT '{Key(i)}' FROM DUAL WHERE NOT EXISTS (SELECT 1 FROM {database}.marker);");
            sql.AppendLine($"CREATE TABLE IF NOT EXISTS {database}.items (id INT AUTO_INCREMENT PRIMARY KEY, owner VARCHAR(64) NOT NULL);");
            sql.AppendLine($"INSERT INTO {TenantLayout.MasterDatabase}.tenants (tenant_key, database_name) VALUES ('{Key(i)}', '{Database(i)}') ON DUPLICATE KEY UPDATE database_name = VALUES(database_name), is_active = 1;");
        }

        await server.ExecuteAsync(sql.ToString());
    }

    /// <summary>The tenant whose marker the connection reads, which is the database it really is on.</summary>
    public static Task<string?> ReadMarkerAsync(MySqlConnection connection) =>
        connection.ExecuteScalarAsync<string?>("SELECT tenant FROM marker");

    /// <summary>The rows of <c>items</c> in marked tenant <paramref name="index"/>'s database, read as root.</summary>
    public static async Task<IReadOnlyList<string>> ReadItemsAsync(MariaDbServer server, int index)
    {
        await using var root = await server.OpenConnectionAsync(Database(index));
        return (await root.QueryAsync<string>("SELECT owner FROM items ORDER BY id")).AsList();
    }

    /// <summary>Empties <c>items</c> in every marked tenant.</summary>
    public static async Task ClearItemsAsync(MariaDbServer server)
    {
        var sql = new StringBuilder();
        for (var i = 0; i < Count; i++)
        {
            sql.AppendLine($"DELETE FROM {MariaDbServer.QuoteIdentifier(Database(i))}.items;");
        }

        await server.ExecuteAsync(sql.ToString());
    }
}
