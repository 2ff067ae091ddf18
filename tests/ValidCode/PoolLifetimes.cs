using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using MySqlConnector;

namespace ValidCode;

/// <summary>Data sources created once and kept: static fields, DI singletons, swaps, and races settled once.</summary>
public static class StaticDataSources
{
    private static readonly MySqlDataSource Reporting = new("Server=reports;Database=reports");

    private static MySqlDataSource? s_audit;

    public static MySqlDataSource Audit
    {
        get
        {
            var current = Volatile.Read(ref s_audit);
            if (current is not null)
            {
                return current;
            }

            var created = new MySqlDataSource("Server=audit;Database=audit");
            var winner = Interlocked.CompareExchange(ref s_audit, created, null);
            if (winner is null)
            {
                return created;
            }

            created.Dispose();
            return winner;
        }
    }

    public static async Task<long> ReportCountAsync(CancellationToken ct)
    {
        await using var connection = await Reporting.OpenConnectionAsync(ct).ConfigureAwait(false);
        return await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM reports").ConfigureAwait(false);
    }
}

public static class DataSourceRegistration
{
    public static IServiceCollection AddTenantDatabases(this IServiceCollection services, string master)
    {
        services.AddSingleton(_ => new MySqlDataSourceBuilder(master).Build());
        services.AddSingleton(new TenantLocation("db", "audit", 10));
        services.AddKeyedSingleton("reports", (_, _) => new MySqlDataSource(master + ";Database=reports"));
        return services;
    }
}

/// <summary>A copy-on-write map of data sources: a lost race disposes only the pool it built itself.</summary>
public sealed class CopyOnWriteDataSources : IDisposable
{
    private ImmutableDictionary<string, MySqlDataSource> _byTenant =
        ImmutableDictionary.Create<string, MySqlDataSource>(StringComparer.Ordinal);

    public MySqlDataSource For(string tenant, string connectionString)
    {
        while (true)
        {
            var current = Volatile.Read(ref _byTenant);
            if (current.TryGetValue(tenant, out var existing))
            {
                return existing;
            }

            var created = new MySqlDataSource(connectionString);
            if (Interlocked.CompareExchange(ref _byTenant, current.SetItem(tenant, created), current) == current)
            {
                return created;
            }

            created.Dispose();
        }
    }

    public void Dispose()
    {
        foreach (var dataSource in Interlocked.Exchange(ref _byTenant, _byTenant.Clear()).Values)
        {
            dataSource.Dispose();
        }
    }
}

/// <summary>A pool per tenant added with TryAdd; the loser of a race disposes its own.</summary>
public sealed class TryAddDataSources : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, MySqlDataSource> _byTenant = new(StringComparer.Ordinal);

    public MySqlDataSource For(string tenant, string connectionString)
    {
        if (_byTenant.TryGetValue(tenant, out var existing))
        {
            return existing;
        }

        var created = new MySqlDataSource(connectionString);
        if (_byTenant.TryAdd(tenant, created))
        {
            return created;
        }

        created.Dispose();
        return _byTenant[tenant];
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var pair in _byTenant)
        {
            await pair.Value.DisposeAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>A holder built with an object initializer keeps the pool it is given.</summary>
public sealed class ReportingContext : IDisposable
{
    public required MySqlDataSource DataSource { get; init; }

    public static ReportingContext Create(string connectionString) =>
        new() { DataSource = new MySqlDataSource(connectionString) };

    public void Dispose() => DataSource.Dispose();
}
