using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace TenantDbGuard.CodeFixes;

/// <summary>Finds and removes a statement that is one call and nothing else, for the fixes that delete or move a call.</summary>
internal static class CallStatement
{
    /// <summary>
    /// The statement made of <paramref name="call"/> alone (<c>x.Release();</c>, <c>x?.Dispose();</c>,
    /// <c>await x.DisposeAsync().ConfigureAwait(false);</c>) when it sits directly in a block, or <c>null</c> when
    /// removing it would remove more than the call.
    /// </summary>
    public static ExpressionStatementSyntax? Enclosing(SyntaxNode call)
    {
        var expression = call as ExpressionSyntax;
        while (expression?.Parent is { } parent)
        {
            switch (parent)
            {
                case MemberAccessExpressionSyntax { Name.Identifier.ValueText: "ConfigureAwait" } configure
                    when configure.Expression == expression && configure.Parent is InvocationExpressionSyntax configured:
                    expression = configured;
                    continue;
                case ConditionalAccessExpressionSyntax conditional when conditional.WhenNotNull == expression:
                    expression = conditional;
                    continue;
                case AwaitExpressionSyntax or ParenthesizedExpressionSyntax:
                    expression = (ExpressionSyntax)parent;
                    continue;
            }

            break;
        }

        return expression?.Parent is ExpressionStatementSyntax { Parent: BlockSyntax } statement ? statement : null;
    }

    /// <summary>The variable a call statement releases: <c>x</c> in <c>x.Dispose();</c>, <c>x?.Release();</c>, <c>await x.DisposeAsync();</c>, <c>pool.Release(x);</c>.</summary>
    public static IdentifierNameSyntax? Receiver(ExpressionStatementSyntax statement)
    {
        var expression = statement.Expression;
        if (expression is AwaitExpressionSyntax awaited)
        {
            expression = awaited.Expression is InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax { Name.Identifier.ValueText: "ConfigureAwait" } configure }
                ? configure.Expression
                : awaited.Expression;
        }

