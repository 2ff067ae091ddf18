using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace TenantCrm.Seeding;

/// <summary>
/// What every tenant starts with. Tenants share the same starting rows; they drift apart as users add customers.
/// Tenant <c>n</c> has the key <c>tenant-nnnn</c> and the database <c>crm_tenant_nnnn</c>.
/// </summary>
public static class SeedData
{
    /// <summary>The stages of a deal; <c>won</c> and <c>lost</c> close it.</summary>
    public static readonly IReadOnlyList<string> Stages = ["lead", "qualified", "proposal", "won", "lost"];

    private static readonly string[] Companies = ["Northwind", "Contoso", "Fabrikam", "Tailspin", "Litware", "Proseware", "Adatum", "Wingtip"];
    private static readonly string[] Kinds = ["Traders", "Logistics", "Foods", "Toys", "Labs", "Partners"];

    /// <summary>The users of every tenant, in the master database's <c>users</c> table, and their permissions.</summary>
    public static readonly IReadOnlyList<SeedUser> Users =
    [
        new("admin", "Ada Admin", [.. Menu.Permissions]),
        new("sales", "Sam Sales", [Menu.CustomersView, Menu.CustomersEdit, Menu.DealsView, Menu.DealsEdit]),
        new("viewer", "Val Viewer", []),
    ];

    /// <summary>The key of tenant <paramref name="number"/> (1-based).</summary>
    public static string TenantKey(int number) => $"tenant-{number.ToString("D4", CultureInfo.InvariantCulture)}";

    /// <summary>The database of tenant <paramref name="number"/> (1-based).</summary>
    public static string TenantDatabase(int number) => $"crm_tenant_{number.ToString("D4", CultureInfo.InvariantCulture)}";

    /// <summary>The e-mail address of a seeded user in a tenant.</summary>
    public static string UserEmail(SeedUser user, string tenantKey) => $"{user.Name}@{tenantKey}.example";

    /// <summary>The first <paramref name="count"/> customers, ids 1 to <paramref name="count"/>.</summary>
    public static IEnumerable<SeedCustomer> Customers(int count) =>
        Enumerable.Range(1, count).Select(id =>
        {
            var company = Companies[(id - 1) % Companies.Length];
            var kind = Kinds[(id - 1) / Companies.Length % Kinds.Length];
            return new SeedCustomer(id, $"{company} {kind} {id}", $"contact{id}@{company.ToLowerInvariant()}.example");
        });

    /// <summary>The first <paramref name="count"/> deals, ids 1 to <paramref name="count"/>, spread over <paramref name="customers"/> customers.</summary>
    public static IEnumerable<SeedDeal> Deals(int count, int customers) =>
        Enumerable.Range(1, count).Select(id => new SeedDeal(
            id,
            CustomerId: (id - 1) % customers + 1,
            Title: $"Deal {id}",
            Stage: Stages[(id - 1) % Stages.Count],
            Amount: 500m + id * 125.50m));
}

/// <summary>A user every tenant has.</summary>
/// <param name="Name">The local part of the e-mail address.</param>
/// <param name="DisplayName">The name shown.</param>
/// <param name="Permissions">The permissions in the tenant's database.</param>
public sealed record SeedUser(string Name, string DisplayName, IReadOnlyList<string> Permissions);

/// <summary>A customer every tenant starts with.</summary>
public sealed record SeedCustomer(int Id, string Name, string Email);

/// <summary>A deal every tenant starts with.</summary>
public sealed record SeedDeal(int Id, int CustomerId, string Title, string Stage, decimal Amount)
{
    /// <summary>Whether the deal is still open (neither won nor lost).</summary>
    public bool IsOpen => Stage is not ("won" or "lost");
}
