// TDG005's fix for a Dispose/DisposeAsync that misses a path: its own releases of the member are taken out and the
// member is released in a finally around the rest, when that keeps what the method did on every other path.
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Formatting;

namespace TenantDbGuard.CodeFixes.ConnectionOwner;

/// <summary>Moves the release of an owned member into a finally.</summary>
internal static class ReleaseInFinallyFix
{
    /// <summary>
    /// <paramref name="method"/> with its own releases of the member taken out and the member released in a <c>finally</c>
    /// around the rest (its leading <c>if (...) return;</c> guards stay in front); null when that would change behaviour.
    /// </summary>
    public static MethodDeclarationSyntax? Apply(SemanticModel model, MethodDeclarationSyntax method, OwnerReleaseCall release, CancellationToken cancellationToken)
    {
        var isAsync = method.Modifiers.Any(SyntaxKind.AsyncKeyword);
        var disposeAsync = method.Identifier.ValueText == "DisposeAsync";
        List<StatementSyntax> statements;
        var makeAsync = false;
        if (method.Body is { } body)
        {
            if (disposeAsync && !isAsync)
            {
                return null;
            }

            statements = body.Statements.ToList();
        }
        else if (method.ExpressionBody?.Expression is { } expression)
        {
            statements = new List<StatementSyntax>();
            if (disposeAsync && !isAsync)
            {
                // 'DisposeAsync() => other.DisposeAsync()' becomes async: the task is awaited in the try.
                makeAsync = true;
                if (!IsCompletedTask(expression))
                {
                    var awaitable = model.GetTypeInfo(expression, cancellationToken).Type?.Name;
                    if (awaitable is not ("ValueTask" or "Task"))
                    {
                        return null;
                    }

                    statements.Add(SyntaxFactory.ExpressionStatement(SyntaxFactory.AwaitExpression(Parenthesized(expression))));
                }
            }
            else
            {
                statements.Add(SyntaxFactory.ExpressionStatement(expression));
            }
        }
        else
        {
            return null;
        }

        // 'await x.DisposeAsync().ConfigureAwait(false)' in the method: the release written keeps to it.
        var configureAwaitFalse = method.DescendantNodes().OfType<InvocationExpressionSyntax>()
            .Any(i => i.Expression is MemberAccessExpressionSyntax { Name.Identifier.ValueText: "ConfigureAwait" }
                      && i.ArgumentList.Arguments.Count == 1
                      && i.ArgumentList.Arguments[0].Expression.IsKind(SyntaxKind.FalseLiteralExpression));
        if (release.Statement(isAsync || makeAsync, configureAwaitFalse) is not { } releaseStatement)
        {
            return null;
        }

        // An #if group that ends above a release that goes stays where it was, with the code it holds; a release under an
        // open #if is the author's choice of builds, and is not moved.
        var kept = new List<StatementSyntax>();
        var directives = SyntaxTriviaList.Empty;
        foreach (var statement in statements)
        {
            if (!release.IsReleaseStatement(statement))
            {
                kept.Add(directives.Count == 0 ? statement : statement.WithLeadingTrivia(directives.AddRange(statement.GetLeadingTrivia())));
                directives = SyntaxTriviaList.Empty;
                continue;
            }

            var leading = statement.GetLeadingTrivia();
            if (leading.Concat(statement.GetTrailingTrivia()).Any(t => AuthorTrivia.IsComment(t, orDocumentation: true)))
            {
                // The author's note on the release: where it would belong once the release moves is theirs to say.
                return null;
            }

            if (leading.Any(t => t.IsDirective))
            {
                if (OpensDirectiveGroup(leading))
                {
                    return null;
                }

                directives = directives.AddRange(leading);
            }
        }

        if (kept.Any(statement => release.IsReleasedOrAssignedIn(statement) || release.LetsTheMemberOut(statement)))
        {
            // Released under a condition (a re-entrancy counter) or replaced: moving the release would change what it does.
            // Read into something the fix cannot follow: a release through it would be a second one.
            return null;
        }

        if (method.Body is { } closed && DirectiveGroups.EndsOrSwitchesAGroupOpenedAbove(closed.CloseBraceToken.LeadingTrivia))
        {
            // '#endif' above the closing brace: its '#if' would be in the try, and the try's end outside the group.
            return null;
        }

        var guards = kept.TakeWhile(release.IsGuard).ToList();
        var rest = kept.Skip(guards.Count).ToList();
        if (rest.Any(statement => statement.DescendantNodesAndSelf(n => n is not (AnonymousFunctionExpressionSyntax or LocalFunctionStatementSyntax)).OfType<ReturnStatementSyntax>().Any()))
        {
            return null;
        }

        var newStatements = guards;
        var tryBlock = SyntaxFactory.Block(rest);
        if (directives.Count > 0)
        {
            // The group stood after the last statement that stays: it ends the try, before the release.
            tryBlock = tryBlock.WithCloseBraceToken(tryBlock.CloseBraceToken.WithLeadingTrivia(directives));
            releaseStatement = rest.Count == 0 ? releaseStatement.WithLeadingTrivia(directives) : releaseStatement;
        }

        newStatements.Add(rest.Count == 0
            ? releaseStatement
            : SyntaxFactory.TryStatement(tryBlock, default, SyntaxFactory.FinallyClause(SyntaxFactory.Block(releaseStatement))));
        var rewritten = method
            .WithExpressionBody(null)
            .WithSemicolonToken(default)
            .WithBody(KeepNotes(method.Body, SyntaxFactory.Block(newStatements)));
        if (makeAsync)
        {
            rewritten = rewritten.WithModifiers(rewritten.Modifiers.Add(SyntaxFactory.Token(SyntaxKind.AsyncKeyword).WithTrailingTrivia(SyntaxFactory.Space)));
        }

        if (method.ExpressionBody is not null)
        {
            rewritten = rewritten.WithParameterList(rewritten.ParameterList.WithTrailingTrivia(SyntaxFactory.ElasticCarriageReturnLineFeed));
        }

        return rewritten.WithAdditionalAnnotations(Formatter.Annotation);
    }

