using System;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace TenantDbGuard;

/// <summary>Registers TenantDbGuard in a service collection.</summary>
public static class TenantDbGuardServiceCollectionExtensions
{
    /// <summary>
    /// Registers one <see cref="TenantDatabase"/> for the application (a singleton: one budget per process), using the
    /// container's <see cref="ILoggerFactory"/> and <see cref="IMeterFactory"/> when present.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets the options; <see cref="TenantDbGuardOptions.MasterConnectionString"/> is required.</param>
    /// <returns>The service collection, for chaining.</returns>
    public static IServiceCollection AddTenantDbGuard(this IServiceCollection services, Action<TenantDbGuardOptions> configure)
    {
        if (services is null)
        {
            throw new ArgumentNullException(nameof(services));
        }

        if (configure is null)
        {
            throw new ArgumentNullException(nameof(configure));
        }

        services.TryAddSingleton(provider =>
        {
            var options = new TenantDbGuardOptions();
            configure(options);
            return new TenantDatabase(options, provider.GetService<ILoggerFactory>(), provider.GetService<IMeterFactory>());
        });
        return services;
    }
}
