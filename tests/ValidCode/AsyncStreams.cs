using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace ValidCode;

/// <summary>Streams rows; the iterator owns its connection and releases it when the caller stops.</summary>
public sealed class OrderStream(TenantDataSources sources)
{
    public async IAsyncEnumerable<long> IdsAsync(string tenant, [EnumeratorCancellation] CancellationToken ct = default)
    {
        await using var connection = await sources.GetDataSource(tenant).OpenConnectionAsync(ct).ConfigureAwait(false);
        await using var command = new MySqlCommand("SELECT id FROM orders ORDER BY id", connection);
        await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            yield return reader.GetInt64(0);
        }
    }

    public async IAsyncEnumerable<OrderHeader> UnbufferedAsync(
        string tenant, [EnumeratorCancellation] CancellationToken ct = default)
    {
        var connection = await sources.GetDataSource(tenant).OpenConnectionAsync(ct).ConfigureAwait(false);
        try
        {
            await foreach (var order in connection.QueryUnbufferedAsync<OrderHeader>(
                "SELECT id, customer_id AS CustomerId, total FROM orders").WithCancellation(ct).ConfigureAwait(false))
            {
                yield return order;
            }
        }
        finally
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    public IEnumerable<string> Skus(string tenant)
    {
        using var connection = sources.GetDataSource(tenant).OpenConnection();
        foreach (var sku in connection.Query<string>("SELECT sku FROM products", buffered: false))
        {
            yield return sku;
        }
    }

    public async Task<long> SumAsync(string tenant, CancellationToken ct)
    {
        var total = 0L;
        await foreach (var id in IdsAsync(tenant, ct).ConfigureAwait(false))
        {
            if (id < 0)
            {
                break;
            }

            total += id;
        }

        return total;
    }
}
