using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using TenantCrm.Seeding;
using TenantDbGuard;

namespace TenantCrm;

/// <summary><c>GET /health</c>: readiness. 200 once seeding is done, 503 before (and after a failure).</summary>
internal static class HealthEndpoints
{
    public static void MapHealth(this IEndpointRouteBuilder routes) =>
        routes.MapGet("/health", (SeedState seeding, TenantDatabase db, HttpContext context) =>
        {
            var state = seeding.Current;
            var budget = db.GetBudgetSnapshot();
            var body = new Health(
                state.Status.ToString().ToLowerInvariant(),
                state.Tenants,
                state.Duration?.TotalMilliseconds,
                state.Error,
                new Budget(budget.Limit, budget.Open, budget.InUse, budget.Waiting));
            if (state.Status != SeedStatus.Ready)
            {
                context.Response.Headers.RetryAfter = "1";
                return Results.Json(body, statusCode: StatusCodes.Status503ServiceUnavailable);
            }

            return Results.Ok(body);
        });

    /// <summary>The readiness report.</summary>
    /// <param name="Status"><c>seeding</c>, <c>ready</c> or <c>failed</c>.</param>
    /// <param name="Tenants">The tenants seeded.</param>
    /// <param name="SeedMilliseconds">How long seeding took.</param>
    /// <param name="Error">Why seeding failed.</param>
    /// <param name="Budget">The runtime's connection budget now.</param>
    internal sealed record Health(string Status, int Tenants, double? SeedMilliseconds, string? Error, Budget Budget);

    /// <summary>The runtime's connection budget: its limit, the connections open and in use, and callers waiting.</summary>
    internal sealed record Budget(int Limit, int Open, int InUse, int Waiting);
}
