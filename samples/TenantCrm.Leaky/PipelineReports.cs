using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using TenantDbGuard;

namespace TenantCrm.Leaky;

/// <summary>
/// Reports over a tenant's deals, written with leases the way code is often first written. Each method marked LEAK
/// keeps its connection on some path, and TDG001 reports it on the call that takes the lease; the methods marked
/// correct hold a lease the same way and are not reported.
/// </summary>
public sealed class PipelineReports(TenantDatabase db)
{
    // LEAK: the early return for a tenant without deals skips the release.
    public async Task<IReadOnlyList<string>> TopCustomersAsync(string tenant, CancellationToken ct)
    {
        var lease = await db.GetConnectionAsync(tenant, ct);
        var deals = await lease.Connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM deals");
        if (deals == 0)
        {
            return [];
        }

        var names = await lease.Connection.QueryAsync<string>(
            "SELECT c.name FROM customers c JOIN deals d ON d.customer_id = c.id GROUP BY c.id, c.name ORDER BY SUM(d.amount) DESC LIMIT 10");
        await lease.DisposeAsync();
        return names.AsList();
    }

    // LEAK: released at the end without finally; when the query fails, the lease stays out.
    public async Task<decimal> PipelineAmountAsync(string tenant, CancellationToken ct)
    {
        var lease = await db.GetConnectionAsync(tenant, ct);
        var amount = await lease.Connection.ExecuteScalarAsync<decimal>("SELECT COALESCE(SUM(amount), 0) FROM deals WHERE stage NOT IN ('won', 'lost')");
        lease.Dispose();
        return amount;
    }

    // LEAK: released only in the catch, so every successful export keeps its lease.
    public async Task<IReadOnlyList<string>> ExportDealTitlesAsync(string tenant, CancellationToken ct)
    {
        var lease = await db.GetConnectionAsync(tenant, ct);
        try
        {
            var titles = await lease.Connection.QueryAsync<string>("SELECT title FROM deals ORDER BY id");
            return titles.AsList();
        }
        catch
        {
            await lease.DisposeAsync();
            throw;
        }
    }

    // LEAK: `continue` skips the release for every tenant without open deals.
    public async Task<Dictionary<string, long>> OpenDealsPerTenantAsync(IEnumerable<string> tenants, CancellationToken ct)
    {
        var open = new Dictionary<string, long>();
        foreach (var tenant in tenants)
        {
            var lease = await db.GetConnectionAsync(tenant, ct);
            var count = await lease.Connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM deals WHERE stage NOT IN ('won', 'lost')");
            if (count == 0)
            {
                continue;
            }

            open[tenant] = count;
            await lease.DisposeAsync();
        }

        return open;
    }

    // Correct: `await using` releases on every path, the early return and exceptions included.
    public async Task<long> WonDealsAsync(string tenant, CancellationToken ct)
    {
        await using var lease = await db.GetConnectionAsync(tenant, ct);
        var customers = await lease.Connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM customers");
        if (customers == 0)
        {
            return 0;
        }

        return await lease.Connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM deals WHERE stage = 'won'");
    }

    // Correct: the helper takes and releases the connection itself.
    public async Task<long> LostDealsAsync(string tenant, CancellationToken ct) =>
        await db.ExecuteScalarTenantAsync<long>(tenant, "SELECT COUNT(*) FROM deals WHERE stage = 'lost'", cancellationToken: ct);

    // Correct: the lease is handed to the caller, who owns it from here on.
    public async Task<TenantConnectionLease> OpenForStreamingAsync(string tenant, CancellationToken ct)
    {
        var lease = await db.GetConnectionAsync(tenant, ct);
        try
        {
            await lease.Connection.ExecuteAsync("SET SESSION net_write_timeout = 600");
            return lease;
        }
        catch
        {
            await lease.DisposeAsync();
            throw;
        }
    }

    // Correct: a lease per tenant, each released by `await using` before the next.
    public async Task<long> CustomersOfAllAsync(IEnumerable<string> tenants, CancellationToken ct)
    {
        long total = 0;
        foreach (var tenant in tenants.Distinct())
        {
            await using var lease = await db.GetConnectionAsync(tenant, ct);
            total += await lease.Connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM customers");
        }

        return total;
    }
}
