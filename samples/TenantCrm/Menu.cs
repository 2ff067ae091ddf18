using System.Collections.Generic;
using System.Linq;

namespace TenantCrm;

/// <summary>The application's menu, and the permission each entry needs.</summary>
public static class Menu
{
    /// <summary>See customers.</summary>
    public const string CustomersView = "customers.view";

    /// <summary>Add and change customers.</summary>
    public const string CustomersEdit = "customers.edit";

    /// <summary>See deals.</summary>
    public const string DealsView = "deals.view";

    /// <summary>Move deals through the pipeline.</summary>
    public const string DealsEdit = "deals.edit";

    /// <summary>See reports.</summary>
    public const string ReportsView = "reports.view";

    /// <summary>Change the tenant's settings.</summary>
    public const string SettingsAdmin = "settings.admin";

    /// <summary>Every entry, in menu order.</summary>
    public static readonly IReadOnlyList<MenuEntry> Entries =
    [
        new("customers", "Customers", "/customers", CustomersView),
        new("customers-new", "New customer", "/customers/new", CustomersEdit),
        new("deals", "Deals", "/deals", DealsView),
        new("pipeline", "Pipeline board", "/deals/board", DealsEdit),
        new("reports", "Reports", "/reports", ReportsView),
        new("settings", "Settings", "/settings", SettingsAdmin),
    ];

    /// <summary>Every permission an entry can need.</summary>
    public static IEnumerable<string> Permissions => Entries.Select(entry => entry.Permission).Distinct();

    /// <summary>The entries a user with <paramref name="permissions"/> sees, in menu order; unknown permissions are ignored.</summary>
    public static IReadOnlyList<MenuEntry> For(IEnumerable<string> permissions)
    {
        var granted = permissions.ToHashSet(System.StringComparer.Ordinal);
        return [.. Entries.Where(entry => granted.Contains(entry.Permission))];
    }
}

/// <summary>One menu entry.</summary>
/// <param name="Id">A stable id for the client.</param>
/// <param name="Title">What the entry says.</param>
/// <param name="Path">Where it leads.</param>
/// <param name="Permission">The permission that shows it.</param>
public sealed record MenuEntry(string Id, string Title, string Path, string Permission);
