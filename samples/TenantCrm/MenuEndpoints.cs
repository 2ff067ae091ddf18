using System.Threading;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using TenantDbGuard;

namespace TenantCrm;

/// <summary>
/// <c>GET /api/users/{userId}/menu</c>: the user comes from the master database and must belong to the tenant; the
/// permissions come from the tenant's database and become menu entries.
/// </summary>
internal static class MenuEndpoints
{
    public static void MapMenu(this IEndpointRouteBuilder routes) =>
        routes.MapGet("/users/{userId:int}/menu", async (Tenant tenant, TenantDatabase db, int userId, CancellationToken ct) =>
        {
            // The tenant's database first: an unknown tenant is reported as such, not as an unknown user.
            var permissions = await db.QueryTenantAsync<string>(tenant.Key, "SELECT permission FROM permissions WHERE user_id = @userId", new { userId }, ct);
            var users = await db.QueryMasterAsync<User>(
                "SELECT id, email, display_name AS DisplayName FROM users WHERE id = @userId AND tenant_key = @tenantKey",
                new { userId, tenantKey = tenant.Key },
                ct);
            if (users.Count == 0)
            {
                return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Unknown user", detail: $"This tenant has no user {userId}.");
            }

            return Results.Ok(new UserMenu(users[0], Menu.For(permissions)));
        });

    /// <summary>A user of the tenant.</summary>
    internal sealed class User
    {
        public int Id { get; init; }

        public string Email { get; init; } = "";

        public string DisplayName { get; init; } = "";
    }

    /// <summary>The user and the entries their permissions show.</summary>
    internal sealed record UserMenu(User User, System.Collections.Generic.IReadOnlyList<MenuEntry> Entries);
}
