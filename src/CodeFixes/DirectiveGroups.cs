using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace TenantDbGuard.CodeFixes;

/// <summary>The <c>#if</c> groups that the trivia above a statement opens and closes, for fixes that move the statement.</summary>
internal static class DirectiveGroups
{
    /// <summary>
    /// How many <c>#if</c> groups the trivia leaves open over the statement it stands above, and whether it closes one
    /// (an <c>#endif</c>, also of a group opened further up).
    /// </summary>
    public static (int Open, bool Closes) Above(SyntaxTriviaList leading)
    {
        var open = 0;
        var closes = false;
        foreach (var trivia in leading)
        {
            if (trivia.IsKind(SyntaxKind.IfDirectiveTrivia))
            {
                open++;
            }
            else if (trivia.IsKind(SyntaxKind.EndIfDirectiveTrivia))
            {
                closes = true;
                open = System.Math.Max(0, open - 1);
            }
        }

        return (open, closes);
    }
}
