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
using Microsoft.CodeAnalysis.Formatting;
using TenantDbGuard.Analyzers;
using TenantDbGuard.CodeFixes.ConnectionLeak;

namespace TenantDbGuard.CodeFixes;

/// <summary>
/// Fixes TDG001: <c>await using</c> / <c>using</c>, release in <c>finally</c>, dispose on failure for connections
/// handed to the caller, and release of a discarded result. Fix All applies the fixes one diagnostic at a time
/// on the updated document, so two connections in one method are both fixed without conflicting edits.
/// </summary>
[ExportCodeFixProvider(Microsoft.CodeAnalysis.LanguageNames.CSharp, Name = nameof(ConnectionLeakCodeFixProvider))]
[Shared]
public sealed class ConnectionLeakCodeFixProvider : CodeFixProvider
{
    private static readonly FixAllProvider FixAll = FixAllProvider.Create(FixAllInDocumentAsync);

    /// <inheritdoc />
    public override ImmutableArray<string> FixableDiagnosticIds { get; } = ImmutableArray.Create(DiagnosticIds.ConnectionNotReleased);

    /// <inheritdoc />
    public override FixAllProvider GetFixAllProvider() => FixAll;

    /// <inheritdoc />
    public override async Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        var document = context.Document;
        var root = await document.GetSyntaxRootAsync(context.CancellationToken).ConfigureAwait(false);
        var model = await document.GetSemanticModelAsync(context.CancellationToken).ConfigureAwait(false);
        if (root is null || model is null)
        {
            return;
        }

        foreach (var diagnostic in context.Diagnostics)
        {
            // A connection that lands in an out/ref argument has no value to put in a 'using': no fix is planned for it.
            if (IsIntoArgument(diagnostic) || FindAcquisition(root, diagnostic) is not { } acquisition)
            {
                continue;
            }

            foreach (var fix in LeakFixPlanner.Plan(model, acquisition, diagnostic.Properties, ConfiguredReleaseNames(document, root), context.CancellationToken))
            {
                context.RegisterCodeFix(
                    CodeAction.Create(
                        fix.Title,
                        cancellationToken => LineEnds.FormatAsync(document.WithSyntaxRoot(fix.Apply(root)), root, cancellationToken),
                        fix.EquivalenceKey),
                    diagnostic);
            }
        }
    }

    private static bool IsIntoArgument(Diagnostic diagnostic) =>
        diagnostic.Properties.TryGetValue("Kind", out var kind) && kind == "IntoArgument";

    private static string? ConfiguredReleaseNames(Document document, SyntaxNode root) =>
        document.Project.AnalyzerOptions.AnalyzerConfigOptionsProvider.GetOptions(root.SyntaxTree).TryGetValue("tenantdbguard.release_methods", out var names)
            ? names
            : null;

    private static InvocationExpressionSyntax? FindAcquisition(SyntaxNode root, Diagnostic diagnostic)
    {
        // The acquiring call itself; a property whose getter acquires ('Connection.Query(...)', reported on 'Connection')
        // gets no fix: the call around it is not the acquisition.
        var node = root.FindNode(diagnostic.Location.SourceSpan, getInnermostNodeForTie: true);
        return node.FirstAncestorOrSelf<InvocationExpressionSyntax>(n => n.Span == diagnostic.Location.SourceSpan);
    }

    /// <summary>
    /// The variable that an acquisition's value lands in, through what <see cref="Statements.OutermostValue"/> climbs (the
    /// arms of a conditional or a switch expression among them): its declarator or its assignment. Null when the value
    /// goes anywhere else.
    /// </summary>
    private static SyntaxNode? TargetOf(InvocationExpressionSyntax acquisition)
    {
        var value = Statements.OutermostValue(acquisition, throughChoices: true);
        return value.Parent switch
        {
            EqualsValueClauseSyntax { Parent: VariableDeclaratorSyntax declarator } => declarator,
            AssignmentExpressionSyntax { RawKind: (int)SyntaxKind.SimpleAssignmentExpression } assignment when assignment.Right == value => assignment,
            _ => null,
        };
    }

    private static async Task<Document?> FixAllInDocumentAsync(FixAllContext context, Document document, ImmutableArray<Diagnostic> diagnostics)
    {
        var cancellationToken = context.CancellationToken;
        var root = await document.GetSyntaxRootAsync(cancellationToken).ConfigureAwait(false);
        if (root is null || diagnostics.IsEmpty)
        {
            return document;
        }

        var before = root;

        // Mark every acquisition first: each fix rewrites the tree, and the marks find the others again.
        var marks = new Dictionary<SyntaxNode, (SyntaxAnnotation Mark, Diagnostic Diagnostic, SyntaxNode? Target)>();
        foreach (var diagnostic in diagnostics.OrderBy(d => d.Location.SourceSpan.Start))
        {
            if (!IsIntoArgument(diagnostic) && FindAcquisition(root, diagnostic) is { } acquisition && !marks.ContainsKey(acquisition))
            {
                marks.Add(acquisition, (new SyntaxAnnotation(), diagnostic, TargetOf(acquisition)));
            }
        }

        root = root.ReplaceNodes(marks.Keys, (original, rewritten) => rewritten.WithAdditionalAnnotations(marks[original].Mark));
        document = document.WithSyntaxRoot(root);

        // The arms of 'cond ? a.GetConnection() : b.GetConnection()' (or of a switch expression) are two diagnostics and
        // one variable: the fix of the first protects the variable, and a second fix planned from the other arm's stale
        // diagnostic would release it again ('using var' and a 'finally' both).
        var fixedTargets = new HashSet<SyntaxNode>();
        foreach (var (mark, diagnostic, target) in marks.Values)
        {
            if (target is not null && fixedTargets.Contains(target))
            {
                continue;
            }

            root = (await document.GetSyntaxRootAsync(cancellationToken).ConfigureAwait(false))!;
            if (root.GetAnnotatedNodes(mark).FirstOrDefault() is not InvocationExpressionSyntax acquisition)
            {
                continue;
            }

            var model = await document.GetSemanticModelAsync(cancellationToken).ConfigureAwait(false);
            if (model is null)
            {
                continue;
            }

            var fixes = LeakFixPlanner.Plan(model, acquisition, diagnostic.Properties, ConfiguredReleaseNames(document, root), cancellationToken);
            var fix = fixes.FirstOrDefault(f => f.EquivalenceKey == context.CodeActionEquivalenceKey) ?? fixes.FirstOrDefault();
            if (fix is not null)
            {
                document = document.WithSyntaxRoot(fix.Apply(root));
                if (target is not null)
                {
                    fixedTargets.Add(target);
                }
            }
        }

        return await LineEnds.FormatAsync(document, before, cancellationToken).ConfigureAwait(false);
    }
}
