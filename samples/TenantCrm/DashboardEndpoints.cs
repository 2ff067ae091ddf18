using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using TenantDbGuard;

namespace TenantCrm;

/// <summary><c>GET /api/dashboard</c>: the tenant's counts in one query.</summary>
internal static class DashboardEndpoints
{
    private const string Sql =
        """
        SELECT
            (SELECT COUNT(*) FROM customers) AS Customers,
            (SELECT COUNT(*) FROM deals) AS Deals,
            (SELECT COUNT(*) FROM deals WHERE stage NOT IN ('won', 'lost')) AS OpenDeals,
            (SELECT COALESCE(SUM(amount), 0) FROM deals WHERE stage NOT IN ('won', 'lost')) AS PipelineAmount
        """;

    public static void MapDashboard(this IEndpointRouteBuilder routes) =>
        routes.MapGet("/dashboard", async (Tenant tenant, TenantDatabase db, CancellationToken ct) =>
        {
            var rows = await db.QueryTenantAsync<Dashboard>(tenant.Key, Sql, cancellationToken: ct);
            return rows.Single();
        });

    /// <summary>The dashboard's counts.</summary>
    internal sealed class Dashboard
    {
        public long Customers { get; init; }

        public long Deals { get; init; }

        public long OpenDeals { get; init; }

        public decimal PipelineAmount { get; init; }
    }
}