        return expression switch
        {
            InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax { Expression: IdentifierNameSyntax receiver }, ArgumentList.Arguments.Count: 0 } => receiver,
            InvocationExpressionSyntax { ArgumentList.Arguments: { Count: 1 } arguments } when arguments[0].Expression is IdentifierNameSyntax argument => argument,
            ConditionalAccessExpressionSyntax { Expression: IdentifierNameSyntax receiver } => receiver,
            _ => null,
        };
    }

    /// <summary>
    /// A Fix All that removes, one after another, every statement that the single fix of a diagnostic removes
    /// (<paramref name="removal"/>, asked on the document as it was), as fixing them one at a time would. Removals of
    /// neighbouring statements both move the trivia between them, which a batch of text changes would take as a
    /// conflict.
    /// </summary>
    public static FixAllProvider RemovingFixAll(Func<SyntaxNode, SemanticModel, Diagnostic, CancellationToken, (ExpressionStatementSyntax? Statement, string? Title)> removal) =>
        FixAllProvider.Create(async (context, document, diagnostics) =>
        {
            var root = await document.GetSyntaxRootAsync(context.CancellationToken).ConfigureAwait(false);
            var model = await document.GetSemanticModelAsync(context.CancellationToken).ConfigureAwait(false);
            if (root is null || model is null)
            {
                return document;
            }

            var statements = diagnostics.Select(d => removal(root, model, d, context.CancellationToken).Statement).OfType<ExpressionStatementSyntax>().Distinct().ToList();
            var current = root.TrackNodes(statements);
            foreach (var statement in statements)
            {
                if (current.GetCurrentNode(statement) is { } tracked)
                {
                    current = Remove(current, tracked);
                }
            }

            return document.WithSyntaxRoot(current);
        });

    /// <summary>Removes the statement from its block; a blank line before it stays before the next statement.</summary>
    public static SyntaxNode Remove(SyntaxNode root, ExpressionStatementSyntax statement)
    {
        var block = (BlockSyntax)statement.Parent!;
        return root.ReplaceNode(block, RemoveAt(block, block.Statements.IndexOf(statement)));
    }

    /// <summary>
    /// The block without its statement at <paramref name="index"/>. What stands on the statement's lines stays: the
    /// lines above it (a blank line, comments, directives), a comment after it on its line (on a line of its own, or
    /// at the end of the statement before it when the two share the line), and a statement after it on its line
    /// (at its place, with the comments between them).
    /// </summary>
    public static BlockSyntax RemoveAt(BlockSyntax block, int index)
    {
        var statement = block.Statements[index];
        var statements = block.Statements.RemoveAt(index);
        var leading = statement.GetLeadingTrivia();
        var trailing = statement.GetTrailingTrivia();
        var before = statement.GetFirstToken().GetPreviousToken();
        var lastLineEnd = LastLineEnd(leading);
        var startsItsLine = lastLineEnd >= 0 || before.TrailingTrivia.Any(SyntaxKind.EndOfLineTrivia);
        var next = index < statements.Count ? statements[index] : null;
        if (!trailing.Any(SyntaxKind.EndOfLineTrivia) && next is not null)
        {
            // 'conn.Release(); /* twice */ Log.Info("done");': what follows takes the statement's place on the line.
            var comments = AuthorTrivia.Comments(trailing).SelectMany(c => new[] { c, Space });
            var place = startsItsLine ? leading.AsEnumerable() : AuthorTrivia.Comments(leading).SelectMany(c => new[] { c, Space });
            return block.WithStatements(statements.Replace(next, next.WithLeadingTrivia(place.Concat(comments).Concat(next.GetLeadingTrivia()))));
        }

        if (!startsItsLine)
        {
            // 'Log.Info("released"); conn.Release(); // twice' followed by a line: what stays before it keeps the
            // line's end and the comments on it.
            var kept = LineEnds.WithoutTrailingWhitespace(before.TrailingTrivia.AddRange(AuthorTrivia.Comments(leading).SelectMany(c => new[] { Space, c })))
                .Concat(AuthorTrivia.Comments(trailing).SelectMany(c => new[] { Space, c }))
                .Concat(trailing.SkipWhile(t => !t.IsKind(SyntaxKind.EndOfLineTrivia)));
            if (index > 0)
            {
                var previous = statements[index - 1];
                return block.WithStatements(statements.Replace(previous, previous.WithTrailingTrivia(kept)));
            }

            return block.WithOpenBraceToken(block.OpenBraceToken.WithTrailingTrivia(kept)).WithStatements(statements);
        }

        // The statement has its own line: the lines above it stay, and a comment after it gets a line of its own.
        var indentation = leading.Skip(lastLineEnd + 1).Where(t => t.IsKind(SyntaxKind.WhitespaceTrivia));
        var above = leading.Take(lastLineEnd + 1).ToList();
        var lineEnd = trailing.FirstOrDefault(t => t.IsKind(SyntaxKind.EndOfLineTrivia));
        var trailingComments = AuthorTrivia.Comments(trailing).ToList();
        if (trailingComments.Count > 0)
        {
            above.AddRange(indentation);
            above.AddRange(trailingComments.SelectMany((c, i) => i == 0 ? new[] { c } : new[] { Space, c }));
            above.Add(lineEnd);
        }

        var target = next?.GetLeadingTrivia() ?? block.CloseBraceToken.LeadingTrivia;
        if (!above.Any(t => !t.IsKind(SyntaxKind.EndOfLineTrivia) && !t.IsKind(SyntaxKind.WhitespaceTrivia)))
        {
            // Only a blank line above it: it stays before the next statement, unless one is there already.
            above = above.Take(leading.Count > 0 && leading[0].IsKind(SyntaxKind.EndOfLineTrivia) && !target.Any(SyntaxKind.EndOfLineTrivia) && next is not null ? 1 : 0).ToList();
        }

        var moved = above.Concat(target);
        return next is not null
            ? block.WithStatements(statements.Replace(next, next.WithLeadingTrivia(moved)))
            : block.WithStatements(statements).WithCloseBraceToken(block.CloseBraceToken.WithLeadingTrivia(moved));
    }

    private static SyntaxTrivia Space => SyntaxFactory.Space;

    private static int LastLineEnd(SyntaxTriviaList trivia)
    {
        for (var i = trivia.Count - 1; i >= 0; i--)
        {
            // A directive, a build's code that is not compiled and a '///' comment end their lines too.
            if (trivia[i].IsKind(SyntaxKind.EndOfLineTrivia) || trivia[i].IsDirective || trivia[i].IsKind(SyntaxKind.DisabledTextTrivia)
                || trivia[i].IsKind(SyntaxKind.SingleLineDocumentationCommentTrivia))
            {
                return i;
            }
        }

        return -1;
    }
}
