using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace ValidCode;

public sealed record OutboxMessage(long Id, string Topic, string Payload);

/// <summary>Nightly housekeeping that walks every tenant database.</summary>
public sealed class TenantMaintenanceJob
{
    private static readonly string[] Tables = ["customers", "orders", "order_lines", "accounts"];
    private readonly TenantDataSources _dataSources;
    private readonly Action<string> _log;

    public TenantMaintenanceJob(TenantDataSources dataSources, Action<string> log)
    {
        _dataSources = dataSources;
        _log = log;
    }

    public async Task<IReadOnlyDictionary<string, int>> PurgeExpiredSessionsAsync(IEnumerable<string> tenants, TimeSpan maxAge, CancellationToken cancellationToken)
    {
        var cutoff = DateTime.UtcNow - maxAge;
        var purged = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        var options = new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = cancellationToken };

        await Parallel.ForEachAsync(tenants, options, async (tenant, token) =>
        {
            await using var conn = await _dataSources.GetDataSource(tenant).OpenConnectionAsync(token);
            purged[tenant] = await conn.ExecuteAsync(new CommandDefinition(
                "DELETE FROM sessions WHERE last_seen < @cutoff", new { cutoff }, cancellationToken: token));
        });

        return purged;
    }

    public async Task<IReadOnlyDictionary<string, long>> CountCustomersAsync(IEnumerable<string> tenants, CancellationToken cancellationToken)
    {
        var counts = await Task.WhenAll(tenants.Distinct(StringComparer.Ordinal).Select(async tenant =>
        {
            await using var conn = await _dataSources.GetDataSource(tenant).OpenConnectionAsync(cancellationToken);
            var count = await conn.ExecuteScalarAsync<long>(new CommandDefinition("SELECT COUNT(*) FROM customers", cancellationToken: cancellationToken));
            return KeyValuePair.Create(tenant, count);
        }));
        return counts.ToDictionary(StringComparer.Ordinal);
    }

    /// <summary>Publishes outbox rows batch by batch, reconnecting when the server closed the connection between batches.</summary>
    public async Task<int> RelayOutboxAsync(string tenant, Func<IReadOnlyList<OutboxMessage>, Task> publish, CancellationToken cancellationToken)
    {
        var dataSource = _dataSources.GetDataSource(tenant);
        var relayed = 0;
        MySqlConnection? conn = null;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                if (conn is null || conn.State != System.Data.ConnectionState.Open)
                {
                    if (conn is not null)
                    {
                        await conn.DisposeAsync();
                    }

                    conn = await dataSource.OpenConnectionAsync(cancellationToken);
                }

                var batch = (await conn.QueryAsync<OutboxMessage>(new CommandDefinition(
                    "SELECT id AS Id, topic AS Topic, payload AS Payload FROM outbox ORDER BY id LIMIT 100", cancellationToken: cancellationToken))).AsList();
                if (batch.Count == 0)
                {
                    break;
                }

                await publish(batch);
                await conn.ExecuteAsync(new CommandDefinition(
                    "DELETE FROM outbox WHERE id <= @last", new { last = batch[^1].Id }, cancellationToken: cancellationToken));
                relayed += batch.Count;
            }
        }
        finally
        {
            if (conn is not null)
            {
                await conn.DisposeAsync();
            }
        }

        return relayed;
    }

    public Task AnalyzeTablesAsync(string tenant, CancellationToken cancellationToken) => Task.Run(async () =>
    {
        await using var conn = await _dataSources.GetDataSource(tenant).OpenConnectionAsync(cancellationToken);
        foreach (var table in Tables)
        {
            await conn.ExecuteAsync(new CommandDefinition($"ANALYZE TABLE `{table}`", cancellationToken: cancellationToken));
        }
    }, cancellationToken);

    public async Task<int> RecalculateStatisticsAsync(IReadOnlyList<TenantInfo> tenants, CancellationToken cancellationToken)
    {
        var done = 0;
        foreach (var tenant in tenants)
        {
            if (!tenant.IsActive)
            {
                continue;
            }

            try
            {
                await using var conn = await _dataSources.GetDataSource(tenant.Key).OpenConnectionAsync(cancellationToken);
                var lagging = await conn.ExecuteScalarAsync<int>(new CommandDefinition(
                    "SELECT COUNT(*) FROM statistics_queue", cancellationToken: cancellationToken));
                if (lagging == 0)
                {
                    continue;
                }

                await conn.ExecuteAsync(new CommandDefinition("CALL recalculate_statistics()", cancellationToken: cancellationToken));
                done++;
            }
            catch (MySqlException ex) when (!cancellationToken.IsCancellationRequested)
            {
                _log($"Statistics for tenant {tenant.Key} failed: {ex.ErrorCode} {ex.Message}");
            }
        }

        return done;
    }

    public async Task<IReadOnlyList<string>> FindTenantsWithoutIndexAsync(IEnumerable<string> tenants, string table, string index, CancellationToken cancellationToken)
    {
        var missing = new List<string>();
        foreach (var tenant in tenants.Distinct(StringComparer.Ordinal))
        {
            using var conn = _dataSources.GetDataSource(tenant).OpenConnection();
            var present = await conn.ExecuteScalarAsync<int>(new CommandDefinition(
                "SELECT COUNT(*) FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = @table AND index_name = @index",
                new { table, index },
                cancellationToken: cancellationToken));
            if (present > 0)
            {
                continue;
            }

            missing.Add(tenant);
            if (missing.Count >= 100)
            {
                break;
            }
        }

        return missing;
    }
}
