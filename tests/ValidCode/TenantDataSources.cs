using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace ValidCode;

/// <summary>A tenant row of the master database.</summary>
public sealed record TenantInfo(string Key, string DatabaseName, bool IsActive);

/// <summary>One <see cref="MySqlDataSource"/> per tenant database, created once and kept for the life of the process.</summary>
public sealed class TenantDataSources : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, MySqlDataSource> _sources = new(StringComparer.Ordinal);
    private readonly MySqlConnectionStringBuilder _template;

    public TenantDataSources(string masterConnectionString, uint maximumPoolSizePerTenant = 10)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(masterConnectionString);
        _template = new MySqlConnectionStringBuilder(masterConnectionString) { MaximumPoolSize = maximumPoolSizePerTenant };
        Master = new MySqlDataSource(masterConnectionString);
    }

    /// <summary>The master database, which holds the <c>tenants</c> table.</summary>
    public MySqlDataSource Master { get; }

    public MySqlDataSource GetDataSource(string tenantKey)
    {
        ValidateTenantKey(tenantKey);
        return _sources.GetOrAdd(tenantKey, static (key, template) =>
        {
            var builder = new MySqlConnectionStringBuilder(template.ConnectionString) { Database = "tenant_" + key };
            return new MySqlDataSource(builder.ConnectionString);
        }, _template);
    }

    public async Task<IReadOnlyList<TenantInfo>> ListActiveTenantsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await Master.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<TenantInfo>(new CommandDefinition(
            "SELECT tenant_key AS `Key`, database_name AS DatabaseName, is_active AS IsActive FROM tenants WHERE is_active = 1",
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        return rows.OrderBy(t => t.Key, StringComparer.Ordinal).ToList();
    }

    /// <summary>Opens <paramref name="count"/> connections at once so the pool is warm before traffic arrives.</summary>
    public async Task WarmUpAsync(string tenantKey, int count, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        var dataSource = GetDataSource(tenantKey);
        var opened = new List<MySqlConnection>(count);
        try
        {
            for (var i = 0; i < count; i++)
            {
                opened.Add(await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false));
            }
        }
        finally
        {
            foreach (var connection in opened)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var source in _sources.Values)
        {
            await source.DisposeAsync().ConfigureAwait(false);
        }

        _sources.Clear();
        await Master.DisposeAsync().ConfigureAwait(false);
    }

    private static void ValidateTenantKey(string tenantKey)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(tenantKey);
        if (tenantKey.Length > 32 || !tenantKey.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '_'))
        {
            throw new ArgumentException($"Tenant key '{tenantKey}' must be 1-32 characters of a-z, 0-9 or '_'.", nameof(tenantKey));
        }
    }
}
