using System.Collections.Generic;
using System.Collections.Immutable;
using System.Composition;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using TenantDbGuard.Analyzers;
using TenantDbGuard.Analyzers.ConnectionLeak;

namespace TenantDbGuard.CodeFixes;

/// <summary>
/// Fixes TDG004 where that is safe: removes a second release that every path reaches after a first one, or an explicit
/// release that a <c>using</c> or a <c>finally</c> repeats on every path. Only a release that is a statement of its own
/// in a block is removed, and never one after which the variable takes a new connection (a retry's
/// <c>x.Dispose(); x = pool.GetConnection();</c>): there the other release is of the new connection, and removing this
/// one would leak the old. A use after release has no safe automatic fix.
/// </summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(UseAfterReleaseCodeFixProvider))]
[Shared]
public sealed class UseAfterReleaseCodeFixProvider : CodeFixProvider
{
    /// <summary>
    /// The equivalence key of both fixes ("Remove the second release", "Remove the explicit release"), so that Fix All
    /// removes every redundant release in one pass.
    /// </summary>
    public const string RemoveRedundantReleaseKey = "TDG004.RemoveRedundantRelease";

    /// <inheritdoc />
    public override ImmutableArray<string> FixableDiagnosticIds { get; } = ImmutableArray.Create(DiagnosticIds.ConnectionUsedAfterRelease);

    /// <inheritdoc />
    public override FixAllProvider GetFixAllProvider() => CallStatement.RemovingFixAll(Removal);

    /// <inheritdoc />
    public override async Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        var root = await context.Document.GetSyntaxRootAsync(context.CancellationToken).ConfigureAwait(false);
        var model = await context.Document.GetSemanticModelAsync(context.CancellationToken).ConfigureAwait(false);
        if (root is null || model is null)
        {
            return;
        }

