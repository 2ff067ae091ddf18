using System.Collections.Immutable;
using System.Composition;
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
    public override FixAllProvider GetFixAllProvider() => WellKnownFixAllProviders.BatchFixer;

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
            if (!diagnostic.Properties.TryGetValue(SharedPoolClosedProperties.Kind, out var kind) || kind != SharedPoolClosedProperties.DisposeCall)
            {
                continue;
            }

            var call = root.FindNode(diagnostic.Location.SourceSpan, getInnermostNodeForTie: true);
            if (CallStatement.Enclosing(call) is not { } statement)
            {
                continue;
            }

            var document = context.Document;
            context.RegisterCodeFix(
                CodeAction.Create(
                    Title,
                    _ => Task.FromResult(document.WithSyntaxRoot(root.RemoveNode(statement, SyntaxRemoveOptions.KeepUnbalancedDirectives)!)),
                    nameof(SharedPoolClosedCodeFixProvider)),
                diagnostic);
        }
    }
}
