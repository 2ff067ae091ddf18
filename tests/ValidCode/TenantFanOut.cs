using System;
using System.Collections.Generic;
using System.Data;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace ValidCode;

/// <summary>Queries run over many tenants at once, each with its own connection, under a deadline.</summary>
public sealed class TenantFanOut(TenantDataSources sources)
{
    public async Task<IReadOnlyDictionary<string, long>> CountEverywhereAsync(
        IReadOnlyList<string> tenants, TimeSpan deadline, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(deadline);
        var tasks = tenants.Select(tenant => CountAsync(tenant, timeout.Token)).ToArray();
        var counts = await Task.WhenAll(tasks).ConfigureAwait(false);
        return tenants.Zip(counts).ToDictionary(pair => pair.First, pair => pair.Second, StringComparer.Ordinal);
    }

    public async Task<long> CountAsync(string tenant, CancellationToken ct)
    {
        await using var connection = await sources.GetDataSource(tenant).OpenConnectionAsync(ct).ConfigureAwait(false);
        return await connection.ExecuteScalarAsync<long>(
            new CommandDefinition("SELECT COUNT(*) FROM orders", cancellationToken: ct)).ConfigureAwait(false);
    }

    public async Task<int> ParallelForEachAsync(IEnumerable<string> tenants, CancellationToken ct)
    {
        var touched = 0;
        await Parallel.ForEachAsync(
            tenants,
            new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = ct },
            async (tenant, token) =>
            {
                await using var connection = await sources.GetDataSource(tenant).OpenConnectionAsync(token)
                    .ConfigureAwait(false);
                var rows = await connection.ExecuteAsync("UPDATE stats SET refreshed = NOW()").ConfigureAwait(false);
                Interlocked.Add(ref touched, rows);
            }).ConfigureAwait(false);
        return touched;
    }

    public int CompareTwo(string left, string right)
    {
        using (MySqlConnection a = sources.GetDataSource(left).OpenConnection(),
               b = sources.GetDataSource(right).OpenConnection())
        {
            return a.ExecuteScalar<int>("SELECT COUNT(*) FROM orders")
                - b.ExecuteScalar<int>("SELECT COUNT(*) FROM orders");
        }
    }
}

/// <summary>Readers that take their connection along (CommandBehavior.CloseConnection) and batches.</summary>
public sealed class ReaderHandOffs(TenantDataSources sources)
{
    public async Task<MySqlDataReader> OpenReaderAsync(string tenant, CancellationToken ct)
    {
        var connection = await sources.GetDataSource(tenant).OpenConnectionAsync(ct).ConfigureAwait(false);
        try
        {
            var command = new MySqlCommand("SELECT id, name FROM customers", connection);
            return await command.ExecuteReaderAsync(CommandBehavior.CloseConnection, ct).ConfigureAwait(false);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public async Task<List<string>> NamesAsync(string tenant, CancellationToken ct)
    {
        var names = new List<string>();
        await using var reader = await OpenReaderAsync(tenant, ct).ConfigureAwait(false);
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            names.Add(reader.GetString(1));
        }

        return names;
    }

    public async Task<int> BatchAsync(string tenant, IReadOnlyList<long> ids, CancellationToken ct)
    {
        await using var connection = await sources.GetDataSource(tenant).OpenConnectionAsync(ct).ConfigureAwait(false);
        await using var batch = new MySqlBatch(connection);
        foreach (var id in ids)
        {
            var command = new MySqlBatchCommand("DELETE FROM sessions WHERE id = @id");
            command.Parameters.AddWithValue("@id", id);
            batch.BatchCommands.Add(command);
        }

        return await batch.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }
}
