using System;
using System.Collections.Generic;
using System.Linq;

namespace TenantDbGuard;

/// <summary>
/// Migrating some tenants' databases failed (<see cref="TenantDbContextFactory{TContext}.MigrateTenantsAsync"/>); the
/// other tenants were migrated. <see cref="Failures"/> holds each failed tenant's error; run the migration again once they are
/// fixed (tenants already up to date are left as they are).
/// </summary>
public sealed class TenantMigrationException : AggregateException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="failures">Each failed tenant's key and error.</param>
    public TenantMigrationException(IReadOnlyDictionary<string, Exception> failures)
        : base(Describe(failures ?? throw new ArgumentNullException(nameof(failures))), failures.Values)
    {
        Failures = failures;
    }

    /// <summary>The tenants whose migration failed, each with its error.</summary>
    public IReadOnlyDictionary<string, Exception> Failures { get; }

    private static string Describe(IReadOnlyDictionary<string, Exception> failures)
    {
        const int Named = 10;
        var keys = failures.Keys.OrderBy(key => key, StringComparer.Ordinal).ToList();
        var named = string.Join(", ", keys.Take(Named)) + (keys.Count > Named ? $" and {keys.Count - Named} more" : "");
        return $"Migrating {keys.Count} tenant database(s) failed: {named}. Every other tenant was migrated; see Failures for each error, fix them and migrate again.";
    }
}
