using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace ValidCode;

public sealed class TenantProvisioningException : Exception
{
    public TenantProvisioningException(string tenant, string step, Exception inner)
        : base($"Provisioning tenant '{tenant}' failed at step '{step}': {inner.Message}", inner)
    {
        Tenant = tenant;
        Step = step;
    }

    public string Tenant { get; }

    public string Step { get; }
}

/// <summary>Creates a tenant database and registers it in the master <c>tenants</c> table.</summary>
public sealed class TenantProvisioner
{
    private static readonly string[] SchemaScripts =
    [
        "CREATE TABLE IF NOT EXISTS customers (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(200) NOT NULL, email VARCHAR(320) NOT NULL, created_at DATETIME NOT NULL)",
        "CREATE TABLE IF NOT EXISTS orders (id BIGINT AUTO_INCREMENT PRIMARY KEY, created_at DATETIME NOT NULL, total DECIMAL(12,2) NOT NULL, status INT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS sessions (id CHAR(36) PRIMARY KEY, last_seen DATETIME NOT NULL)",
    ];

    private readonly TenantDataSources _dataSources;

    public TenantProvisioner(TenantDataSources dataSources) => _dataSources = dataSources;

    public async Task<bool> ProvisionAsync(string tenant, CancellationToken cancellationToken)
    {
        var database = "tenant_" + tenant;
        await using (var master = await _dataSources.Master.OpenConnectionAsync(cancellationToken))
        {
            var exists = await master.ExecuteScalarAsync<int>(new CommandDefinition(
                "SELECT COUNT(*) FROM tenants WHERE tenant_key = @tenant", new { tenant }, cancellationToken: cancellationToken));
            if (exists > 0)
            {
                return false;
            }

            try
            {
                await master.ExecuteAsync(new CommandDefinition($"CREATE DATABASE `{database}`", cancellationToken: cancellationToken));
            }
            catch (MySqlException ex) when (ex.ErrorCode == MySqlErrorCode.DatabaseCreateExists)
            {
                // A previous attempt got this far; carry on with the schema.
            }
        }

        await ApplySchemaAsync(tenant, cancellationToken);

        await using (var master = await _dataSources.Master.OpenConnectionAsync(cancellationToken))
        {
            await master.ExecuteAsync(new CommandDefinition(
                "INSERT INTO tenants (tenant_key, database_name, is_active) VALUES (@tenant, @database, 1)",
                new { tenant, database },
                cancellationToken: cancellationToken));
        }

        return true;
    }

    public async Task<IReadOnlyList<string>> ListTablesAsync(string tenant, CancellationToken cancellationToken)
    {
        await using var conn = await _dataSources.GetDataSource(tenant).OpenConnectionAsync(cancellationToken);
        var tables = await conn.QueryAsync<string>(new CommandDefinition("SHOW TABLES", cancellationToken: cancellationToken));
        return tables.Order(StringComparer.Ordinal).ToList();
    }

    private async Task ApplySchemaAsync(string tenant, CancellationToken cancellationToken)
    {
        var step = "connect";
        try
        {
            await using var conn = await _dataSources.GetDataSource(tenant).OpenConnectionAsync(cancellationToken);
            for (var i = 0; i < SchemaScripts.Length; i++)
            {
                step = $"script {i + 1} of {SchemaScripts.Length}";
                await conn.ExecuteAsync(new CommandDefinition(SchemaScripts[i], cancellationToken: cancellationToken));
            }
        }
        catch (MySqlException ex)
        {
            throw new TenantProvisioningException(tenant, step, ex);
        }
    }
}
