using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Formatting;
using static Microsoft.CodeAnalysis.CSharp.SyntaxFactory;

namespace TenantDbGuard.CodeFixes.ConnectionLeak;

/// <summary>A discarded result: keep the call, release its value (<c>using (pool.GetConnection()) { }</c> or <c>pool.GetConnection().Release();</c>).</summary>
internal static class ReleaseDiscardedFix
{
    public static void Add(ReleaseChooser chooser, ExpressionStatementSyntax statement, ExpressionSyntax value, ITypeSymbol type, ImmutableArray<LeakFix>.Builder fixes)
    {
        if (Released(chooser, value, type, statement) is not { } replacement)
        {
            return;
        }

        replacement = replacement.WithTriviaFrom(statement).WithAdditionalAnnotations(Formatter.Annotation);
        fixes.Add(LeakFix.ReleaseDiscarded(root => root.ReplaceNode(Statements.Find(root, statement), replacement)));
    }

    /// <summary>
    /// The statement that takes the value and gives it back: the type's own release called on it when that is not a
    /// dispose, else a <c>using</c> (<c>await using</c> in async code, from C# 8 on; before it the awaited
    /// <c>DisposeAsync()</c> call) with an empty body.
    /// </summary>
    public static StatementSyntax? Released(ReleaseChooser chooser, ExpressionSyntax value, ITypeSymbol type, SyntaxNode position)
    {
        var receiver = value is AwaitExpressionSyntax ? ParenthesizedExpression(value.WithoutTrivia()) : value.WithoutTrivia();
        var release = chooser.ChooseFor(type, receiver, position, ReleaseNeeds.GiveUp);
        if (release is ExpressionStatementSyntax { Expression: InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax { Name.Identifier.ValueText: not ("Dispose" or "DisposeAsync") } } })
        {
            return release;
        }

        return chooser.UsingToWrite(type, position) switch
        {
            UsingKind.Async when chooser.HasUsingDeclarations => UsingStatement(null, value.WithoutTrivia(), Block()).WithAwaitKeyword(Token(SyntaxKind.AwaitKeyword)),
            UsingKind.Sync => UsingStatement(null, value.WithoutTrivia(), Block()),
            _ => release,
        };
    }
}
