using System;
using System.Diagnostics.Metrics;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
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
/// <c>services.Configure&lt;TenantDbGuardOptions&gt;(...)</c>. Only the first unkeyed registration counts: a second call of
/// any <c>AddTenantDbGuard</c> overload changes nothing. An application with several clusters registers one runtime per
/// cluster with <c>AddKeyedTenantDbGuard("eu", ...)</c>; a second registration under the same key is refused.
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

        return Register(services, serviceKey: null, builder => builder.Configure(configure), registration: null);
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

        return Register(services, serviceKey: null, builder => builder.Configure<IServiceProvider>((options, provider) => configure(provider, options)), registration: null);
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

        return RegisterWithBuilder(services, serviceKey: null, configure);
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

        return Register(services, serviceKey: null, builder => builder.Bind(configuration), registration: null);
    }

    /// <summary>
    /// Registers a <see cref="TenantDatabase"/> under <paramref name="serviceKey"/>, for an application that talks to more
    /// than one cluster (each with its own master database, tenants table and connection budget): resolve it with
    /// <c>[FromKeyedServices("eu")] TenantDatabase db</c> or <c>provider.GetRequiredKeyedService&lt;TenantDatabase&gt;("eu")</c>.
    /// Its options are the named options <paramref name="serviceKey"/> (<c>IOptionsMonitor&lt;TenantDbGuardOptions&gt;.Get("eu")</c>,
    /// changed further with <c>services.Configure&lt;TenantDbGuardOptions&gt;("eu", ...)</c>), checked when the host starts.
    /// Every key gets a runtime of its own, apart from the unkeyed one and from every other key, and the container
    /// disposes each of them.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="serviceKey">The key; not empty (the unkeyed registration is <see cref="AddTenantDbGuard(IServiceCollection, Action{TenantDbGuardOptions})"/>).</param>
    /// <param name="configure">Sets the options; <see cref="TenantDbGuardOptions.MasterConnectionString"/> is required.</param>
    /// <returns>The service collection, for chaining.</returns>
    /// <exception cref="InvalidOperationException">A <see cref="TenantDatabase"/> is already registered under <paramref name="serviceKey"/>.</exception>
    public static IServiceCollection AddKeyedTenantDbGuard(this IServiceCollection services, string serviceKey, Action<TenantDbGuardOptions> configure)
    {
        if (configure is null)
        {
            throw new ArgumentNullException(nameof(configure));
        }

        return Register(services, CheckKey(serviceKey), builder => builder.Configure(configure), registration: null);
    }

    /// <summary>
    /// As <see cref="AddKeyedTenantDbGuard(IServiceCollection, string, Action{TenantDbGuardOptions})"/>, with the
    /// application's services at hand while the options are set.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="serviceKey">The key; not empty.</param>
    /// <param name="configure">Sets the options from the application's services; called once, when the options are first needed.</param>
    /// <returns>The service collection, for chaining.</returns>
    /// <exception cref="InvalidOperationException">A <see cref="TenantDatabase"/> is already registered under <paramref name="serviceKey"/>.</exception>
    public static IServiceCollection AddKeyedTenantDbGuard(this IServiceCollection services, string serviceKey, Action<IServiceProvider, TenantDbGuardOptions> configure)
    {
        if (configure is null)
        {
            throw new ArgumentNullException(nameof(configure));
        }

        return Register(services, CheckKey(serviceKey), builder => builder.Configure<IServiceProvider>((options, provider) => configure(provider, options)), registration: null);
    }

    /// <summary>
    /// As <see cref="AddKeyedTenantDbGuard(IServiceCollection, string, Action{TenantDbGuardOptions})"/>, with a
    /// <see cref="TenantDatabaseBuilder"/> to configure (see
    /// <see cref="AddTenantDbGuard(IServiceCollection, Action{IServiceProvider, TenantDatabaseBuilder})"/>).
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="serviceKey">The key; not empty.</param>
    /// <param name="configure">Configures the builder from the application's services; called once, when the options are first needed.</param>
    /// <returns>The service collection, for chaining.</returns>
    /// <exception cref="InvalidOperationException">A <see cref="TenantDatabase"/> is already registered under <paramref name="serviceKey"/>.</exception>
    public static IServiceCollection AddKeyedTenantDbGuard(this IServiceCollection services, string serviceKey, Action<IServiceProvider, TenantDatabaseBuilder> configure)
    {
        if (configure is null)
        {
            throw new ArgumentNullException(nameof(configure));
        }

        return RegisterWithBuilder(services, CheckKey(serviceKey), configure);
    }

    /// <summary>
    /// As <see cref="AddKeyedTenantDbGuard(IServiceCollection, string, Action{TenantDbGuardOptions})"/>, with the
    /// options bound from configuration, e.g.
    /// <c>services.AddKeyedTenantDbGuard("eu", configuration.GetSection("TenantDbGuard:eu"))</c> (see
    /// <see cref="AddTenantDbGuard(IServiceCollection, IConfiguration)"/> for the keys).
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="serviceKey">The key; not empty.</param>
    /// <param name="configuration">The section that holds this key's options.</param>
    /// <returns>The service collection, for chaining.</returns>
    /// <exception cref="InvalidOperationException">A <see cref="TenantDatabase"/> is already registered under <paramref name="serviceKey"/>.</exception>
    public static IServiceCollection AddKeyedTenantDbGuard(this IServiceCollection services, string serviceKey, IConfiguration configuration)
    {
        if (configuration is null)
        {
            throw new ArgumentNullException(nameof(configuration));
        }

        return Register(services, CheckKey(serviceKey), builder => builder.Bind(configuration), registration: null);
    }

    private static string CheckKey(string serviceKey) =>
        serviceKey is null ? throw new ArgumentNullException(nameof(serviceKey))
        : serviceKey.Length == 0 ? throw new ArgumentException("The service key must not be empty: the empty name is the unkeyed registration's options (use AddTenantDbGuard for it).", nameof(serviceKey))
        : serviceKey;

    private static IServiceCollection RegisterWithBuilder(IServiceCollection services, string? serviceKey, Action<IServiceProvider, TenantDatabaseBuilder> configure)
    {
        var registration = new BuilderRegistration();
        return Register(
            services,
            serviceKey,
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
    /// Registers the options named after <paramref name="serviceKey"/> (the default name when null) and the
    /// <see cref="TenantDatabase"/> built from them, a singleton (keyed when <paramref name="serviceKey"/> is set).
    /// </summary>
    private static IServiceCollection Register(IServiceCollection services, string? serviceKey, Action<OptionsBuilder<TenantDbGuardOptions>> configure, BuilderRegistration? registration)
    {
        if (services is null)
        {
            throw new ArgumentNullException(nameof(services));
        }

        var registered = services.Any(descriptor => descriptor.ServiceType == typeof(TenantDatabase)
            && (serviceKey is null ? !descriptor.IsKeyedService : descriptor.IsKeyedService && Equals(descriptor.ServiceKey, serviceKey)));
        if (registered && serviceKey is null)
        {
            return services;
        }

        if (registered)
        {
            // Ignoring the second one would send its traffic to the first one's cluster.
            throw new InvalidOperationException(
                $"A TenantDatabase is already registered with the key '{serviceKey}'. Each key is one cluster and is registered once: change its options with services.Configure<TenantDbGuardOptions>(\"{serviceKey}\", ...), or register the other cluster under another key.");
        }

        var name = serviceKey ?? Options.DefaultName;
        var builder = services.AddOptions<TenantDbGuardOptions>(name);
        configure(builder);
        builder.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TenantDbGuardOptions>, TenantDbGuardOptionsValidator>());
        TenantDatabase Create(IServiceProvider provider)
        {
            // Reading the options runs the builder's configuration (once: the options are cached).
            var options = provider.GetRequiredService<IOptionsMonitor<TenantDbGuardOptions>>().Get(name);
            var builder = registration?.Builder
                ?? new TenantDatabaseBuilder(options).UseLoggerFactory(provider.GetService<ILoggerFactory>()).UseMeterFactory(provider.GetService<IMeterFactory>());
            if (ServicesResolver(provider, serviceKey) is { } resolver)
            {
                builder.UseServicesResolver(resolver);
            }

            return builder.Build();
        }

        if (serviceKey is null)
        {
            services.TryAddSingleton(Create);
        }
        else
        {
            services.AddKeyedSingleton(serviceKey, (provider, _) => Create(provider));
        }

        return services;
    }

    /// <summary>
    /// The <see cref="ITenantResolver"/> registered for the runtime (under the same key, for a keyed one), as a lookup that
    /// runs in a service scope of its own: the runtime is a singleton whose answers every request shares, so a request's
    /// scope must not be captured, and a scoped service (a DbContext) the resolver uses is disposed with the lookup's scope.
    /// </summary>
    private static Func<string, CancellationToken, ValueTask<TenantInfo?>>? ServicesResolver(IServiceProvider provider, string? serviceKey)
    {
        var registered = serviceKey is null
            ? provider.GetService<IServiceProviderIsService>()?.IsService(typeof(ITenantResolver)) == true
            : provider.GetService<IServiceProviderIsKeyedService>()?.IsKeyedService(typeof(ITenantResolver), serviceKey) == true;
        if (!registered)
        {
            return null;
        }

        var scopes = provider.GetRequiredService<IServiceScopeFactory>();
        return async (tenantKey, cancellationToken) =>
        {
            var scope = scopes.CreateAsyncScope();
            await using (scope.ConfigureAwait(false))
            {
                var resolver = serviceKey is null
                    ? scope.ServiceProvider.GetRequiredService<ITenantResolver>()
                    : scope.ServiceProvider.GetRequiredKeyedService<ITenantResolver>(serviceKey);
                return await resolver.ResolveAsync(tenantKey, cancellationToken).ConfigureAwait(false);
            }
        };
    }

    /// <summary>The builder the options' configuration filled in, for the registration that takes one.</summary>
    private sealed class BuilderRegistration
    {
        public TenantDatabaseBuilder? Builder { get; set; }
    }
}
