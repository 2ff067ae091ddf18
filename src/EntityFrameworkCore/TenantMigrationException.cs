using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

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
        var named = string.Join(", ", keys.Take(Named).Select(Shown))
            + (keys.Count > Named ? $" and {keys.Count - Named} more" : "");
        return $"Migrating {keys.Count} tenant database(s) failed: {named}. Every other tenant was migrated; see Failures for each error, fix them and migrate again.";
    }

    /// <summary>
    /// A key as the message shows it, as the runtime's messages show keys: control characters, line and paragraph
    /// separators and invisible format characters (a bidirectional override, a zero-width space) as <c>\uXXXX</c>, so
    /// that a key cannot forge a log line or reorder what a viewer shows; cut after 64 characters.
    /// </summary>
    private static string Shown(string key)
    {
        const int MaxLength = 64;
        var shown = new StringBuilder(Math.Min(key.Length, MaxLength) + 8);
        for (var i = 0; i < key.Length; i++)
        {
            if (i == MaxLength)
            {
                shown.Append(CultureInfo.InvariantCulture, $"... ({key.Length} characters)");
                break;
            }

            var c = key[i];
            if (i == MaxLength - 1 && char.IsHighSurrogate(c))
            {
                // A pair is not split.
                shown.Append(CultureInfo.InvariantCulture, $"... ({key.Length} characters)");
                break;
            }

            var category = char.GetUnicodeCategory(c);
            if (char.IsControl(c) || category is UnicodeCategory.Format or UnicodeCategory.LineSeparator
                or UnicodeCategory.ParagraphSeparator)
            {
                shown.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
            }
            else
            {
                shown.Append(c);
            }
        }

        return shown.ToString();
    }
}
