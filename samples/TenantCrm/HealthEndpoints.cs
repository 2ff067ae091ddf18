using System.Collections.Generic;
using System.Linq;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using TenantCrm.Seeding;
using TenantDbGuard;

namespace TenantCrm;

/// <summary>
/// <c>GET /health</c>: the health checks (seeding, and TenantDbGuard's budget and master database). 200 when Healthy or
/// Degraded, 503 when Unhealthy (while seeding, after a failure, or with the master database out of reach).
/// </summary>
internal static class HealthEndpoints
{
    public const string SeedingCheck = "seeding";

    /// <summary>Registers the checks: seeding, and the runtime's (<c>TenantDbGuard.HealthChecks</c>).</summary>
    public static IServiceCollection AddCrmHealthChecks(this IServiceCollection services)
    {
        services.AddHealthChecks()
            .AddCheck<SeedingHealthCheck>(SeedingCheck)
            .AddTenantDbGuard();
        return services;
    }

    public static void MapHealth(this IEndpointRouteBuilder routes) =>
        routes.MapHealthChecks("/health", new HealthCheckOptions { ResponseWriter = WriteAsync });

    private static Task WriteAsync(HttpContext context, HealthReport report)
    {
        var state = context.RequestServices.GetRequiredService<SeedState>().Current;
        var budget = context.RequestServices.GetRequiredService<TenantDatabase>().GetBudgetSnapshot();
        if (report.Status == HealthStatus.Unhealthy)
        {
            context.Response.Headers.RetryAfter = "1";
        }

        var body = new HealthBody(
            state.Status.ToString().ToLowerInvariant(),
            report.Status.ToString(),
            state.Tenants,
            state.Duration?.TotalMilliseconds,
            state.Error,
            new Budget(budget.Limit, budget.Open, budget.InUse, budget.Waiting),
            report.Entries.ToDictionary(entry => entry.Key, entry => new Check(entry.Value.Status.ToString(), entry.Value.Description, entry.Value.Data)));
        return context.Response.WriteAsJsonAsync(body, JsonSerializerOptions.Web, context.RequestAborted);
    }

    /// <summary>The health report.</summary>
    /// <param name="Status"><c>seeding</c>, <c>ready</c> or <c>failed</c>.</param>
    /// <param name="Health">The worst status of the checks: <c>Healthy</c>, <c>Degraded</c> or <c>Unhealthy</c>.</param>
    /// <param name="Tenants">The tenants seeded.</param>
    /// <param name="SeedMilliseconds">How long seeding took.</param>
    /// <param name="Error">Why seeding failed.</param>
    /// <param name="Budget">The runtime's connection budget now.</param>
    /// <param name="Checks">Each check's status, description and data.</param>
    internal sealed record HealthBody(string Status, string Health, int Tenants, double? SeedMilliseconds, string? Error, Budget Budget, Dictionary<string, Check> Checks);

    /// <summary>The runtime's connection budget: its limit, the connections open and in use, and callers waiting.</summary>
    internal sealed record Budget(int Limit, int Open, int InUse, int Waiting);

    /// <summary>One check's result.</summary>
    internal sealed record Check(string Status, string? Description, IReadOnlyDictionary<string, object> Data);

    /// <summary>Unhealthy until seeding is done: the app takes no traffic before.</summary>
    private sealed class SeedingHealthCheck(SeedState seeding) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            var state = seeding.Current;
            return Task.FromResult(state.Status switch
            {
                SeedStatus.Ready => HealthCheckResult.Healthy($"{state.Tenants} tenants seeded."),
                SeedStatus.Seeding => HealthCheckResult.Unhealthy("Seeding the databases."),
                _ => HealthCheckResult.Unhealthy($"Seeding failed: {state.Error}"),
            });
        }
    }
}
