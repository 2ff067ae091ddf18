using System;
using System.Text.RegularExpressions;

namespace TenantDbGuard.Core;

/// <summary>
/// Which statements can leave in a session what the server's reset (<c>COM_RESET_CONNECTION</c>) keeps, or read it: an
/// XA transaction, a role made current with <c>SET ROLE</c>, the profiling history (<c>SHOW PROFILES</c>, <c>SHOW
/// PROFILE</c>, <c>information_schema.PROFILING</c>), and the count <c>FOUND_ROWS()</c> reports (a stored routine,
/// called with <c>CALL</c>, a statement run from a string with <c>EXECUTE</c>, and an executable comment
/// <c>/*! ... */</c>, which the server runs as code, may do any of these). A lease that runs such a statement, and any
/// lease whose statements the runtime does not see (code holds its connection object), has those cleared before the
/// reset (<see cref="SessionProfile.Scrub"/>), and its <c>USE</c> goes in a batch of its own that also clears
/// <c>FOUND_ROWS()</c> and the profiling history; every other helper's lease costs no more than the reset. What the
/// text cannot show (a trigger or stored function that makes a role current) is answered by the server's profile: where
/// the account can make any role current, every lease is scrubbed (<see cref="SessionProfile.RoleMayChange"/>).
/// </summary>
internal static class KeptState
{
    // A cheap look for the words first (one pass over the text where the platform can search for several strings at
    // once); the pattern only decides for a text that holds one of them.
    private static readonly string[] Words = ["XA", "ROLE", "PROFIL", "CALL", "FOUND_ROWS", "EXECUTE", "/*!", "/*M!"];
#if NET9_0_OR_GREATER
    private static readonly System.Buffers.SearchValues<string> AnyWord = System.Buffers.SearchValues.Create(Words, StringComparison.OrdinalIgnoreCase);
#endif

    // Between SET and ROLE: white space and comments (/* */, and -- or # to the end of the line, each read whole).
    // EXECUTE runs a statement from a string (EXECUTE IMMEDIATE, or one PREPAREd), which may be a parameter's value.
    // SHOW PROFILES and SHOW PROFILE read the history (between the words, as between SET and ROLE; a table named
    // 'profiles' is not). An executable comment ('/*!', '/*!50000', '/*M!') is code to the server, in which the words
    // above may hide: its text is taken to touch all of it.
    private static readonly Regex Statement = new(
        @"\bXA\b|\bSET\b(?:\s|/\*[\s\S]*?\*/|(?>(?:--|#)[^\n]*))+ROLE\b(?!\s*=)|\bPROFILING\b|\bSHOW\b(?:\s|/\*[\s\S]*?\*/|(?>(?:--|#)[^\n]*))+PROFILES?\b|\bCALL\b|\bFOUND_ROWS\b|\bEXECUTE\b|/\*M?!",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.Compiled,
        TimeSpan.FromSeconds(1));

    /// <summary>Can <paramref name="sql"/> leave or read state that the server's reset keeps?</summary>
    public static bool Touches(string? sql)
    {
        if (sql is null)
        {
            return false;
        }

        if (!HoldsAWord(sql))
        {
            return false;
        }

        try
        {
            return Statement.IsMatch(sql);
        }
        catch (RegexMatchTimeoutException)
        {
            // A text the pattern cannot read in time (thousands of unclosed comments): taken to touch it, which
            // costs one round trip and never lets state through.
            return true;
        }
    }

    private static bool HoldsAWord(string sql)
    {
#if NET9_0_OR_GREATER
        return sql.AsSpan().ContainsAny(AnyWord);
#else
        foreach (var word in Words)
        {
            if (sql.Contains(word, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
#endif
    }
}