    /// <summary>
    /// The new body with the comments and directives of the old one's braces (<c>{ // note</c>, an <c>#endregion</c> or
    /// a comment above the closing brace); a body with none keeps the new braces, which the formatter lays out.
    /// </summary>
    private static BlockSyntax KeepNotes(BlockSyntax? original, BlockSyntax body)
    {
        if (original is null)
        {
            return body;
        }

        if (original.OpenBraceToken.TrailingTrivia.Any(AuthorTrivia.IsNote))
        {
            var open = body.OpenBraceToken.WithTrailingTrivia(original.OpenBraceToken.TrailingTrivia);
            body = body.WithOpenBraceToken(open);
        }

        return original.CloseBraceToken.LeadingTrivia.Any(AuthorTrivia.IsNote)
            ? body.WithCloseBraceToken(body.CloseBraceToken.WithLeadingTrivia(original.CloseBraceToken.LeadingTrivia))
            : body;
    }

    /// <summary>Does the trivia leave an <c>#if</c> open over the statement it stands above?</summary>
    private static bool OpensDirectiveGroup(SyntaxTriviaList leading) => DirectiveGroups.Above(leading).Open > 0;

    private static bool IsCompletedTask(ExpressionSyntax expression) =>
        expression.IsKind(SyntaxKind.DefaultLiteralExpression)
        || expression is DefaultExpressionSyntax
        || expression is MemberAccessExpressionSyntax { Name.Identifier.ValueText: "CompletedTask" };

    private static ExpressionSyntax Parenthesized(ExpressionSyntax expression) =>
        expression is InvocationExpressionSyntax or MemberAccessExpressionSyntax or IdentifierNameSyntax
            ? expression.WithoutTrivia()
            : SyntaxFactory.ParenthesizedExpression(expression.WithoutTrivia());
}
