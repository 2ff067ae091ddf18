using System;
using System.Collections.Generic;
using System.Data;
using System.Data.Common;
using System.Linq;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace LegacyBilling;

public sealed record Invoice(int Id, string Number, decimal Total);

/// <summary>Invoices of one tenant, the way the first version of billing read them.</summary>
public sealed class InvoiceRepository
{
    private readonly string _connectionString;

    public InvoiceRepository(string connectionString)
    {
        _connectionString = connectionString;
    }

    // The report pages through the rows as it renders: the reader owns its connection and closes it when disposed.
    public DbDataReader OpenInvoiceReader(string tenant)
    {
        var connection = new MySqlConnection(_connectionString);
        connection.Open();
        connection.ChangeDatabase(tenant);
        var command = new MySqlCommand("SELECT id, number, total FROM invoices ORDER BY id", connection);
        return command.ExecuteReader(CommandBehavior.CloseConnection);
    }

    // The early return for a tenant without invoices skips the close.
    public async Task<Invoice?> LatestAsync(string tenant)
    {
        var connection = await Db.OpenTenantAsync(_connectionString, tenant);
        var count = await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM invoices WHERE total < 0");
        if (count > 0)
        {
            return null;
        }

        var latest = await connection.QuerySingleOrDefaultAsync<Invoice>("SELECT id, number, total FROM invoices ORDER BY id DESC LIMIT 1");
        connection.Close();
        return latest;
    }

    // Closed at the end, not when the query fails.
    public decimal Outstanding(string tenant)
    {
        var connection = Db.OpenTenant(_connectionString, tenant);
        var total = connection.ExecuteScalar<decimal>("SELECT COALESCE(SUM(total), 0) FROM invoices WHERE paid = 0");
        connection.Dispose();
        return total;
    }

    // Correct already: the using closes the connection on every path.
    public IReadOnlyList<Invoice> Page(string tenant, int size)
    {
        using var connection = Db.OpenTenant(_connectionString, tenant);
        return connection.Query<Invoice>("SELECT id, number, total FROM invoices ORDER BY id LIMIT @size", new { size }).ToList();
    }

    // Marks invoices paid in a transaction; the connection is closed only after a commit.
    public int MarkPaid(string tenant, int[] ids)
    {
        var connection = Db.OpenTenant(_connectionString, tenant);
        var transaction = connection.BeginTransaction();
        var updated = 0;
        foreach (var id in ids)
        {
            updated += connection.Execute("UPDATE invoices SET paid = paid WHERE id = @id", new { id }, transaction);
        }

        transaction.Commit();
        connection.Close();
        return updated;
    }
}
