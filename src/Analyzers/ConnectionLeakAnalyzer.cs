using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.FlowAnalysis;
using Microsoft.CodeAnalysis.Operations;
using TenantDbGuard.Analyzers.ConnectionLeak;

namespace TenantDbGuard.Analyzers;

/// <summary>
/// TDG001: a connection (from <c>GetConnection</c>, <c>OpenConnection</c>, or <c>Open</c> on a connection) that is
/// not released on every path of the control-flow graph, exceptional paths included; and TDG004: a connection used,
/// or released again, on a path where it was already released.
/// </summary>
/// <remarks>
/// A cheap syntax scan picks the members that call a method with an acquisition's name; only those are bound,
/// and only the bodies that really acquire get a control-flow graph and the flow analysis. Both rules come out of
/// the same walk of each acquisition.
/// </remarks>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class ConnectionLeakAnalyzer : DiagnosticAnalyzer
{
    private static readonly SyntaxKind[] MemberKinds =
    {
        SyntaxKind.MethodDeclaration,
        SyntaxKind.ConstructorDeclaration,
        SyntaxKind.DestructorDeclaration,
        SyntaxKind.OperatorDeclaration,
        SyntaxKind.ConversionOperatorDeclaration,
        SyntaxKind.GetAccessorDeclaration,
        SyntaxKind.SetAccessorDeclaration,
        SyntaxKind.InitAccessorDeclaration,
        SyntaxKind.AddAccessorDeclaration,
        SyntaxKind.RemoveAccessorDeclaration,
        SyntaxKind.PropertyDeclaration,
        SyntaxKind.IndexerDeclaration,
        SyntaxKind.FieldDeclaration,
        SyntaxKind.EventFieldDeclaration,
        SyntaxKind.CompilationUnit,
    };

    /// <inheritdoc />
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } = ImmutableArray.Create(
        Descriptors.ConnectionNotReleased,
        Descriptors.ConnectionUsedAfterRelease);

    /// <inheritdoc />
    public override void Initialize(AnalysisContext context)
    {
        context.EnableConcurrentExecution();
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.RegisterCompilationStartAction(static compilationContext =>
        {
            var rules = AcquisitionRules.Create(compilationContext.Compilation);
            var summaries = new MethodSummaries(compilationContext.Compilation, rules, compilationContext.Options.AnalyzerConfigOptionsProvider);
            compilationContext.RegisterSyntaxNodeAction(nodeContext => AnalyzeMember(nodeContext, rules, summaries), MemberKinds);
        });
    }

    private static void AnalyzeMember(SyntaxNodeAnalysisContext context, AcquisitionRules rules, MethodSummaries summaries)
    {
        var names = rules.GetNames(context.Options.AnalyzerConfigOptionsProvider.GetOptions(context.Node.SyntaxTree));
        FlowContext? flow = null;
        foreach (var body in ExecutableParts(context.Node))
        {
            if (!MayAcquire(body, names.AcquireNames, summaries))
            {
                continue;
            }

            var graph = AcquisitionSites.CreateGraph(context.SemanticModel, body, context.CancellationToken);
            if (graph is not null)
            {
                AnalyzeGraph(context, graph, flow ??= new FlowContext(rules, names, summaries, context.CancellationToken));
            }
        }
    }

    /// <summary>The parts of a member that hold executable code, each the root of one control-flow graph.</summary>
    private static IEnumerable<SyntaxNode> ExecutableParts(SyntaxNode member)
    {
        switch (member)
        {
            case BaseMethodDeclarationSyntax method:
                if (method.Body is not null || method.ExpressionBody is not null)
                {
                    yield return method;
                }

                break;
            case AccessorDeclarationSyntax accessor:
                if (accessor.Body is not null || accessor.ExpressionBody is not null)
                {
                    yield return accessor;
                }

                break;
            case PropertyDeclarationSyntax property:
                if (property.ExpressionBody is not null)
                {
                    yield return property.ExpressionBody;
                }

                if (property.Initializer is not null)
                {
                    yield return property.Initializer;
                }

                break;
            case IndexerDeclarationSyntax indexer:
                if (indexer.ExpressionBody is not null)
                {
                    yield return indexer.ExpressionBody;
                }

                break;
            case BaseFieldDeclarationSyntax field:
                foreach (var variable in field.Declaration.Variables)
                {
                    if (variable.Initializer is not null)
                    {
                        yield return variable.Initializer;
                    }
                }

                break;
            case CompilationUnitSyntax unit:
                if (unit.Members.Any(m => m.IsKind(SyntaxKind.GlobalStatement)))
                {
                    yield return unit;
                }

                break;
        }
    }

    /// <summary>The syntax pre-filter: does the code call anything named like an acquisition?</summary>
    private static bool MayAcquire(SyntaxNode body, ImmutableHashSet<string> acquireNames, MethodSummaries summaries)
    {
        // Types and namespaces in a compilation unit are analysed member by member, not with the top-level statements.
        foreach (var node in body.DescendantNodes(descendIntoChildren: static n => n is not (BaseTypeDeclarationSyntax or BaseNamespaceDeclarationSyntax or DelegateDeclarationSyntax)))
        {
            if (node is InvocationExpressionSyntax invocation && SummaryCandidates.InvokedName(invocation.Expression) is { } name
                && (acquireNames.Contains(name) || summaries.CandidateNames.Contains(name)))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Analyses one graph and, recursively, the graphs of its lambdas and local functions.</summary>
    private static void AnalyzeGraph(SyntaxNodeAnalysisContext context, ControlFlowGraph graph, FlowContext flow)
    {
        var lambdas = new List<IFlowAnonymousFunctionOperation>();
        var sites = AcquisitionSites.Find(graph, flow, lambdas);
        if (sites.Count > 0)
        {
            var ownLocals = AcquisitionSites.OwnLocals(graph);
            HashSet<SyntaxNode>? misused = null;
            foreach (var site in sites)
            {
                if (site.Anchor is ILocalSymbol anchor && !ownLocals.Contains(anchor))
                {
                    // Opening a connection that belongs to an enclosing method: that method releases it.
                    continue;
                }

                var (leaks, handsOff, misuses) = LeakFlowAnalysis.Run(graph, site, flow, ownLocals);
                if (leaks.Count > 0)
                {
                    context.ReportDiagnostic(LeakDiagnostics.Create(site, leaks, handsOff));
                }

                foreach (var misuse in misuses)
                {
                    // Two acquisitions of one variable (Open twice) see the same misuse: report it once.
                    if ((misused ??= new HashSet<SyntaxNode>()).Add(misuse.At.Syntax))
                    {
                        context.ReportDiagnostic(LeakDiagnostics.Create(site, misuse));
                    }
                }
            }
        }

        foreach (var lambda in lambdas)
        {
            AnalyzeGraph(context, graph.GetAnonymousFunctionControlFlowGraph(lambda, context.CancellationToken), flow);
        }

        foreach (var localFunction in graph.LocalFunctions)
        {
            AnalyzeGraph(context, graph.GetLocalFunctionControlFlowGraph(localFunction, context.CancellationToken), flow);
        }
    }
}
