using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Formatting;
using Microsoft.CodeAnalysis.Text;
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
    /// the lines of <paramref name="before"/> (the document before the fix) end: every line of the document as all of
    /// them did when they all ended alike (so also a line break the fix put between two members); in a file of mixed
    /// line ends, the lines inside each marked node as the line that node starts on did, so that a method written with
    /// CRLF in a file that starts with LF keeps CRLF. The marks are taken off, so that the formatting a code action
    /// applies afterwards leaves those lines as they are.
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
        var text = uniform ? null : before.SyntaxTree.GetText(cancellationToken);
        var others = new Dictionary<SyntaxTrivia, string>();
        foreach (var node in uniform ? new List<SyntaxNode> { root } : marked)
        {
            var nodeLineEnd = text is null ? lineEnd : LineEndAt(text, node.SpanStart) ?? lineEnd;
            foreach (var trivia in node.DescendantTrivia(descendIntoTrivia: true))
            {
                if (trivia.IsKind(SyntaxKind.EndOfLineTrivia) && trivia.ToString() != nodeLineEnd && !others.ContainsKey(trivia))
                {
                    others.Add(trivia, nodeLineEnd);
                }
            }
        }

        if (others.Count == 0 && marked.Count == 0)
        {
            return formatted;
        }

        root = root.ReplaceTrivia(others.Keys, (original, _) => SyntaxFactory.EndOfLine(others[original]));
        root = root.ReplaceNodes(root.GetAnnotatedNodes(Formatter.Annotation), (_, rewritten) => rewritten.WithoutAnnotations(Formatter.Annotation));
        return formatted.WithSyntaxRoot(root);
    }

    /// <summary><paramref name="trivia"/> without the whitespace it ends with: what stays before a line end put after it.</summary>
    public static IEnumerable<SyntaxTrivia> WithoutTrailingWhitespace(SyntaxTriviaList trivia) =>
        trivia.Reverse().SkipWhile(t => t.IsKind(SyntaxKind.WhitespaceTrivia)).Reverse();

    /// <summary>How the line of <paramref name="text"/> at <paramref name="position"/> ends; null on a last line without a line end.</summary>
    private static string? LineEndAt(SourceText text, int position)
    {
        var line = text.Lines.GetLineFromPosition(Math.Min(position, text.Length));
        return line.EndIncludingLineBreak > line.End ? text.ToString(TextSpan.FromBounds(line.End, line.EndIncludingLineBreak)) : null;
    }

    /// <summary>Does every line of <paramref name="root"/> end with <paramref name="lineEnd"/>?</summary>
    private static bool AllEndWith(SyntaxNode root, string? lineEnd) =>
        lineEnd is not null
        && root.DescendantTrivia(descendIntoTrivia: true).All(trivia => !trivia.IsKind(SyntaxKind.EndOfLineTrivia) || trivia.ToString() == lineEnd);
}
