using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Formatting;
using TenantDbGuard.CodeFixes.ConnectionLeak;

namespace TenantDbGuard.CodeFixes;

/// <summary>
/// Lays out what a fix wrote with the line ends of the file it is in. The formatter ends the lines it makes with its
/// own default (the platform's), so on Linux a fix in a file written with CRLF (Windows, git's autocrlf) would leave
/// lines ending in LF among the others, and on Windows the other way round.
/// </summary>
internal static class LineEnds
{
    /// <summary>
    /// Formats the nodes the fix marked with <see cref="Formatter.Annotation"/>, then ends the lines the fix wrote as
    /// the first line of <paramref name="before"/> (the document before the fix) ends: every line of the document when
    /// all of its lines ended that way before the fix (so also a line break the fix put between two members), else the
    /// lines inside the marked nodes. The marks are taken off, so that the formatting a code action applies afterwards
    /// leaves those lines as they are.
    /// </summary>
    public static async Task<Document> FormatAsync(Document document, SyntaxNode before, CancellationToken cancellationToken)
    {
        var lineEnd = Statements.FirstLineEnd(new[] { before })?.ToString();
        var uniform = AllEndWith(before, lineEnd);
        var formatted = await Formatter.FormatAsync(document, Formatter.Annotation, cancellationToken: cancellationToken).ConfigureAwait(false);
        if (lineEnd is null || await formatted.GetSyntaxRootAsync(cancellationToken).ConfigureAwait(false) is not { } root)
        {
            return formatted;
        }

        var marked = root.GetAnnotatedNodes(Formatter.Annotation).ToList();
        IEnumerable<SyntaxNode> scope = uniform ? new[] { root } : marked;
        var others = scope
            .SelectMany(node => node.DescendantTrivia(descendIntoTrivia: true))
            .Where(trivia => trivia.IsKind(SyntaxKind.EndOfLineTrivia) && trivia.ToString() != lineEnd)
            .Distinct()
            .ToList();
        if (others.Count == 0 && marked.Count == 0)
        {
            return formatted;
        }

        var endOfLine = SyntaxFactory.EndOfLine(lineEnd);
        root = root.ReplaceTrivia(others, (_, _) => endOfLine);
        root = root.ReplaceNodes(root.GetAnnotatedNodes(Formatter.Annotation), (_, rewritten) => rewritten.WithoutAnnotations(Formatter.Annotation));
        return formatted.WithSyntaxRoot(root);
    }

    /// <summary>Does every line of <paramref name="root"/> end with <paramref name="lineEnd"/>?</summary>
    private static bool AllEndWith(SyntaxNode root, string? lineEnd) =>
        lineEnd is not null
        && root.DescendantTrivia(descendIntoTrivia: true).All(trivia => !trivia.IsKind(SyntaxKind.EndOfLineTrivia) || trivia.ToString() == lineEnd);
}
