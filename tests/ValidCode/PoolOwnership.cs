using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using MySqlConnector;

namespace ValidCode;

public static class TenantPoolRegistration
{
    public static IServiceCollection AddTenantPools(this IServiceCollection services, string masterConnectionString)
    {
        services.AddSingleton(_ => new MySqlDataSource(masterConnectionString));
        services.AddSingleton<Func<string, MySqlDataSource>>(sp =>
        {
            var cache = new ConcurrentDictionary<string, MySqlDataSource>();
            return tenant => cache.GetOrAdd(tenant, t => new MySqlDataSourceBuilder($"{masterConnectionString};Database={t}").Build());
        });
        return services;
    }
}

public sealed class TenantPoolCache : IAsyncDisposable
{
    private readonly Dictionary<string, MySqlDataSource> _byTenant = new();
    private readonly object _gate = new();
    private readonly string _template;

    public TenantPoolCache(string template) => _template = template;

    public MySqlDataSource For(string tenant)
    {
        lock (_gate)
        {
            if (!_byTenant.TryGetValue(tenant, out var source))
            {
                source = new MySqlDataSource(string.Format(System.Globalization.CultureInfo.InvariantCulture, _template, tenant));
                _byTenant.Add(tenant, source);
            }

            return source;
        }
    }

    public async Task EvictAsync(string tenant)
    {
        MySqlDataSource? evicted;
        lock (_gate)
        {
            if (!_byTenant.Remove(tenant, out evicted))
            {
                return;
            }
        }

        await evicted.DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        List<MySqlDataSource> all;
        lock (_gate)
        {
            all = new List<MySqlDataSource>(_byTenant.Values);
            _byTenant.Clear();
        }

        foreach (var source in all)
        {
            await source.DisposeAsync();
        }
    }
}

public static class OneOffMigrator
{
    // A one-off tool: one pool for the run, disposed at its end.
    public static async Task<int> Main(string[] args)
    {
        await using var source = new MySqlDataSource(args[0]);
        await using var connection = await source.OpenConnectionAsync();
        return await connection.ExecuteAsync("SELECT 1");
    }
}

public sealed class RotatingMaster : IDisposable
{
    private MySqlDataSource _master;

    public RotatingMaster(string connectionString) => _master = new MySqlDataSource(connectionString);

    public MySqlDataSource Master => Volatile.Read(ref _master);

    public void Rotate(string connectionString)
    {
        var old = Interlocked.Exchange(ref _master, new MySqlDataSource(connectionString));
        old.Dispose();
    }

    public void Dispose() => _master.Dispose();
}
