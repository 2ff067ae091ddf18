// Parallel.For and Parallel.ForEach with thread-local state: 'localInit' runs once per worker and its value is handed
// to each body call and then to 'localFinally'. A 'localInit' that only hands back a fresh acquisition gives each
// worker a connection that only 'localFinally' can release; one that does not release its argument leaks a connection
// per worker.
using System.Collections.Generic;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.FlowAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>Finds the <c>Parallel</c> loops of a graph whose <c>localFinally</c> forgets the connection
/// <c>localInit</c> acquired.</summary>
internal static class ParallelLocalState
{
    /// <summary>
    /// The acquisitions of <paramref name="graph"/>'s <c>localInit</c> lambdas whose loop's <c>localFinally</c> lambda
    /// does not release its argument on a path that ends normally, with the name of the loop's method. A
    /// <c>localFinally</c> that is no lambda of the graph, or whose walk gives up, is taken to release it.
    /// </summary>
    public static IEnumerable<(IInvocationOperation Acquisition, string Loop)> Forgotten(ControlFlowGraph graph, FlowContext context)
    {
        foreach (var block in graph.Blocks)
        {
            foreach (var operation in block.Operations)
            {
                foreach (var node in operation.DescendantsAndSelf())
                {
                    if (node is IInvocationOperation { TargetMethod: { Name: "For" or "ForEach", ContainingType: { Name: "Parallel", ContainingNamespace: { Name: "Tasks", ContainingNamespace.Name: "Threading" } } } } loop
                        && Argument(loop, "localInit") is { } init
                        && Argument(loop, "localFinally") is { } final
                        && AcquisitionSites.ReturnedAcquisition(init, context) is { } acquisition
                        && Forgets(graph, final, context))
                    {
                        yield return (acquisition, $"Parallel.{loop.TargetMethod.Name}");
                    }
                }
            }
        }
    }

    private static IOperation? Argument(IInvocationOperation invocation, string name)
    {
        foreach (var argument in invocation.Arguments)
        {
            if (argument.Parameter?.Name == name)
            {
                return argument.Value;
            }
        }

        return null;
    }

    /// <summary>Does the <c>localFinally</c> lambda <paramref name="final"/> leave its argument unreleased on some
    /// normal path?</summary>
    private static bool Forgets(ControlFlowGraph graph, IOperation final, FlowContext context)
    {
        var target = TrackedVariables.Unwrap(final);
        while (target is IDelegateCreationOperation creation)
        {
            target = TrackedVariables.Unwrap(creation.Target);
        }

        if (target is not IFlowAnonymousFunctionOperation { Symbol.Parameters.Length: > 0 } lambda)
        {
            return false;
        }

        var state = lambda.Symbol.Parameters[0];
        var lambdaGraph = graph.GetAnonymousFunctionControlFlowGraph(lambda, context.CancellationToken);
        var effect = SummaryInference.EffectOf(LeakFlowAnalysis.Observe(lambdaGraph, site: null, state, context, AcquisitionSites.OwnLocals(lambdaGraph)));
        return effect == ParameterEffect.None;
    }
}
