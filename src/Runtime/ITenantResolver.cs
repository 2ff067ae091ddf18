using System.Threading;
using System.Threading.Tasks;

namespace TenantDbGuard;

/// <summary>
/// Resolves tenant keys to their databases with the application's services, instead of the master database's tenants
/// table. Register an implementation in the service collection, with any lifetime (scoped included):
/// <c>services.AddScoped&lt;ITenantResolver, MyResolver&gt;()</c> for the runtime of <c>AddTenantDbGuard</c>, or
/// <c>services.AddKeyedScoped&lt;ITenantResolver, MyResolver&gt;("eu")</c> for the one of
/// <c>AddKeyedTenantDbGuard("eu", ...)</c>.
/// </summary>
/// <remarks>
/// <para>
/// The runtime is a singleton and its answers are shared by every request (cached for
/// <see cref="TenantDbGuardOptions.TenantCacheDuration"/>), so a lookup never runs in a request's scope: each lookup
/// creates a service scope of its own, resolves the resolver in it, and disposes the scope (a scoped
/// <c>DbContext</c> the resolver uses with it) when the lookup ends. Lookups are rare (one per key per cache duration).
/// </para>
/// <para>
/// The token is cancelled once every caller waiting for this key's lookup has cancelled (a request aborted, a helper's
/// token): pass it on. A lookup that is cancelled or throws is not remembered, so the next caller looks the key up
/// again; an exception reaches the callers as it is.
/// </para>
/// </remarks>
public interface ITenantResolver
{
    /// <summary>Looks a tenant up.</summary>
    /// <param name="tenantKey">The key as the caller gave it (it matched <see cref="TenantDbGuardOptions.TenantKeyPattern"/>).</param>
    /// <param name="cancellationToken">Cancelled when no caller waits for the answer any more.</param>
    /// <returns>The tenant (its <see cref="TenantInfo.TenantKey"/> is its identity), or <see langword="null"/> when no active tenant has this key.</returns>
    ValueTask<TenantInfo?> ResolveAsync(string tenantKey, CancellationToken cancellationToken);
}
