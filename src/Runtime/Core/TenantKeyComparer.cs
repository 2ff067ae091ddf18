using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace TenantDbGuard.Core;

/// <summary>
/// Compares tenant keys the way the tenants table's <c>tenant_key</c> column compares them, so that every spelling the
/// server would match (<c>acme</c>, <c>Acme</c>, <c>ACME</c> under a case-insensitive collation) finds the one row,
/// whose key is then the tenant's identity. Read from the collation's name: case (<c>_ci</c> / <c>_cs</c>,
/// <c>_bin</c>), accents (<c>_ai</c> and the legacy <c>general</c>/<c>unicode</c> collations ignore them, <c>_as</c>
/// does not) and trailing spaces (ignored unless the collation is NO PAD). Exotic rules of single collations (such as
/// German <c>ß = ss</c>) are not followed: such a key is simply not found.
/// </summary>
internal sealed class TenantKeyComparer : IEqualityComparer<string>
{
    private readonly bool _ignoreCase;
    private readonly bool _ignoreAccents;
    private readonly bool _padSpace;

    private TenantKeyComparer(bool ignoreCase, bool ignoreAccents, bool padSpace)
    {
        _ignoreCase = ignoreCase;
        _ignoreAccents = ignoreAccents;
        _padSpace = padSpace;
    }

    /// <summary>Exact comparison, for a column that is not text or whose collation is unknown.</summary>
    public static TenantKeyComparer Ordinal { get; } = new(false, false, false);

    public static TenantKeyComparer ForCollation(string? collation)
    {
        if (string.IsNullOrEmpty(collation))
        {
            return Ordinal;
        }

        var name = collation.ToLowerInvariant();
        var binary = name == "binary" || name.EndsWith("_bin", StringComparison.Ordinal);
        var caseSensitive = binary || name.EndsWith("_cs", StringComparison.Ordinal) || name.Contains("_cs_", StringComparison.Ordinal);
        var accentSensitive = binary || name.Contains("_as_", StringComparison.Ordinal) || name.EndsWith("_as", StringComparison.Ordinal) || caseSensitive;
        var padSpace = name != "binary" && !name.Contains("nopad", StringComparison.Ordinal) && !name.Contains("_0900_", StringComparison.Ordinal);
        return new TenantKeyComparer(!caseSensitive, !accentSensitive, padSpace);
    }

    public bool Equals(string? x, string? y)
    {
        if (ReferenceEquals(x, y))
        {
            return true;
        }

        if (x is null || y is null)
        {
            return false;
        }

        return string.Equals(Fold(x), Fold(y), _ignoreCase ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal);
    }

    public int GetHashCode(string key) =>
        _ignoreCase ? StringComparer.OrdinalIgnoreCase.GetHashCode(Fold(key)) : StringComparer.Ordinal.GetHashCode(Fold(key));

    /// <summary>The key without what the collation ignores besides case; the same instance when there is nothing to drop.</summary>
    private string Fold(string key)
    {
        var value = _padSpace ? key.TrimEnd(' ') : key;
        if (!_ignoreAccents || IsAscii(value))
        {
            return value;
        }

        var decomposed = value.Normalize(NormalizationForm.FormD);
        var kept = new StringBuilder(decomposed.Length);
        foreach (var c in decomposed)
        {
            if (CharUnicodeInfo.GetUnicodeCategory(c) != UnicodeCategory.NonSpacingMark)
            {
                kept.Append(c);
            }
        }

        return kept.ToString().Normalize(NormalizationForm.FormC);
    }

    private static bool IsAscii(string value)
    {
        foreach (var c in value)
        {
            if (c > 0x7F)
            {
                return false;
            }
        }

        return true;
    }
}
