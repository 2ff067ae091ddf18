using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace TenantDbGuard.CodeFixes;

/// <summary>
/// What the author wrote between the tokens that a fix must keep or must not move past: comments, directives and the
/// code a directive disables in this build. The <c>#if</c> groups they form are <see cref="DirectiveGroups"/>'.
/// </summary>
internal static class AuthorTrivia
{
    /// <summary>
    /// A <c>//</c> or <c>/* */</c> comment; with <paramref name="orDocumentation"/>, a <c>///</c> or <c>/** */</c> one too.
    /// </summary>
    public static bool IsComment(SyntaxTrivia trivia, bool orDocumentation = false) =>
        trivia.IsKind(SyntaxKind.SingleLineCommentTrivia) || trivia.IsKind(SyntaxKind.MultiLineCommentTrivia)
        || (orDocumentation
            && (trivia.IsKind(SyntaxKind.SingleLineDocumentationCommentTrivia) || trivia.IsKind(SyntaxKind.MultiLineDocumentationCommentTrivia)));

    /// <summary>
    /// Is there a <c>///</c> or <c>/** */</c> comment around the node (in a method body, the parser's documentation
    /// comment: it holds its line's end, which the fixes that move a statement's comments do not expect)?
    /// </summary>
    public static bool HasDocumentationComment(SyntaxNode node)
    {
        if (node.GetLeadingTrivia().Concat(node.GetTrailingTrivia()).Any(IsDocumentation))
        {
            return true;
        }

        // One after the node on its line is the next token's: the node's trailing trivia stops before it.
        return !node.GetTrailingTrivia().Any(t => t.IsKind(SyntaxKind.EndOfLineTrivia))
               && node.GetLastToken().GetNextToken().LeadingTrivia.SkipWhile(t => t.IsKind(SyntaxKind.WhitespaceTrivia)).FirstOrDefault() is var first
               && IsDocumentation(first);

        static bool IsDocumentation(SyntaxTrivia trivia) => IsComment(trivia, orDocumentation: true) && !IsComment(trivia);
    }

    /// <summary>The <c>//</c> and <c>/* */</c> comments of the trivia.</summary>
    public static IEnumerable<SyntaxTrivia> Comments(SyntaxTriviaList trivia) => trivia.Where(t => IsComment(t));

    /// <summary>Is there a <c>//</c> or <c>/* */</c> comment or a directive in the trivia?</summary>
    public static bool HasCommentsOrDirectives(SyntaxTriviaList trivia) => trivia.Any(t => IsComment(t) || t.IsDirective);

    /// <summary>
    /// Does the trivia hold code a directive disables here (<c>#if DEBUG</c> when DEBUG is not defined)? Other builds
    /// run it: a fix cannot tell how long it takes or what it uses.
    /// </summary>
    public static bool HidesCode(IEnumerable<SyntaxTrivia> trivia) => trivia.Any(t => t.IsKind(SyntaxKind.DisabledTextTrivia));

    /// <summary>A directive, or code one disables in this build.</summary>
    public static bool IsDirectiveOrHiddenCode(SyntaxTrivia trivia) => trivia.IsDirective || trivia.IsKind(SyntaxKind.DisabledTextTrivia);

    /// <summary>
    /// A comment of any kind (documentation included), a directive, or code one disables in this build.
    /// </summary>
    public static bool IsNote(SyntaxTrivia trivia) => IsComment(trivia, orDocumentation: true) || IsDirectiveOrHiddenCode(trivia);
}
