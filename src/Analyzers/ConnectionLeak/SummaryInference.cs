// How a summary is read from a method's body, with the same flow analysis the rules use: each acquisition of the
// method is followed with returns, exits and yields observed; each parameter is followed from the start as an
// already held resource. Judgements are path-exact per acquisition and conservative across them: a return counts
// as handing back an acquisition only when one acquisition is returned there on every path that reaches it.
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.FlowAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>Infers <see cref="MethodSummary"/> and <see cref="ParameterEffect"/> from bodies.</summary>
internal static class SummaryInference
{
    public static MethodSummary InferMethod(MethodSummaries summaries, IMethodSymbol method, CancellationToken cancellationToken)
    {
        if (summaries.GraphOf(method, cancellationToken) is not var (graph, names))
        {
            return MethodSummary.Nothing;
        }

        var context = new FlowContext(summaries.Rules, names, summaries, cancellationToken);
        var sites = AcquisitionSites.Find(graph, context, lambdas: null);
        var ownLocals = AcquisitionSites.OwnLocals(graph);
        var observed = new List<FlowObservations>(sites.Count);
        foreach (var site in sites)
        {
            if (LeakFlowAnalysis.Observe(graph, site, holder: null, context, ownLocals) is { } observations)
            {
                observed.Add(observations);
            }
        }

        var holdsAcrossYield = false;
        foreach (var observations in observed)
        {
            holdsAcrossYield |= observations.HeldAcrossYield;
        }

        var returns = !holdsAcrossYield && ReturnsAcquisition(graph, method, summaries.Rules, observed, sites);
        var into = ImmutableArray.CreateBuilder<ArgumentAcquisition>();
        foreach (var parameter in method.Parameters)
        {
            if (parameter.RefKind is RefKind.Out or RefKind.Ref && AcquiresInto(parameter, method, observed) is { } acquisition)
            {
                into.Add(acquisition);
            }
        }

        var result = into.Count > 0 ? ConstantResult(graph, method) : null;
        return returns || into.Count > 0 || holdsAcrossYield
            ? new MethodSummary(returns, into.ToImmutable(), holdsAcrossYield, result)
            : MethodSummary.Nothing;
    }

    /// <summary>
    /// The constant every return of a <c>bool</c> method gives (<c>return true;</c> everywhere, a <c>const</c> field
    /// included); null when one return reads anything else, or when the method never returns.
    /// </summary>
    private static bool? ConstantResult(ControlFlowGraph graph, IMethodSymbol method)
    {
        if (method.ReturnType.SpecialType != SpecialType.System_Boolean || method.ReturnsByRef || method.IsAsync)
        {
            return null;
        }

        bool? result = null;
        foreach (var block in graph.Blocks)
        {
            if (block.FallThroughSuccessor is not { Semantics: ControlFlowBranchSemantics.Return })
            {
                continue;
            }

            if (block.BranchValue?.ConstantValue is not { HasValue: true, Value: bool value } || result == !value)
            {
                return null;
            }

            result = value;
        }

        return result;
    }

    public static ParameterEffect InferParameter(MethodSummaries summaries, IMethodSymbol method, IParameterSymbol parameter, CancellationToken cancellationToken)
    {
        if (summaries.GraphOf(method, cancellationToken) is not var (graph, names))
        {
            return ParameterEffect.None;
        }

        var context = new FlowContext(summaries.Rules, names, summaries, cancellationToken);
        return EffectOf(LeakFlowAnalysis.Observe(graph, site: null, parameter, context, AcquisitionSites.OwnLocals(graph)));
    }

    /// <summary>What a walk that started with the resource held says about the code it walked.</summary>
    public static ParameterEffect EffectOf(FlowObservations? observations)
    {
        if (observations is null)
        {
            // Too large to follow: take it that the callee deals with the connection, which reports nothing.
            return ParameterEffect.TakesOver;
        }

        var throws = false;
        foreach (var leak in observations.Leaks)
        {
            if (leak.Reason == LeakReason.ExceptionThrown)
            {
                throws = true;
            }
            else
            {
                return ParameterEffect.None;
            }
        }

        if (observations.Exits.Count == 0)
        {
            // It always throws: nothing to count on.
            return ParameterEffect.None;
        }

        if (observations.HandsOff)
        {
            return ReturnsOnEveryPath(observations) ? (throws ? ParameterEffect.ReturnsItOrThrows : ParameterEffect.ReturnsIt) : ParameterEffect.TakesOver;
        }

        return throws ? ParameterEffect.ReleasesUnlessItThrows : ParameterEffect.Releases;
    }

