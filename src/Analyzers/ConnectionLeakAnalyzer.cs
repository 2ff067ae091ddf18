using System.Collections.Generic;
using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
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
/// The analyzer registers on operation blocks, so every member kind is analysed. A cheap syntax scan of each block picks
/// those that call a method with an acquisition's name; only those get a control-flow graph and the flow analysis. Both rules come out of
/// the same walk of each acquisition.
/// </remarks>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class ConnectionLeakAnalyzer : DiagnosticAnalyzer
{
    /// <inheritdoc />
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } = ImmutableArray.Create(
        Descriptors.ConnectionNotReleased,
        Descriptors.ConnectionUsedAfterRelease,
        Descriptors.AnalysisLimitReached);

    /// <inheritdoc />
    public override void Initialize(AnalysisContext context)
    {
        context.EnableConcurrentExecution();
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.RegisterCompilationStartAction(static compilationContext =>
        {
            var rules = AcquisitionRules.Create(compilationContext.Compilation);
            var summaries = new MethodSummaries(compilationContext.Compilation, rules, compilationContext.Options.AnalyzerConfigOptionsProvider);
            compilationContext.RegisterOperationBlockAction(blockContext => AnalyzeMember(blockContext, rules, summaries));
        });
    }

    /// <summary>
    /// One member, whatever its kind: a method, constructor (a primary constructor's base arguments included), accessor,
    /// operator, field or property initializer, or the top-level statements. Its operation blocks (a constructor has its
    /// initializer and its body) share one control-flow graph, analysed once.
    /// </summary>
    private static void AnalyzeMember(OperationBlockAnalysisContext context, AcquisitionRules rules, MethodSummaries summaries)
    {
        if (context.OperationBlocks.IsEmpty)
        {
            return;
        }

        var names = rules.GetNames(context.Options.AnalyzerConfigOptionsProvider.GetOptions(context.OperationBlocks[0].Syntax.SyntaxTree));
        FlowContext? flow = null;
        List<IOperation>? analysed = null;
        var notChecked = 0;
        foreach (var block in context.OperationBlocks)
        {
            var root = block;
            while (root.Parent is not null)
            {
                root = root.Parent;
            }

            if (!AcquisitionSites.IsGraphRoot(root) || analysed?.Contains(root) == true || !MayAcquire(block.Syntax, names.AcquireNames, summaries))
            {
                continue;
            }

            (analysed ??= new List<IOperation>()).Add(root);
            notChecked += AnalyzeGraph(context, context.GetControlFlowGraph(block), flow ??= new FlowContext(rules, names, summaries, context.CancellationToken));
        }

        if (notChecked > 0)
        {
            // Once per member, on its name: the analysis stopped without a verdict for some acquisitions.
            var symbol = context.OwningSymbol;
            var location = symbol.Locations.Length > 0 && symbol.Locations[0].IsInSource ? symbol.Locations[0] : context.OperationBlocks[0].Syntax.GetLocation();
            context.ReportDiagnostic(Diagnostic.Create(Descriptors.AnalysisLimitReached, location, symbol.Name, notChecked));
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

            if (node is IdentifierNameSyntax identifier && summaries.CandidateProperties.Count > 0 && summaries.CandidateProperties.Contains(identifier.Identifier.ValueText))
            {
                // A property of the code whose getter acquires ('Connection.Query(...)').
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Analyses one graph and, recursively, the graphs of its lambdas and local functions; returns how many acquisitions
    /// were left notChecked at the step limit.
    /// </summary>
    private static int AnalyzeGraph(OperationBlockAnalysisContext context, ControlFlowGraph graph, FlowContext flow)
    {
        var notChecked = 0;
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

                var (leaks, handsOff, misuses, stepLimitReached) = LeakFlowAnalysis.Run(graph, site, flow, ownLocals);
                if (stepLimitReached)
                {
                    notChecked++;
                }

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

        if (lambdas.Count > 0)
        {
            foreach (var (acquisition, loop) in ParallelLocalState.Forgotten(graph, flow))
            {
                context.ReportDiagnostic(LeakDiagnostics.CreateForgottenByLocalFinally(acquisition, loop));
            }
        }

        foreach (var lambda in lambdas)
        {
            notChecked += AnalyzeGraph(context, graph.GetAnonymousFunctionControlFlowGraph(lambda, context.CancellationToken), flow);
        }

        foreach (var localFunction in graph.LocalFunctions)
        {
            notChecked += AnalyzeGraph(context, graph.GetLocalFunctionControlFlowGraph(localFunction, context.CancellationToken), flow);
        }

        return notChecked;
    }
}
