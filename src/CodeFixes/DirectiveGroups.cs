using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Text;

namespace TenantDbGuard.CodeFixes;

/// <summary>
/// The <c>#if</c> groups (with their <c>#else</c> and <c>#elif</c>) that the trivia above a statement opens, switches and
/// closes, for fixes that move the statement.
/// </summary>
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

    /// <summary>
    /// Does <paramref name="inner"/> stand in an <c>#if</c> group (or its <c>#else</c>, <c>#elif</c>) that opens after
    /// <paramref name="outer"/> starts? Other builds then run it, or not, or run other code in its place, while they
    /// run <paramref name="outer"/> all the same: a release there is the author's choice of builds.
    /// </summary>
    public static bool OpensBetween(SyntaxNode outer, SyntaxNode inner)
    {
        if (inner.SpanStart <= outer.SpanStart)
        {
            return false;
        }

        var open = 0;
        foreach (var trivia in outer.SyntaxTree.GetRoot().DescendantTrivia(TextSpan.FromBounds(outer.SpanStart, inner.SpanStart)))
        {
            if (trivia.SpanStart < outer.SpanStart || trivia.SpanStart >= inner.SpanStart)
            {
                continue;
            }

            if (trivia.IsKind(SyntaxKind.IfDirectiveTrivia))
            {
                open++;
            }
            else if (trivia.IsKind(SyntaxKind.EndIfDirectiveTrivia))
            {
                open = System.Math.Max(0, open - 1);
            }
        }

        return open > 0;
    }

    /// <summary>
    /// Does the trivia end (<c>#endif</c>) or switch (<c>#else</c>, <c>#elif</c>) an <c>#if</c> group opened above it?
    /// </summary>
    public static bool EndsOrSwitchesAGroupOpenedAbove(SyntaxTriviaList trivia)
    {
        var open = 0;
        foreach (var item in trivia)
        {
            if (item.IsKind(SyntaxKind.IfDirectiveTrivia))
            {
                open++;
            }
            else if (item.IsKind(SyntaxKind.ElseDirectiveTrivia) || item.IsKind(SyntaxKind.ElifDirectiveTrivia)
                     || item.IsKind(SyntaxKind.EndIfDirectiveTrivia))
            {
                if (open == 0)
                {
                    return true;
                }

                open -= item.IsKind(SyntaxKind.EndIfDirectiveTrivia) ? 1 : 0;
            }
        }

        return false;
    }
}
