using System;
using System.Diagnostics.Metrics;
using System.Linq;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace TenantDbGuard;

/// <summary>Registers TenantDbGuard in a service collection.</summary>
/// <remarks>
/// The options are <see cref="IOptions{TOptions}"/> of <see cref="TenantDbGuardOptions"/>, checked by a registered
/// <see cref="IValidateOptions{TOptions}"/> with <c>ValidateOnStart</c>: a host with bad options fails to start with an
/// <see cref="OptionsValidationException"/> that lists every problem. They can be changed further with
/// <c>services.Configure&lt;TenantDbGuardOptions&gt;(...)</c>. Only the first registration counts: a second call of any
/// overload changes nothing.
/// </remarks>
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
        if (configure is null)
        {
            throw new ArgumentNullException(nameof(configure));
        }

        return Register(services, builder => builder.Configure(configure));
    }

    /// <summary>
    /// As <see cref="AddTenantDbGuard(IServiceCollection, Action{TenantDbGuardOptions})"/>, with the application's
    /// services at hand while the options are set (to build a <see cref="TenantDbGuardOptions.TenantResolver"/> on a
    /// service, or read a secret store).
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets the options from the application's services; called once, when the options are first needed.</param>
    /// <returns>The service collection, for chaining.</returns>
    public static IServiceCollection AddTenantDbGuard(this IServiceCollection services, Action<IServiceProvider, TenantDbGuardOptions> configure)
    {
        if (configure is null)
        {
            throw new ArgumentNullException(nameof(configure));
        }

        return Register(services, builder => builder.Configure<IServiceProvider>((options, provider) => configure(provider, options)));
    }

    /// <summary>
    /// As <see cref="AddTenantDbGuard(IServiceCollection, Action{TenantDbGuardOptions})"/>, with the options bound from
    /// configuration, e.g. <c>services.AddTenantDbGuard(configuration.GetSection("TenantDbGuard"))</c>: the keys are the
    /// option names (<c>MasterConnectionString</c>, <c>MaxConnectionsPerTenant</c>, <c>AcquireTimeout</c> as
    /// <c>00:00:15</c>, ...). <see cref="TenantDbGuardOptions.TenantResolver"/> cannot come from configuration: set it
    /// with <c>services.Configure&lt;TenantDbGuardOptions&gt;(...)</c>.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configuration">The section that holds the options; bound again when it reloads (a running
    /// <see cref="TenantDatabase"/> keeps the options it was created with).</param>
    /// <returns>The service collection, for chaining.</returns>
    public static IServiceCollection AddTenantDbGuard(this IServiceCollection services, IConfiguration configuration)
    {
        if (configuration is null)
        {
            throw new ArgumentNullException(nameof(configuration));
        }

        return Register(services, builder => builder.Bind(configuration));
    }

    private static IServiceCollection Register(IServiceCollection services, Action<OptionsBuilder<TenantDbGuardOptions>> configure)
    {
        if (services is null)
        {
            throw new ArgumentNullException(nameof(services));
        }

        if (services.Any(descriptor => descriptor.ServiceType == typeof(TenantDatabase)))
        {
            return services;
        }

        var builder = services.AddOptions<TenantDbGuardOptions>();
        configure(builder);
        builder.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TenantDbGuardOptions>, TenantDbGuardOptionsValidator>());
        services.TryAddSingleton(provider => new TenantDatabase(
            provider.GetRequiredService<IOptions<TenantDbGuardOptions>>().Value,
            provider.GetService<ILoggerFactory>(),
            provider.GetService<IMeterFactory>()));
        return services;
    }
}
