using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
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
            provider => provider.GetService<TenantDatabase>() is { } database
                ? new TenantDbGuardHealthCheck(database, options)
                : new MissingRuntime(
                    "The TenantDbGuard health check found no TenantDatabase registered without a key: call " +
                    "services.AddTenantDbGuard(...), or check a runtime registered with " +
                    "services.AddKeyedTenantDbGuard(key, ...) with AddHealthChecks().AddKeyedTenantDbGuard(key)."),
            failureStatus,
            tags));
    }

    /// <summary>
    /// As <see cref="AddTenantDbGuard"/>, for the <see cref="TenantDatabase"/> registered under
    /// <paramref name="serviceKey"/> with <c>services.AddKeyedTenantDbGuard(serviceKey, ...)</c> (one check per
    /// cluster).
    /// </summary>
    /// <param name="builder">The health checks builder (<c>services.AddHealthChecks()</c>).</param>
    /// <param name="serviceKey">The key the runtime is registered under.</param>
    /// <param name="configure">Changes the settings (the timeout window, the probe's timeout).</param>
    /// <param name="name">The check's name in the report. Default <c>tenantdbguard-</c> and the key.</param>
    /// <param name="failureStatus">The status when the master database cannot be reached. Default Unhealthy.</param>
    /// <param name="tags">Tags to select the check by (e.g. <c>ready</c>).</param>
    /// <returns>The builder, for chaining.</returns>
    /// <exception cref="ArgumentNullException">
    /// <paramref name="builder"/> or <paramref name="serviceKey"/> is null.
    /// </exception>
    /// <exception cref="ArgumentException"><paramref name="serviceKey"/> is empty.</exception>
    public static IHealthChecksBuilder AddKeyedTenantDbGuard(
        this IHealthChecksBuilder builder,
        string serviceKey,
        Action<TenantDbGuardHealthCheckOptions>? configure = null,
        string? name = null,
        HealthStatus? failureStatus = null,
        IEnumerable<string>? tags = null)
    {
        if (builder is null)
        {
            throw new ArgumentNullException(nameof(builder));
        }

        if (serviceKey is null)
        {
            throw new ArgumentNullException(nameof(serviceKey));
        }

        if (serviceKey.Length == 0)
        {
            throw new ArgumentException(
                "The service key must not be empty: check the unkeyed runtime with AddTenantDbGuard().",
                nameof(serviceKey));
        }

        var options = new TenantDbGuardHealthCheckOptions();
        configure?.Invoke(options);
        return builder.Add(new HealthCheckRegistration(
            name ?? DefaultName + "-" + serviceKey,
            provider => provider.GetKeyedService<TenantDatabase>(serviceKey) is { } database
                ? new TenantDbGuardHealthCheck(database, options)
                : new MissingRuntime(
                    $"The TenantDbGuard health check found no TenantDatabase registered with the key '{serviceKey}': " +
                    $"register it with services.AddKeyedTenantDbGuard(\"{serviceKey}\", ...)."),
            failureStatus,
            tags));
    }

    /// <summary>
    /// The check of a runtime that is not registered: its failure status, with what to register. (A registration
    /// whose factory throws fails the whole health report, every other check's entry with it.)
    /// </summary>
    private sealed class MissingRuntime(string description) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(
            HealthCheckContext context,
            CancellationToken cancellationToken = default) =>
            Task.FromResult(new HealthCheckResult(
                context?.Registration?.FailureStatus ?? HealthStatus.Unhealthy,
                description,
                new InvalidOperationException(description)));
    }
}
