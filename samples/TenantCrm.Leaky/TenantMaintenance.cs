using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using TenantDbGuard;

namespace TenantCrm.Leaky;

/// <summary>Background jobs over every tenant: the places where a lost lease costs the most, once per tenant.</summary>
public sealed class TenantMaintenance(TenantDatabase db)
{
    // LEAK: "warming up" by taking a lease and discarding it; every tenant keeps one connection out.
    public async Task WarmUpAsync(IEnumerable<string> tenants, CancellationToken ct)
    {
        foreach (var tenant in tenants)
        {
            await db.GetConnectionAsync(tenant, ct);
        }
    }

    // LEAK: the master lease taken in the lambda is never given back; one per tenant, until the master cap is reached.
    public Task TouchLastSeenAsync(IEnumerable<string> tenants, CancellationToken ct) =>
        Parallel.ForEachAsync(tenants, ct, async (tenant, token) =>
        {
            var master = await db.GetMasterConnectionAsync(token);
            await master.Connection.ExecuteAsync("UPDATE users SET display_name = display_name WHERE tenant_key = @tenant", new { tenant });
        });

    // Correct: the helper gives the connection back however the statement ends.
    public Task AnalyzeAsync(string tenant, CancellationToken ct) =>
        db.ExecuteTenantAsync(tenant, "ANALYZE TABLE customers, deals", cancellationToken: ct);
}
