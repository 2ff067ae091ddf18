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

        return Register(services, builder => builder.Configure(configure), registration: null);
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

        return Register(services, builder => builder.Configure<IServiceProvider>((options, provider) => configure(provider, options)), registration: null);
    }

    /// <summary>
    /// As <see cref="AddTenantDbGuard(IServiceCollection, Action{IServiceProvider, TenantDbGuardOptions})"/>, with a
    /// <see cref="TenantDatabaseBuilder"/> to configure: its <see cref="TenantDatabaseBuilder.Options"/> are the
    /// registered <c>IOptions&lt;TenantDbGuardOptions&gt;</c> (checked when the host starts), and its callbacks (a
    /// periodic password provider, certificate callbacks, a session callback) reach every connection the runtime opens.
    /// The container's logger and meter factories are set on the builder before <paramref name="configure"/> runs.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Configures the builder from the application's services; called once, when the options are first needed.</param>
    /// <returns>The service collection, for chaining.</returns>
    public static IServiceCollection AddTenantDbGuard(this IServiceCollection services, Action<IServiceProvider, TenantDatabaseBuilder> configure)
    {
        if (configure is null)
        {
            throw new ArgumentNullException(nameof(configure));
        }

        var registration = new BuilderRegistration();
        return Register(
            services,
            builder => builder.Configure<IServiceProvider>((options, provider) =>
            {
                var configured = new TenantDatabaseBuilder(options)
                    .UseLoggerFactory(provider.GetService<ILoggerFactory>())
                    .UseMeterFactory(provider.GetService<IMeterFactory>());
                configure(provider, configured);
                registration.Builder = configured;
            }),
            registration);
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

        return Register(services, builder => builder.Bind(configuration), registration: null);
    }

    private static IServiceCollection Register(IServiceCollection services, Action<OptionsBuilder<TenantDbGuardOptions>> configure, BuilderRegistration? registration)
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
        services.TryAddSingleton(provider =>
        {
            // Reading the options runs the builder's configuration (once: the options are cached).
            var options = provider.GetRequiredService<IOptions<TenantDbGuardOptions>>().Value;
            return registration?.Builder is { } builder
                ? builder.Build()
                : new TenantDatabase(options, provider.GetService<ILoggerFactory>(), provider.GetService<IMeterFactory>());
        });
        return services;
    }

    /// <summary>The builder the options' configuration filled in, for the registration that takes one.</summary>
    private sealed class BuilderRegistration
    {
        public TenantDatabaseBuilder? Builder { get; set; }
    }
}
