using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace TenantDbGuard.CodeFixes;

/// <summary>Finds and removes a statement that is one call and nothing else, for the fixes that delete a call.</summary>
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

    /// <summary>Removes the statement from its block; a blank line before it stays before the next statement.</summary>
    public static SyntaxNode Remove(SyntaxNode root, ExpressionStatementSyntax statement)
    {
        var block = (BlockSyntax)statement.Parent!;
        var index = block.Statements.IndexOf(statement);
        var statements = block.Statements.RemoveAt(index);
        var leading = statement.GetLeadingTrivia();
        if (index < statements.Count && leading.Count > 0 && leading[0].IsKind(SyntaxKind.EndOfLineTrivia))
        {
            var next = statements[index];
            if (!next.GetLeadingTrivia().Any(SyntaxKind.EndOfLineTrivia))
            {
                statements = statements.Replace(next, next.WithLeadingTrivia(next.GetLeadingTrivia().Insert(0, leading[0])));
            }
        }

        return root.ReplaceNode(block, block.WithStatements(statements));
    }
}
