using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace ValidCode;

public sealed record ProductImport(string Sku, string Name, decimal Price, int Stock);

public sealed record ImportResult(int Received, int Rejected, int Written);

public sealed class ProductImportService
{
    private const int BatchSize = 500;
    private readonly TenantDataSources _dataSources;

    public ProductImportService(TenantDataSources dataSources) => _dataSources = dataSources;

    public async Task<ImportResult> ImportAsync(string tenant, IReadOnlyList<ProductImport> items, CancellationToken cancellationToken)
    {
        var valid = items.Where(IsValid).DistinctBy(p => p.Sku, StringComparer.OrdinalIgnoreCase).ToList();
        if (valid.Count == 0)
        {
            return new ImportResult(items.Count, items.Count, 0);
        }

        var written = 0;
        foreach (var batch in valid.Chunk(BatchSize))
        {
            written += await WriteBatchAsync(batch);
        }

        return new ImportResult(items.Count, items.Count - valid.Count, written);

        async Task<int> WriteBatchAsync(ProductImport[] batch)
        {
            await using var conn = await OpenStrictAsync();
            await using var tx = await conn.BeginTransactionAsync(cancellationToken);
            var rows = await conn.ExecuteAsync(
                "INSERT INTO products (sku, name, price, stock) VALUES (@Sku, @Name, @Price, @Stock) "
                    + "ON DUPLICATE KEY UPDATE name = VALUES(name), price = VALUES(price), stock = VALUES(stock)",
                batch.Select(Normalize),
                tx);
            await tx.CommitAsync(cancellationToken);
            return rows;
        }

        async ValueTask<MySqlConnection> OpenStrictAsync()
        {
            var conn = await _dataSources.GetDataSource(tenant).OpenConnectionAsync(cancellationToken);
            try
            {
                await conn.ExecuteAsync("SET SESSION sql_mode = 'STRICT_ALL_TABLES'");
                return conn;
            }
            catch
            {
                await conn.DisposeAsync();
                throw;
            }
        }

        static bool IsValid(ProductImport p) =>
            !string.IsNullOrWhiteSpace(p.Sku) && p.Sku.Length <= 64 && !string.IsNullOrWhiteSpace(p.Name) && p.Price >= 0 && p.Stock >= 0;

        static ProductImport Normalize(ProductImport p) =>
            p with { Sku = p.Sku.Trim().ToUpperInvariant(), Name = p.Name.Trim(), Price = decimal.Round(p.Price, 2) };
    }

    public int DeleteDiscontinued(string tenant, IEnumerable<string> skus)
    {
        var list = skus.Select(s => s.Trim().ToUpperInvariant()).Where(s => s.Length > 0).ToArray();
        return list.Length == 0 ? 0 : Delete();

        int Delete()
        {
            using var conn = _dataSources.GetDataSource(tenant).OpenConnection();
            return conn.Execute("DELETE FROM products WHERE sku IN @list", new { list });
        }
    }
}
