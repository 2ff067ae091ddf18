using System;
using System.Collections.Concurrent;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace ValidCode;

/// <summary>Data sources created once per tenant through <see cref="Lazy{T}"/>: a race builds only one.</summary>
public sealed class LazyDataSourceRegistry(string template) : IDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<MySqlDataSource>> _byTenant = new(StringComparer.Ordinal);

    public MySqlDataSource For(string tenant) =>
        _byTenant.GetOrAdd(
            tenant,
            static (key, text) => new Lazy<MySqlDataSource>(
                () => new MySqlDataSource(
                    new MySqlConnectionStringBuilder(text) { Database = "t_" + key }.ConnectionString),
                LazyThreadSafetyMode.ExecutionAndPublication),
            template).Value;

    public bool Evict(string tenant)
    {
        if (!_byTenant.TryRemove(tenant, out var evicted))
        {
            return false;
        }

        if (evicted.IsValueCreated)
        {
            evicted.Value.Dispose();
        }

        return true;
    }

    public void Dispose()
    {
        foreach (var entry in _byTenant.Values)
        {
            if (entry.IsValueCreated)
            {
                entry.Value.Dispose();
            }
        }

        _byTenant.Clear();
    }
}

/// <summary>A record describing where a tenant lives, and the connection string it builds.</summary>
public sealed record TenantLocation(string Server, string Database, uint MaxPool)
{
    public string ConnectionString => new MySqlConnectionStringBuilder
    {
        Server = Server,
        Database = Database,
        MaximumPoolSize = MaxPool,
    }.ConnectionString;
}

/// <summary>A one-off migration on a private pool made by an injected factory, disposed when done.</summary>
public sealed class SchemaMigrator(Func<string, MySqlDataSource> createDataSource)
{
    public async Task MigrateAsync(TenantLocation location, string script, CancellationToken ct)
    {
        var dataSource = createDataSource(location.ConnectionString);
        try
        {
            await using var connection = await dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);
            await connection.ExecuteAsync(new CommandDefinition(script, cancellationToken: ct)).ConfigureAwait(false);
        }
        finally
        {
            await dataSource.DisposeAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>Request code that only borrows from the registry.</summary>
public sealed class LazyRegistryUsers(LazyDataSourceRegistry registry)
{
    public async Task<string?> NameAsync(string tenant, long id, CancellationToken ct)
    {
        await using var connection = await registry.For(tenant).OpenConnectionAsync(ct).ConfigureAwait(false);
        var name = await connection.QuerySingleOrDefaultAsync<string>(
            "SELECT name FROM customers WHERE id = @id", new { id }).ConfigureAwait(false);
        return name is not null ? name.Trim() : null;
    }

    public Task<int> StaticLocalFunctionAsync(string tenant, CancellationToken ct)
    {
        return PingAsync(registry.For(tenant), ct);

        static async Task<int> PingAsync(MySqlDataSource source, CancellationToken token)
        {
            await using var connection = await source.OpenConnectionAsync(token).ConfigureAwait(false);
            return await connection.ExecuteScalarAsync<int>("SELECT 1").ConfigureAwait(false);
        }
    }
}
