using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace ValidCode;

/// <summary>Connections released across loops, nested scopes, locks and exception filters.</summary>
public sealed class ControlFlowShapes(TenantDataSources sources)
{
    private readonly object _sync = new();
    private readonly Dictionary<string, int> _counts = new(StringComparer.Ordinal);

    public int FirstNonEmpty(IReadOnlyList<string> tenants)
    {
        foreach (var tenant in tenants)
        {
            using var connection = sources.GetDataSource(tenant).OpenConnection();
            var count = connection.ExecuteScalar<int>("SELECT COUNT(*) FROM orders");
            if (count == 0)
            {
                continue;
            }

            if (count < 0)
            {
                break;
            }

            return count;
        }

        return 0;
    }

    public int NestedScopes(string tenant, bool withLines)
    {
        var total = 0;
        {
            using var connection = sources.GetDataSource(tenant).OpenConnection();
            total += connection.ExecuteScalar<int>("SELECT COUNT(*) FROM orders");
            if (withLines)
            {
                using var second = sources.GetDataSource(tenant).OpenConnection();
                total += second.ExecuteScalar<int>("SELECT COUNT(*) FROM order_lines");
            }
        }

        return total;
    }

    public void Remember(string tenant)
    {
        int count;
        using (var connection = sources.GetDataSource(tenant).OpenConnection())
        {
            count = connection.ExecuteScalar<int>("SELECT COUNT(*) FROM orders");
        }

        lock (_sync)
        {
            _counts[tenant] = count;
        }
    }

    public string Describe(string tenant)
    {
        MySqlConnection? connection = null;
        try
        {
            connection = sources.GetDataSource(tenant).OpenConnection();
            return connection.ServerVersion;
        }
        catch (MySqlException e) when (e.ErrorCode == MySqlErrorCode.UnknownDatabase)
        {
            return "missing";
        }
        finally
        {
            connection?.Dispose();
        }
    }

    public async Task<int> WhileReadingAsync(string tenant, CancellationToken ct)
    {
        var pages = 0;
        var last = 0L;
        while (!ct.IsCancellationRequested)
        {
            await using var connection = await sources.GetDataSource(tenant).OpenConnectionAsync(ct)
                .ConfigureAwait(false);
            var ids = (await connection.QueryAsync<long>("SELECT id FROM orders WHERE id > @last LIMIT 100",
                new { last }).ConfigureAwait(false)).AsList();
            if (ids.Count == 0)
            {
                break;
            }

            last = ids[^1];
            pages++;
        }

        return pages;
    }

    public int WithLocalFunction(string tenant)
    {
        return Count("orders") + Count("customers");

        int Count(string table)
        {
            using var connection = sources.GetDataSource(tenant).OpenConnection();
            return connection.ExecuteScalar<int>("SELECT COUNT(*) FROM " + table);
        }
    }

    public int SwitchOnKind(string tenant, string kind)
    {
        using var connection = sources.GetDataSource(tenant).OpenConnection();
        return kind switch
        {
            "orders" => connection.ExecuteScalar<int>("SELECT COUNT(*) FROM orders"),
            "customers" => connection.ExecuteScalar<int>("SELECT COUNT(*) FROM customers"),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown kind."),
        };
    }

    public async Task<int> DoWhileAsync(string tenant, CancellationToken ct)
    {
        var deleted = 0;
        int batch;
        do
        {
            var connection = await sources.GetDataSource(tenant).OpenConnectionAsync(ct).ConfigureAwait(false);
            try
            {
                batch = await connection.ExecuteAsync("DELETE FROM sessions WHERE expired = 1 LIMIT 500")
                    .ConfigureAwait(false);
            }
            finally
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }

            deleted += batch;
        }
        while (batch > 0);

        return deleted;
    }
}