        foreach (var diagnostic in context.Diagnostics)
        {
            if (Removal(root, model, diagnostic, context.CancellationToken) is ({ } statement, { } title))
            {
                context.RegisterCodeFix(
                    CodeAction.Create(title, _ => Task.FromResult(context.Document.WithSyntaxRoot(CallStatement.Remove(root, statement))), RemoveRedundantReleaseKey),
                    diagnostic);
            }
        }
    }

    /// <summary>The release the fix of <paramref name="diagnostic"/> removes, and the fix's title; nulls when it has none.</summary>
    private static (ExpressionStatementSyntax? Statement, string? Title) Removal(SyntaxNode root, SemanticModel model, Diagnostic diagnostic, CancellationToken cancellationToken)
    {
        if (!diagnostic.Properties.TryGetValue(UseAfterReleaseProperties.Fixable, out var fixable) || fixable != "true"
            || !diagnostic.Properties.TryGetValue(UseAfterReleaseProperties.Kind, out var kind))
        {
            return default;
        }

        var title = kind switch
        {
            nameof(MisuseKind.ReleasedAgain) => "Remove the second release",
            nameof(MisuseKind.ReleasedBeforeFinally) => "Remove the explicit release",
            _ => null,
        };
        if (title is null || ReleaseStatement(root, diagnostic.Location) is not { } statement
            || statement.GetLeadingTrivia().Any(AuthorTrivia.IsDirectiveOrHiddenCode))
        {
            // A directive (or a build's code) above the release is its trivia, and would go with it.
            return default;
        }

        // The variable the release goes through; the checks below all ask about it.
        var released = CallStatement.Receiver(statement) is { } receiver ? model.GetSymbolInfo(receiver).Symbol : null;
        if ((kind == nameof(MisuseKind.ReleasedBeforeFinally) && !ReleasesOnEveryPath(root, diagnostic.AdditionalLocations.FirstOrDefault()))
            || released is null
            || !ReleasesTheSameVariable(model, root, released, diagnostic.AdditionalLocations.FirstOrDefault())
            || IsReadAfter(model, statement, released)
            || TakesANewValueAfter(model, statement, released)
            || (kind == nameof(MisuseKind.ReleasedBeforeFinally) && TakesAnotherBeforeTheOtherRelease(model, root, statement, released, diagnostic.AdditionalLocations.FirstOrDefault(), cancellationToken))
            || LeavesTheWorkToAnUnconfiguredAwait(root, statement, diagnostic.AdditionalLocations.FirstOrDefault()))
        {
            return default;
        }

        return (statement, title);
    }

    /// <summary>
    /// The statement <c>x.Release();</c>, <c>x?.Dispose();</c> or <c>await x.DisposeAsync().ConfigureAwait(false);</c>
    /// whose call is at <paramref name="location"/>, when it sits directly in a block.
    /// </summary>
    private static ExpressionStatementSyntax? ReleaseStatement(SyntaxNode root, Location? location)
    {
        if (location is not { SourceTree: { } tree } || tree != root.SyntaxTree)
        {
            return null;
        }

        // The outermost of the nodes the span is exactly (a call, not the member access or name it starts with).
        var node = root.FindNode(location.SourceSpan);
        if (node is not (InvocationExpressionSyntax or ConditionalAccessExpressionSyntax))
        {
            return null;
        }

        return CallStatement.Enclosing(node);
    }

    /// <summary>Is the released variable assigned after the release, or anywhere in a loop around it?</summary>
    private static bool TakesANewValueAfter(SemanticModel model, ExpressionStatementSyntax release, ISymbol released)
    {
        if (released is not ILocalSymbol local)
        {
            return true;
        }

        var function = release.Ancestors().FirstOrDefault(a => a is AnonymousFunctionExpressionSyntax or LocalFunctionStatementSyntax or BaseMethodDeclarationSyntax or AccessorDeclarationSyntax or CompilationUnitSyntax);
        var loops = release.Ancestors().TakeWhile(a => a != function).Where(a => a is CommonForEachStatementSyntax or ForStatementSyntax or WhileStatementSyntax or DoStatementSyntax).ToList();
        return function is not null && function.DescendantNodes().OfType<AssignmentExpressionSyntax>().Any(assignment =>
            assignment.Left is IdentifierNameSyntax target
            && SymbolEqualityComparer.Default.Equals(model.GetSymbolInfo(target).Symbol, local)
            && (assignment.SpanStart > release.SpanStart || loops.Any(loop => loop.Span.Contains(assignment.Span))));
    }

    /// <summary>
    /// Does the release name the variable the other release (a <c>using</c>, a <c>finally</c>, the first release) names? A release through another
    /// variable (a wrapper that disposes the connection it was given) may do more than release it, and is kept.
    /// </summary>
    private static bool ReleasesTheSameVariable(SemanticModel model, SyntaxNode root, ISymbol released, Location? other)
    {
        if (other is not { SourceTree: { } tree } || tree != root.SyntaxTree)
        {
            return false;
        }

        var node = root.FindNode(other.SourceSpan, getInnermostNodeForTie: true);
        var symbol = ReleaseStatement(root, other) is { } otherRelease
            ? CallStatement.Receiver(otherRelease) is { } otherReceiver ? model.GetSymbolInfo(otherReceiver).Symbol : null
            : node.FirstAncestorOrSelf<VariableDeclaratorSyntax>() is { Parent.Parent: UsingStatementSyntax or LocalDeclarationStatementSyntax { UsingKeyword.RawKind: not 0 } } declarator
                ? model.GetDeclaredSymbol(declarator)
                : node.FirstAncestorOrSelf<UsingStatementSyntax>() is { Expression: { } expression } && expression.Span == other.SourceSpan
                    ? model.GetSymbolInfo(expression).Symbol
                    : null;
        return SymbolEqualityComparer.Default.Equals(symbol, released);
    }

    /// <summary>
    /// Is the release <c>await x.DisposeAsync().ConfigureAwait(false)</c>, the other an <c>await using</c> that does not
    /// configure its await, in a function whose other awaits are configured? The release that goes is the one that does
    /// the work: the using's await would then resume on the caller's context, which the function avoids everywhere else.
    /// </summary>
    private static bool LeavesTheWorkToAnUnconfiguredAwait(SyntaxNode root, ExpressionStatementSyntax release, Location? other)
    {
        if (release.Expression is not AwaitExpressionSyntax { Expression: InvocationExpressionSyntax configured } || !IsConfiguredFalse(configured)
            || other is not { SourceTree: { } tree } || tree != root.SyntaxTree)
        {
            return false;
        }

        var node = root.FindNode(other.SourceSpan, getInnermostNodeForTie: true);
        var unconfiguredUsing = node.FirstAncestorOrSelf<LocalDeclarationStatementSyntax>() is { AwaitKeyword.RawKind: not 0, UsingKeyword.RawKind: not 0 }
                                || node.FirstAncestorOrSelf<UsingStatementSyntax>() is { AwaitKeyword.RawKind: not 0, Expression: not InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax { Name.Identifier.ValueText: "ConfigureAwait" } } };
        return unconfiguredUsing
               && ConnectionLeak.FunctionContext.Of(release)?.Node is { } function
               && function.DescendantNodes(n => n == function || !ConnectionLeak.FunctionContext.IsFunction(n))
                   .OfType<InvocationExpressionSyntax>()
                   .Any(call => IsConfiguredFalse(call) && !release.Span.Contains(call.Span));

        static bool IsConfiguredFalse(InvocationExpressionSyntax call) =>
            call is { Expression: MemberAccessExpressionSyntax { Name.Identifier.ValueText: "ConfigureAwait" }, ArgumentList.Arguments: { Count: 1 } arguments }
            && arguments[0].Expression.IsKind(SyntaxKind.FalseLiteralExpression);
    }

    /// <summary>
    /// Does a statement after the release in its block read the released variable (<c>conn.State</c>)? Without the
    /// release it would see the connection still open.
    /// </summary>
    private static bool IsReadAfter(SemanticModel model, ExpressionStatementSyntax release, ISymbol released)
    {
        if (release.Parent is not BlockSyntax block)
        {
            return true;
        }

        return block.Statements.SkipWhile(s => s != release).Skip(1).Any(s => s.DescendantNodesAndSelf().OfType<IdentifierNameSyntax>().Any(name =>
            name.Identifier.ValueText == released.Name && SymbolEqualityComparer.Default.Equals(model.GetSymbolInfo(name).Symbol, released)));
    }

    /// <summary>
    /// Does the code take another connection of the released one's type after the explicit release and before the
    /// <c>using</c> or the <c>finally</c> releases it again? Without the explicit release it would hold both at once: a
    /// pool of one (or a tenant's cap) would then wait for itself.
    /// </summary>
    private static bool TakesAnotherBeforeTheOtherRelease(SemanticModel model, SyntaxNode root, ExpressionStatementSyntax release, ISymbol released, Location? other, CancellationToken cancellationToken)
    {
        var type = released switch
        {
            ILocalSymbol local => local.Type,
            IParameterSymbol parameter => parameter.Type,
            IFieldSymbol field => field.Type,
            IPropertySymbol property => property.Type,
            _ => null,
        };
        if (type is null || other is not { SourceTree: { } tree } || tree != root.SyntaxTree)
        {
            return true;
        }

        // Where the other release holds: the block of a using declaration, a using statement, the try of a finally.
        var node = root.FindNode(other.SourceSpan, getInnermostNodeForTie: true);
        SyntaxNode? scope = node.FirstAncestorOrSelf<VariableDeclaratorSyntax>() is { Parent.Parent: LocalDeclarationStatementSyntax { UsingKeyword.RawKind: not 0, Parent: { } declaring } }
            ? declaring
            : node.FirstAncestorOrSelf<UsingStatementSyntax>() is { } usingStatement && usingStatement.Span.Contains(release.Span)
                ? usingStatement
                : node.FirstAncestorOrSelf<FinallyClauseSyntax>()?.Parent is TryStatementSyntax attempt
                    ? attempt.Block
                    : null;
        // A lambda in the scope counts too: it may run before the other release does; so does a method of the project
        // that it calls, or one that method calls in turn (an 'Audit()' that takes its own connection).
        return scope is null
               || ConnectionLeak.ReleaseInFinallyFix.TakesAnotherThroughCalls(
                   model, scope.DescendantNodes().Where(n => n.SpanStart >= release.Span.End), type, cancellationToken);
    }

    /// <summary>Is the other release a <c>using</c>, or a statement of its own directly in the <c>finally</c> block?</summary>
    private static bool ReleasesOnEveryPath(SyntaxNode root, Location? other)
    {
        if (other is not { SourceTree: { } tree } || tree != root.SyntaxTree)
        {
            return false;
        }

        var node = root.FindNode(other.SourceSpan, getInnermostNodeForTie: true);
        if (node.FirstAncestorOrSelf<VariableDeclaratorSyntax>() is { Parent.Parent: UsingStatementSyntax or LocalDeclarationStatementSyntax { UsingKeyword.RawKind: not 0 } }
            || node.FirstAncestorOrSelf<UsingStatementSyntax>() is { } usingStatement && usingStatement.Expression?.Span == other.SourceSpan)
        {
            return true;
        }

        return ReleaseStatement(root, other) is { Parent.Parent: FinallyClauseSyntax };
    }
}
