using System;
using System.Linq;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using TenantDbGuard.EntityFrameworkCore;

namespace TenantDbGuard;

/// <summary>Registers EF Core contexts whose connections are leased under the runtime's budget.</summary>
public static class TenantDbContextServiceCollectionExtensions
{
    /// <summary>
    /// Registers <typeparamref name="TContext"/> as a scoped service for the current tenant, and a
    /// <see cref="TenantDbContextFactory{TContext}"/> for code without a request. The context runs on a connection of
    /// <c>db.ForTenant(tenantKey(scope))</c>: a lease is taken when EF Core opens the connection and given back when it
    /// closes it (after each query and <c>SaveChanges</c>, at the end of a transaction), and whatever is still open goes
    /// back when the scope (the request) disposes the context. Needs <c>AddTenantDbGuard(...)</c>, and
    /// <c>AllowUserVariables=True</c> in the master connection string (Pomelo requires it). Unless
    /// <see cref="TenantDbContextOptions.ServerVersion"/> is set, the server's version is read over a master connection
    /// of the budget when the host starts.
    /// </summary>
    /// <typeparam name="TContext">The context; it needs a constructor taking <see cref="DbContextOptions{TContext}"/>.</typeparam>
    /// <param name="services">The services.</param>
    /// <param name="tenantKey">
    /// The current tenant's key, from the scope's services (e.g. from <c>IHttpContextAccessor</c>: a route value, a header,
    /// a claim). It is called once per scope, when the context is first resolved; an exception it throws reaches the
    /// code that asked for the context.
    /// </param>
    /// <param name="configure">The server version, Pomelo's and EF Core's further settings.</param>
    /// <returns>The services, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> or <paramref name="tenantKey"/> is null.</exception>
    /// <exception cref="TenantDbContextConfigurationException">
    /// <typeparamref name="TContext"/> is already registered (by an earlier <c>AddTenantDbContext</c>, or by
    /// <c>AddDbContext</c>, <c>AddDbContextPool</c> or <c>AddDbContextFactory</c>): that registration would stay in
    /// force.
    /// </exception>
    /// <remarks>
    /// Not supported: <c>AddDbContextPool</c> (a pooled context would keep its options, and so a tenant's connection,
    /// across requests; the context is cheap to create next to the lease it takes), and Pomelo's
    /// <c>EnableNoBackslashEscapes</c> with <c>UpdateSqlModeOnOpen</c> (Pomelo runs it on the connection as a
    /// <c>MySqlConnection</c>). The context is resolved in a scope only: resolved from the root service provider (by a
    /// singleton that depends on it) it would serve the tenant of the first request to every later one, so that throws
    /// <see cref="TenantDbContextConfigurationException"/>; a <paramref name="tenantKey"/> that returns
    /// <see langword="null"/> is refused as the empty key is (<see cref="InvalidTenantKeyException"/>).
    /// </remarks>
    public static IServiceCollection AddTenantDbContext<TContext>(
        this IServiceCollection services,
        Func<IServiceProvider, string> tenantKey,
        Action<TenantDbContextOptions>? configure = null)
        where TContext : DbContext
    {
        if (services is null)
        {
            throw new ArgumentNullException(nameof(services));
        }

        if (tenantKey is null)
        {
            throw new ArgumentNullException(nameof(tenantKey));
        }

        RefuseEarlierRegistration<TContext>(services);
        var options = new TenantDbContextOptions();
        configure?.Invoke(options);
        services.TryAddSingleton(sp => new TenantDbContextFactory<TContext>(sp, sp.GetRequiredService<TenantDatabase>(), options));
        services.TryAddScoped(sp =>
            sp.GetRequiredService<TenantDbContextFactory<TContext>>().CreateForScope(sp, tenantKey));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, TenantDbContextWarmUp<TContext>>());
        return services;
    }

    /// <summary>
    /// A registration of the context made before this one would stay in force (registrations are kept, not replaced):
    /// every request would get its context, on one fixed database outside the budget, or the first call's tenant.
    /// </summary>
    private static void RefuseEarlierRegistration<TContext>(IServiceCollection services)
        where TContext : DbContext
    {
        var name = typeof(TContext).Name;
        if (services.Any(descriptor => descriptor.ServiceType == typeof(TenantDbContextFactory<TContext>)))
        {
            throw new TenantDbContextConfigurationException(
                $"AddTenantDbContext<{name}> was called before: a second call would be ignored, with its tenant " +
                $"key and options, and the first call's tenant would serve its requests. Register {name} once; a " +
                "context type per tenant source (a subclass) needs a call of its own.");
        }

        if (services.Any(descriptor => descriptor.ServiceType == typeof(TContext)
            || descriptor.ServiceType == typeof(IDbContextFactory<TContext>)))
        {
            throw new TenantDbContextConfigurationException(
                $"{name} is already registered (by AddDbContext, AddDbContextPool or AddDbContextFactory): that " +
                "registration would stay in force, and every tenant's request would get its context, on the database " +
                $"it names and outside the connection budget. Remove it: AddTenantDbContext<{name}> registers {name} " +
                "for the scope's tenant.");
        }
    }
}
