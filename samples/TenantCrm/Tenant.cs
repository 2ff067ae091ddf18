using System;
using System.Reflection;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Http;

namespace TenantCrm;

/// <summary>
/// The tenant a request is for. The token is the tenant key, sent as the <c>X-Tenant-Token</c> or <c>tenant_token</c>
/// header or the <c>tenant_token</c> cookie (a header wins over the cookie). Whether the key is well formed and known is
/// decided by the runtime on the first query, which throws <see cref="TenantDbGuard.InvalidTenantKeyException"/> or
/// <see cref="TenantDbGuard.TenantNotFoundException"/>; <see cref="CrmExceptionHandler"/> turns both into 404.
/// </summary>
/// <param name="Key">The tenant key.</param>
public sealed record Tenant(string Key)
{
    /// <summary>The header most proxies pass on (nginx drops headers with underscores by default).</summary>
    public const string HeaderName = "X-Tenant-Token";

    /// <summary>The cookie, and the header spelled like it.</summary>
    public const string CookieName = "tenant_token";

    /// <summary>Binds the tenant of a minimal API handler from the request.</summary>
    /// <exception cref="MissingTenantTokenException">The request carries no token.</exception>
    public static ValueTask<Tenant> BindAsync(HttpContext context, ParameterInfo parameter) => ValueTask.FromResult(From(context));

    /// <summary>The tenant <paramref name="context"/>'s request is for (also what the chat's EF Core context is built for).</summary>
    /// <exception cref="MissingTenantTokenException">The request carries no token.</exception>
    public static Tenant From(HttpContext context)
    {
        var request = context.Request;
        var token = FirstNonEmpty(request.Headers[HeaderName].ToString(), request.Headers[CookieName].ToString(), request.Cookies[CookieName]);
        return token is null ? throw new MissingTenantTokenException() : new Tenant(token);
    }

    private static string? FirstNonEmpty(params string?[] values)
    {
        foreach (var value in values)
        {
            if (!string.IsNullOrWhiteSpace(value))
            {
                return value.Trim();
            }
        }

        return null;
    }
}

/// <summary>The request names no tenant: neither the <c>X-Tenant-Token</c>/<c>tenant_token</c> header nor the <c>tenant_token</c> cookie is set.</summary>
public sealed class MissingTenantTokenException : Exception
{
    /// <summary>Creates the exception.</summary>
    public MissingTenantTokenException()
        : base($"The request has no tenant token: send the tenant key in the {Tenant.HeaderName} header (or {Tenant.CookieName}) or the {Tenant.CookieName} cookie.")
    {
    }
}
