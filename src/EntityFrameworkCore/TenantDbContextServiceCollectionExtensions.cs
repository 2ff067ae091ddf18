using System;
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
    /// <remarks>
    /// Not supported: <c>AddDbContextPool</c> (a pooled context would keep its options, and so a tenant's connection,
    /// across requests; the context is cheap to create next to the lease it takes), and Pomelo's
    /// <c>EnableNoBackslashEscapes</c> with <c>UpdateSqlModeOnOpen</c> (Pomelo runs it on the connection as a
    /// <c>MySqlConnection</c>).
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

        var options = new TenantDbContextOptions();
        configure?.Invoke(options);
        services.TryAddSingleton(sp => new TenantDbContextFactory<TContext>(sp, sp.GetRequiredService<TenantDatabase>(), options));
        services.TryAddScoped(sp => sp.GetRequiredService<TenantDbContextFactory<TContext>>().Create(sp, tenantKey(sp)));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, TenantDbContextWarmUp<TContext>>());
        return services;
    }
}
