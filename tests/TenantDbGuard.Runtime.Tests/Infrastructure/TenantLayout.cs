using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Threading.Tasks;

namespace TenantDbGuard.Runtime.Tests.Infrastructure;

/// <summary>
/// The multi-tenant layout the runtime expects, on a <see cref="MariaDbServer"/>: a master database
/// <see cref="MasterDatabase"/> with a <c>tenants</c> table, and one database per tenant with a <c>customers</c>
/// table. Shared as source by the test fixture and the benchmarks, so it does not depend on xunit.
/// </summary>
public static class TenantLayout
{
    public const string MasterDatabase = "tdg_master";

    private const int DatabasesPerBatch = 25;

    /// <summary>The key of tenant <paramref name="number"/> (1-based) in the <c>tenants</c> table: <c>tenant-0001</c>.</summary>
    public static string TenantKey(int number) => $"tenant-{number:D4}";

    /// <summary>The database of tenant <paramref name="number"/> (1-based): <c>tdg_t_0001</c>.</summary>
    public static string TenantDatabase(int number) => $"tdg_t_{number:D4}";

    /// <summary>
    /// Creates the master database and tenants 1 to <paramref name="count"/>, each with a
    /// <c>customers</c> table of three rows, and registers them in <c>tenants</c>. Tenants that
    /// exist already are left as they are, so callers may ask for the same tenants again.
    /// </summary>
    public static async Task<IReadOnlyList<SeededTenant>> CreateTenantsAsync(MariaDbServer server, int count)
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentOutOfRangeException.ThrowIfNegative(count);

        await server.ExecuteAsync(
            $"""
            CREATE DATABASE IF NOT EXISTS {MasterDatabase};
            CREATE TABLE IF NOT EXISTS {MasterDatabase}.tenants (
                tenant_key VARCHAR(64) PRIMARY KEY,
                database_name VARCHAR(64) NOT NULL,
                server_host VARCHAR(255) NULL,
                server_port INT NULL,
                is_active TINYINT(1) NOT NULL DEFAULT 1
            );
            """);

        var tenants = Enumerable.Range(1, count).Select(n => new SeededTenant(TenantKey(n), TenantDatabase(n))).ToList();
        foreach (var batch in tenants.Chunk(DatabasesPerBatch))
        {
            var sql = new StringBuilder();
            foreach (var tenant in batch)
            {
                var database = MariaDbServer.QuoteIdentifier(tenant.DatabaseName);
                sql.AppendLine($"CREATE DATABASE IF NOT EXISTS {database};");
                sql.AppendLine($"CREATE TABLE IF NOT EXISTS {database}.customers (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100) NOT NULL);");
                sql.AppendLine($"INSERT IGNORE INTO {database}.customers (id, name) VALUES (1, 'Ada'), (2, 'Grace'), (3, 'Linus');");
            }

            sql.Append($"INSERT IGNORE INTO {MasterDatabase}.tenants (tenant_key, database_name) VALUES ");
            sql.AppendJoin(", ", batch.Select(t => $"('{t.Key}', '{t.DatabaseName}')"));
            sql.AppendLine(";");
            await server.ExecuteAsync(sql.ToString());
        }

        return tenants;
    }
}

/// <summary>A tenant made by <see cref="TenantLayout.CreateTenantsAsync"/>.</summary>
public sealed record SeededTenant(string Key, string DatabaseName);
