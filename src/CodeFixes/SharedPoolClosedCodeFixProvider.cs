using System.Collections.Immutable;
using System.Composition;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using TenantDbGuard.Analyzers;
using TenantDbGuard.Analyzers.SharedPoolClosed;

namespace TenantDbGuard.CodeFixes;

/// <summary>
/// Fixes TDG003 for <c>pool.Dispose();</c> and <c>await pool.DisposeAsync();</c> written as statements: removes the call
/// and leaves the pool to its owner. A <c>using</c> over a shared pool and <c>ClearPool</c> have no automatic fix.
/// </summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(SharedPoolClosedCodeFixProvider))]
[Shared]
public sealed class SharedPoolClosedCodeFixProvider : CodeFixProvider
{
    private const string Title = "Remove the call and leave the pool to its owner";

    /// <inheritdoc />
    public override ImmutableArray<string> FixableDiagnosticIds { get; } = ImmutableArray.Create(DiagnosticIds.SharedPoolClosed);

    /// <inheritdoc />
    public override FixAllProvider GetFixAllProvider() => CallStatement.RemovingFixAll((root, _, diagnostic, _) => (Removal(root, diagnostic), Title));

    /// <inheritdoc />
    public override async Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        var root = await context.Document.GetSyntaxRootAsync(context.CancellationToken).ConfigureAwait(false);
        if (root is null)
        {
            return;
        }

        foreach (var diagnostic in context.Diagnostics)
        {
            if (Removal(root, diagnostic) is { } statement)
            {
                var document = context.Document;
                context.RegisterCodeFix(
                    CodeAction.Create(
                        Title,
                        _ => Task.FromResult(document.WithSyntaxRoot(CallStatement.Remove(root, statement))),
                        nameof(SharedPoolClosedCodeFixProvider)),
                    diagnostic);
            }
        }
    }

    /// <summary>The <c>Dispose</c> statement the fix of <paramref name="diagnostic"/> removes; null when it has none.</summary>
    private static ExpressionStatementSyntax? Removal(SyntaxNode root, Diagnostic diagnostic)
    {
        if (!diagnostic.Properties.TryGetValue(SharedPoolClosedProperties.Kind, out var kind) || kind != SharedPoolClosedProperties.DisposeCall)
        {
            return null;
        }

        var call = root.FindNode(diagnostic.Location.SourceSpan, getInnermostNodeForTie: true);
        if (CallStatement.Enclosing(call) is not { } statement
            || AuthorTrivia.HidesCode(statement.GetLeadingTrivia()))
        {
            // Code of a build that is not compiled ('#if DEBUG' above the call) is the call's trivia, and would go
            // with it.
            return null;
        }

        return statement;
    }
}
