using System;
using System.Collections.Generic;
using System.Data;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace LegacyBilling;

/// <summary>The nightly run over every tenant, from before anyone counted connections.</summary>
public sealed class NightlyJobs
{
    private readonly string _connectionString;

    public NightlyJobs(string connectionString)
    {
        _connectionString = connectionString;
    }

    // One connection, opened and closed again for each tenant; a failure in between leaves it open.
    public int RecalculateTotals(IEnumerable<string> tenants)
    {
        var connection = new MySqlConnection(_connectionString);
        var updated = 0;
        foreach (var tenant in tenants)
        {
            connection.Open();
            connection.ChangeDatabase(tenant);
            updated += connection.Execute("UPDATE invoices SET total = total");
            connection.Close();
        }

        connection.Dispose();
        return updated;
    }

    // Opened on first use in the loop and closed after it.
    public long CountLines(string[] tenants)
    {
        var connection = new MySqlConnection(_connectionString);
        long lines = 0;
        foreach (var tenant in tenants)
        {
            if (connection.State != ConnectionState.Open)
            {
                connection.Open();
            }

            connection.ChangeDatabase(tenant);
            lines += connection.ExecuteScalar<long>("SELECT COUNT(*) FROM invoice_lines");
        }

        connection.Close();
        return lines;
    }

    // Retries a dropped connection once, with a new one; the last one is never closed.
    public int Archive(string tenant)
    {
        var connection = Db.OpenTenant(_connectionString, tenant);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return connection.Execute("UPDATE invoices SET archived = 1 WHERE paid = 1");
            }
            catch (MySqlException) when (attempt < 2)
            {
                connection.Dispose();
                connection = Db.OpenTenant(_connectionString, tenant);
            }
        }
    }

    // Two tenants at once; both connections are closed at the end only.
    public async Task<decimal> CompareAsync(string left, string right)
    {
        var connections = await Task.WhenAll(Db.OpenTenantAsync(_connectionString, left), Db.OpenTenantAsync(_connectionString, right));
        var difference = await connections[0].ExecuteScalarAsync<decimal>("SELECT COALESCE(SUM(total), 0) FROM invoices")
                         - await connections[1].ExecuteScalarAsync<decimal>("SELECT COALESCE(SUM(total), 0) FROM invoices");
        foreach (var connection in connections)
        {
            await connection.CloseAsync();
        }

        return difference;
    }

    // Starts the connection while it logs, and awaits it after.
    public async Task<long> PendingAsync(string tenant)
    {
        var opening = Db.OpenTenantAsync(_connectionString, tenant);
        Console.Out.Flush();
        var connection = await opening;
        var count = await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM invoices WHERE paid = 0");
        await connection.DisposeAsync();
        return count;
    }
}
