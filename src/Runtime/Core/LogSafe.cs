using System;
using System.Globalization;
using System.Text;

namespace TenantDbGuard.Core;

/// <summary>
/// Makes text that came from outside (a tenant key from a request, a database name from the tenants table) safe to put
/// in a message that ends up in a log: control characters, line separators and invisible format characters (the
/// bidirectional overrides that make a log viewer show text in another order, zero-width characters) are shown as
/// <c>\uXXXX</c>, so that a value can never start a forged log line or hide what it holds, and long values are cut
/// (never inside a surrogate pair).
/// </summary>
internal static class LogSafe
{
    /// <summary>The value, escaped, cut after <paramref name="maxLength"/> characters (tenant keys and database names are at most 64).</summary>
    public static string Text(string? value, int maxLength = 64)
    {
        if (value is null)
        {
            return "(null)";
        }

        var clean = true;
        foreach (var c in value)
        {
            if (NeedsEscape(c))
            {
                clean = false;
                break;
            }
        }

        if (clean && value.Length <= maxLength)
        {
            return value;
        }

        // A cut never leaves half of a surrogate pair behind.
        var length = Math.Min(value.Length, maxLength);
        if (length < value.Length && length > 0 && char.IsHighSurrogate(value[length - 1]))
        {
            length--;
        }

        var text = new StringBuilder(length + 8);
        for (var i = 0; i < length; i++)
        {
            var c = value[i];
            if (NeedsEscape(c))
            {
                text.Append("\\u").Append(((int)c).ToString("X4", CultureInfo.InvariantCulture));
            }
            else
            {
                text.Append(c);
            }
        }

        if (value.Length > maxLength)
        {
            text.Append('…');
        }

        return text.ToString();
    }

    private static bool NeedsEscape(char c) =>
        char.IsControl(c) || c is '\u2028' or '\u2029' || CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.Format;
}
