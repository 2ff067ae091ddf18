using System;
using System.Collections.Generic;
using System.Data;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace ValidCode;

public sealed record TenantHealth(string Tenant, bool Reachable, TimeSpan? Latency, string? Error);

/// <summary>Checks that each tenant database answers, for the readiness endpoint.</summary>
public sealed class TenantHealthProbe
{
    /// <summary>The probe the readiness endpoint registers for the master database.</summary>
    public static readonly Func<MySqlDataSource, CancellationToken, Task<bool>> MasterProbe = async (dataSource, cancellationToken) =>
    {
        await using var conn = await dataSource.OpenConnectionAsync(cancellationToken);
        return await conn.PingAsync(cancellationToken);
    };

    private readonly TenantDataSources _dataSources;

    public TenantHealthProbe(TenantDataSources dataSources) => _dataSources = dataSources;

    public bool TryOpen(string tenant, [NotNullWhen(true)] out MySqlConnection? connection, out string? error)
    {
        try
        {
            connection = _dataSources.GetDataSource(tenant).OpenConnection();
            error = null;
            return true;
        }
        catch (MySqlException ex)
        {
            connection = null;
            error = $"{ex.ErrorCode}: {ex.Message}";
            return false;
        }
    }

    public TenantHealth Check(string tenant)
    {
        if (!TryOpen(tenant, out var connection, out var error))
        {
            return new TenantHealth(tenant, false, null, error);
        }

        using (connection)
        {
            var stopwatch = Stopwatch.StartNew();
            var ok = connection.Ping();
            return new TenantHealth(tenant, ok, ok ? stopwatch.Elapsed : null, ok ? null : "Ping failed");
        }
    }

    public async Task<TenantHealth> CheckAsync(string tenant, CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        var conn = await _dataSources.GetDataSource(tenant).OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (conn.ConfigureAwait(false))
        {
            if (!await conn.PingAsync(cancellationToken).ConfigureAwait(false))
            {
                return new TenantHealth(tenant, false, null, "Ping failed");
            }

            return new TenantHealth(tenant, true, stopwatch.Elapsed, null);
        }
    }

    public async Task<IReadOnlyList<TenantHealth>> CheckAllAsync(IEnumerable<string> tenants, CancellationToken cancellationToken)
    {
        var results = new List<TenantHealth>();
        foreach (var tenant in tenants)
        {
            try
            {
                results.Add(await CheckAsync(tenant, cancellationToken).ConfigureAwait(false));
            }
            catch (MySqlException ex)
            {
                results.Add(new TenantHealth(tenant, false, null, ex.Message));
            }
        }

        return results;
    }

    /// <summary>Opens a connection and a read-only snapshot transaction; the caller disposes both.</summary>
    public async Task<(MySqlConnection Connection, MySqlTransaction Snapshot)> BeginSnapshotAsync(string tenant, CancellationToken cancellationToken)
    {
        var conn = await _dataSources.GetDataSource(tenant).OpenConnectionAsync(cancellationToken);
        try
        {
            await conn.ExecuteAsync("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
            var snapshot = await conn.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken);
            return (conn, snapshot);
        }
        catch
        {
            await conn.DisposeAsync();
            throw;
        }
    }

    public async Task<long> CountRowsConsistentlyAsync(string tenant, string[] tables, CancellationToken cancellationToken)
    {
        var (conn, snapshot) = await BeginSnapshotAsync(tenant, cancellationToken);
        await using (conn)
        await using (snapshot)
        {
            long total = 0;
            foreach (var table in tables)
            {
                total += await conn.ExecuteScalarAsync<long>(new CommandDefinition($"SELECT COUNT(*) FROM `{table}`", transaction: snapshot, cancellationToken: cancellationToken));
            }

            return total;
        }
    }

    public static void CloseQuietly(MySqlConnection? connection)
    {
        if (connection is { State: ConnectionState.Open })
        {
            connection.Close();
        }
    }
}
