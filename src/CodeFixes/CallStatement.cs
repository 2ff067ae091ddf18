using System.Linq;
using Microsoft.CodeAnalysis;
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

    /// <summary>Removes the statement from its block; a blank line before it stays before the next statement.</summary>
    public static SyntaxNode Remove(SyntaxNode root, ExpressionStatementSyntax statement)
    {
        var block = (BlockSyntax)statement.Parent!;
        return root.ReplaceNode(block, RemoveAt(block, block.Statements.IndexOf(statement)));
    }

    /// <summary>
    /// The block without its statement at <paramref name="index"/>; a blank line before it stays before the next
    /// statement, and the end of its line stays when it shares the line with what comes before it.
    /// </summary>
    public static BlockSyntax RemoveAt(BlockSyntax block, int index)
    {
        var statement = block.Statements[index];
        var statements = block.Statements.RemoveAt(index);
        var trailing = statement.GetTrailingTrivia();
        var before = statement.GetFirstToken().GetPreviousToken();
        if (trailing.Any(SyntaxKind.EndOfLineTrivia) && !before.TrailingTrivia.Any(SyntaxKind.EndOfLineTrivia)
            && !statement.GetLeadingTrivia().Any(SyntaxKind.EndOfLineTrivia))
        {
            // 'Log.Info("released"); conn.Release();' followed by a line: what stays before it keeps the line's end.
            var kept = LineEnds.WithoutTrailingWhitespace(before.TrailingTrivia).Concat(trailing);
            if (index > 0)
            {
                var previous = statements[index - 1];
                statements = statements.Replace(previous, previous.WithTrailingTrivia(kept));
            }
            else
            {
                block = block.WithOpenBraceToken(block.OpenBraceToken.WithTrailingTrivia(kept));
            }
        }

        var leading = statement.GetLeadingTrivia();
        if (index < statements.Count && leading.Count > 0 && leading[0].IsKind(SyntaxKind.EndOfLineTrivia))
        {
            var next = statements[index];
            if (!next.GetLeadingTrivia().Any(SyntaxKind.EndOfLineTrivia))
            {
                statements = statements.Replace(next, next.WithLeadingTrivia(next.GetLeadingTrivia().Insert(0, leading[0])));
            }
        }

        return block.WithStatements(statements);
    }
}
