using System;
using System.Collections.Generic;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace TenantDbGuard;

/// <summary>Registers the <see cref="TenantDbGuardHealthCheck"/>.</summary>
public static class TenantDbGuardHealthChecksBuilderExtensions
{
    /// <summary>The name the check is registered under unless another is given.</summary>
    public const string DefaultName = "tenantdbguard";

    /// <summary>
    /// Adds a check of the application's <see cref="TenantDatabase"/> (registered with
    /// <c>services.AddTenantDbGuard(...)</c>): Degraded when the connection budget is saturated or callers timed out
    /// recently, <paramref name="failureStatus"/> when the master database cannot be reached.
    /// </summary>
    /// <param name="builder">The health checks builder (<c>services.AddHealthChecks()</c>).</param>
    /// <param name="configure">Changes the settings (the timeout window, the probe's timeout).</param>
    /// <param name="name">The check's name in the report. Default <c>tenantdbguard</c>.</param>
    /// <param name="failureStatus">The status when the master database cannot be reached. Default Unhealthy.</param>
    /// <param name="tags">Tags to select the check by (e.g. <c>ready</c>).</param>
    /// <returns>The builder, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> or <paramref name="name"/> is null.</exception>
    public static IHealthChecksBuilder AddTenantDbGuard(
        this IHealthChecksBuilder builder,
        Action<TenantDbGuardHealthCheckOptions>? configure = null,
        string name = DefaultName,
        HealthStatus? failureStatus = null,
        IEnumerable<string>? tags = null)
    {
        if (builder is null)
        {
            throw new ArgumentNullException(nameof(builder));
        }

        if (name is null)
        {
            throw new ArgumentNullException(nameof(name));
        }

        var options = new TenantDbGuardHealthCheckOptions();
        configure?.Invoke(options);
        return builder.Add(new HealthCheckRegistration(
            name,
            provider => new TenantDbGuardHealthCheck(provider.GetRequiredService<TenantDatabase>(), options),
            failureStatus,
            tags));
    }
}