    /// <summary>
    /// Did every normal exit return the resource, and no path hand it over any other way? The method then gives back to
    /// its caller what it was given, and the caller still owns it.
    /// </summary>
    private static bool ReturnsOnEveryPath(FlowObservations observations)
    {
        if (observations.HandsOffOtherThanByReturning)
        {
            return false;
        }

        foreach (var (state, _) in observations.Exits)
        {
            if (state.Status != ResourceStatus.Escaped)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Does every return hand back an acquisition of the method (or null), and at least one a real one?</summary>
    private static bool ReturnsAcquisition(ControlFlowGraph graph, IMethodSymbol method, AcquisitionRules rules, List<FlowObservations> observed, IReadOnlyList<AcquisitionSite> sites)
    {
        if (method.ReturnsVoid)
        {
            return false;
        }

        var valueType = rules.ValueType(method.ReturnType);
        if (!rules.IsConnectionLike(valueType) && !rules.IsDbConnection(valueType as INamedTypeSymbol))
        {
            return false;
        }

        var namedLikeAnAcquisition = rules.DefaultNames.AcquireNames.Contains(method.Name);
        var any = false;
        foreach (var block in graph.Blocks)
        {
            if (block.BranchValue is not { } returned || block.ConditionalSuccessor is not null || block.FallThroughSuccessor?.Semantics != ControlFlowBranchSemantics.Return)
            {
                continue;
            }

            if (IsNull(returned))
            {
                continue;
            }

            var fresh = false;
            foreach (var observations in observed)
            {
                if (observations.AlwaysReturnsResource(returned))
                {
                    fresh = true;
                    break;
                }
            }

            if (!fresh && TrackedVariables.Unwrap(returned) is IFlowCaptureReferenceOperation choice && ChoosesAcquisitions(graph, choice.Id, sites, depth: 0) == true)
            {
                // 'return k == 1 ? _a.OpenConnection() : _b.OpenConnection();': each acquisition is followed on its own, and
                // none is returned on every path; together, every branch of the choice returns one (or null).
                fresh = true;
            }

            if (!fresh && !(namedLikeAnAcquisition && IsNewLease(graph, returned, rules)))
            {
                return false;
            }

            any = true;
        }

        return any;
    }

    /// <summary>
    /// Whether every value a <c>?:</c>, <c>??</c> or switch expression captures under <paramref name="id"/> is the value of
    /// one of the method's acquisitions or null, with at least one acquisition: true; null when none is one and none is
    /// anything else (only nulls); false when one is something else.
    /// </summary>
    private static bool? ChoosesAcquisitions(ControlFlowGraph graph, CaptureId id, IReadOnlyList<AcquisitionSite> sites, int depth)
    {
        if (depth > 4)
        {
            return false;
        }

        bool? chosen = null;
        foreach (var captured in CapturedValues(graph, id))
        {
            var value = TrackedVariables.Unwrap(captured);
            if (value is not null && IsNull(value))
            {
                continue;
            }

            var acquired = value is IFlowCaptureReferenceOperation inner ? ChoosesAcquisitions(graph, inner.Id, sites, depth + 1) : IsAcquiredValue(value, sites);
            if (acquired == false)
            {
                return false;
            }

            chosen ??= acquired;
        }

        return chosen;
    }

    /// <summary>The values a <c>?:</c>, <c>??</c> or switch expression captures under <paramref name="id"/>, one per branch.</summary>
    private static IEnumerable<IOperation> CapturedValues(ControlFlowGraph graph, CaptureId id)
    {
        foreach (var block in graph.Blocks)
        {
            foreach (var operation in block.Operations)
            {
                if (operation is IFlowCaptureOperation capture && capture.Id.Equals(id))
                {
                    yield return capture.Value;
                }
            }
        }
    }

    /// <summary>Is <paramref name="value"/> what one of the method's acquisitions hands back (the call, or its <c>await</c>)?</summary>
    private static bool IsAcquiredValue(IOperation? value, IReadOnlyList<AcquisitionSite> sites)
    {
        foreach (var site in sites)
        {
            if (site.Kind == AcquisitionKind.Returned && ReferenceEquals(site.EffectPoint, value))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// For a method named like an acquisition (a pool's own <c>GetConnection</c>): a lease it builds or takes out of a
    /// collection is fresh too; a connection kept in a field (a unit of work's) is not.
    /// </summary>
    private static bool IsNewLease(ControlFlowGraph graph, IOperation returned, AcquisitionRules rules)
    {
        switch (TrackedVariables.Unwrap(returned))
        {
            case IObjectCreationOperation creation:
                return creation.Type is { } type && rules.IsConnectionLike(type) && !rules.IsDbConnection(type as INamedTypeSymbol);
            case IInvocationOperation { TargetMethod: { Name: "FromResult", IsStatic: true, ContainingType.Name: "Task" or "ValueTask" }, Arguments.Length: 1 } fromResult:
                return IsNewLease(graph, fromResult.Arguments[0].Value, rules);
            case IFlowCaptureReferenceOperation reference:
                var values = 0;
                foreach (var value in CapturedValues(graph, reference.Id))
                {
                    values++;
                    if (!IsNull(value) && !IsNewLease(graph, value, rules))
                    {
                        return false;
                    }
                }

                return values > 0;
            case ILocalReferenceOperation local:
                return IsTakenFromCollection(graph, local.Local);
            default:
                return false;
        }
    }

    /// <summary>Is <paramref name="local"/> only ever the out argument of <c>TryTake</c>/<c>TryDequeue</c>/<c>TryPop</c> (a lease leaving the idle set)?</summary>
    private static bool IsTakenFromCollection(ControlFlowGraph graph, ILocalSymbol local)
    {
        var taken = false;
        foreach (var block in graph.Blocks)
        {
            foreach (var operation in block.Operations)
            {
                if (!Scan(operation))
                {
                    return false;
                }
            }

            if (block.BranchValue is { } branch && !Scan(branch))
            {
                return false;
            }
        }

        return taken;

        bool Scan(IOperation root)
        {
            foreach (var node in root.DescendantsAndSelf())
            {
                switch (node)
                {
                    case ISimpleAssignmentOperation { Target: ILocalReferenceOperation target } when SymbolEqualityComparer.Default.Equals(target.Local, local):
                        return false;
                    case IArgumentOperation { Parameter.RefKind: RefKind.Out or RefKind.Ref, Parent: IInvocationOperation call } argument
                        when TrackedVariables.Unwrap(argument.Value) is ILocalReferenceOperation outLocal && SymbolEqualityComparer.Default.Equals(outLocal.Local, local):
                        if (call.TargetMethod.Name is not ("TryTake" or "TryDequeue" or "TryPop" or "TryRemove"))
                        {
                            return false;
                        }

                        taken = true;
                        break;
                }
            }

            return true;
        }
    }

    /// <summary>Does <paramref name="parameter"/> hold a fresh acquisition at every normal exit (or at every exit that returns true)?</summary>
    private static ArgumentAcquisition? AcquiresInto(IParameterSymbol parameter, IMethodSymbol method, List<FlowObservations> observed)
    {
        var returnsBool = method.ReturnType.SpecialType == SpecialType.System_Boolean;
        var byExit = new Dictionary<SyntaxNode, bool>();
        var literalsOnly = returnsBool;
        var anyTrue = false;
        foreach (var observations in observed)
        {
            var perExit = new Dictionary<SyntaxNode, bool>();
            foreach (var (state, origin) in observations.Exits)
            {
                if (origin is null)
                {
                    return null;
                }

                var holds = state.Status == ResourceStatus.Held && HoldsParameter(observations, state, parameter);
                perExit[origin] = (!perExit.TryGetValue(origin, out var before) || before) && holds;
            }

            foreach (var entry in perExit)
            {
                byExit[entry.Key] = (byExit.TryGetValue(entry.Key, out var coveredBefore) && coveredBefore) || entry.Value;
            }
        }

        if (byExit.Count == 0)
        {
            return null;
        }

        var always = true;
        var whenTrue = true;
        foreach (var entry in byExit)
        {
            var literal = entry.Key.Kind() switch
            {
                SyntaxKind.TrueLiteralExpression => true,
                SyntaxKind.FalseLiteralExpression => false,
                _ => (bool?)null,
            };
            literalsOnly &= literal is not null;
            anyTrue |= literal == true;
            always &= entry.Value;
            if (literal == true)
            {
                whenTrue &= entry.Value;
            }
        }

        if (always)
        {
            return new ArgumentAcquisition(parameter.Ordinal, onlyWhenTrue: false);
        }

        return literalsOnly && anyTrue && whenTrue ? new ArgumentAcquisition(parameter.Ordinal, onlyWhenTrue: true) : null;
    }

    private static bool HoldsParameter(FlowObservations observations, PathState state, IParameterSymbol parameter) =>
        state.Holders.Overlaps(observations.BitOf(parameter));

    private static bool IsNull(IOperation operation) =>
        TrackedVariables.Unwrap(operation) is { ConstantValue: { HasValue: true, Value: null } } constant && constant.Type?.IsValueType != true
        || TrackedVariables.Unwrap(operation) is IDefaultValueOperation { Type.IsValueType: false };
}
