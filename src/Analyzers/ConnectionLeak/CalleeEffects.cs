// What a call does with the followed resource when the callee's body can be read: a method of the compilation
// (its parameter summary), a local function or a lambda called through a delegate local (walked here, with the
// argument or the captured variable that holds the resource as the starting holder).
using System.Collections.Generic;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.FlowAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>The effect of calls whose callee the analysis can read.</summary>
internal sealed class CalleeEffects
{
    private readonly LeakFlowAnalysis _analysis;
    private readonly Dictionary<(object Callee, object Holder), ParameterEffect> _local = new();

    public CalleeEffects(LeakFlowAnalysis analysis)
    {
        _analysis = analysis;
    }

    /// <summary>
    /// The strongest effect the call has on the resource, and the operation that holds it there (the argument, or null
    /// for a captured variable); <see cref="ParameterEffect.None"/> when the callee cannot be read or does nothing.
    /// </summary>
    public (ParameterEffect Effect, IOperation? Holder) Of(IInvocationOperation invocation, List<IArgumentOperation>? resourceArguments)
    {
        var method = invocation.TargetMethod;
        var best = (Effect: ParameterEffect.None, Holder: (IOperation?)null);
        var context = _analysis.Context;
        if (method.MethodKind == MethodKind.LocalFunction)
        {
            var graph = LocalFunctionGraph(method);
            if (graph is null)
            {
                return best;
            }

            Consider(resourceArguments, argument => argument.Parameter is { } parameter ? Walk(method, graph, parameter) : ParameterEffect.None, ref best);
            ConsiderCaptured(method, graph, method.DeclaringSyntaxReferences.Length > 0 ? method.DeclaringSyntaxReferences[0].GetSyntax() : null, ref best);
            return best;
        }

        if (method.MethodKind == MethodKind.DelegateInvoke && TrackedVariables.Unwrap(invocation.Instance) is ILocalReferenceOperation { Local: var delegateLocal }
            && LambdaOf(delegateLocal) is { } lambda)
        {
            var graph = _analysis.Graph.GetAnonymousFunctionControlFlowGraphInScope(lambda, context.CancellationToken);
            Consider(resourceArguments, argument => argument.Parameter is { Ordinal: var ordinal } && ordinal < lambda.Symbol.Parameters.Length
                ? Walk(lambda.Symbol, graph, lambda.Symbol.Parameters[ordinal])
                : ParameterEffect.None, ref best);
            ConsiderCaptured(lambda.Symbol, graph, lambda.Syntax, ref best);
            return best;
        }

        if (_analysis.OwnerFields && invocation.Instance is IInstanceReferenceOperation && context.Rules.IsInSource(method)
            && context.Summaries.GraphOf(method, context.CancellationToken) is var (ownGraph, _))
        {
            // 'Dispose() => Dispose(true)', 'await DisposeAsyncCore()': the type's own method, walked for each field it holds.
            foreach (var holder in _analysis.Variables.HoldersOf(_analysis.State))
            {
                if (holder is IFieldSymbol or IPropertySymbol)
                {
                    var effect = WalkOwnMethod(method, ownGraph, (ISymbol)holder, invocation);
                    if (Rank(effect) > Rank(best.Effect))
                    {
                        best = (effect, null);
                    }
                }
            }
        }

        if (resourceArguments is not null && context.Rules.IsInSource(method))
        {
            Consider(resourceArguments, argument => argument.Parameter is { } parameter
                ? context.Summaries.EffectOn(method, parameter.Ordinal, context.CancellationToken)
                : ParameterEffect.None, ref best);
        }

        return best;
    }

    /// <summary>
    /// What a lambda given as a value (<c>() =&gt; conn.Dispose()</c>) does, when it runs, to the connection it captures;
    /// <see cref="ParameterEffect.None"/> for anything that is not a lambda of this graph.
    /// </summary>
    public ParameterEffect OfCallback(IOperation value)
    {
        var lambda = TrackedVariables.Unwrap(value);
        while (lambda is IDelegateCreationOperation creation)
        {
            lambda = TrackedVariables.Unwrap(creation.Target);
        }

        if (lambda is not IFlowAnonymousFunctionOperation function)
        {
            return ParameterEffect.None;
        }

        var best = (Effect: ParameterEffect.None, Holder: (IOperation?)null);
        var graph = _analysis.Graph.GetAnonymousFunctionControlFlowGraphInScope(function, _analysis.Context.CancellationToken);
        ConsiderCaptured(function.Symbol, graph, function.Syntax, ref best);
        return best.Effect;
    }

    private static void Consider(List<IArgumentOperation>? arguments, System.Func<IArgumentOperation, ParameterEffect> effectOf, ref (ParameterEffect Effect, IOperation? Holder) best)
    {
        if (arguments is null)
        {
            return;
        }

        foreach (var argument in arguments)
        {
            var effect = effectOf(argument);
            if (Rank(effect) > Rank(best.Effect))
            {
                best = (effect, argument.Value);
            }
        }
    }

    /// <summary>A local that holds the resource and that the callee's body names: the callee reaches it as a captured variable.</summary>
    private void ConsiderCaptured(IMethodSymbol callee, ControlFlowGraph graph, SyntaxNode? body, ref (ParameterEffect Effect, IOperation? Holder) best)
    {
        if (body is null)
        {
            return;
        }

        HashSet<string>? named = null;
        foreach (var holder in _analysis.Variables.HoldersOf(_analysis.State))
        {
            if (holder is not ILocalSymbol local)
            {
                continue;
            }

            named ??= NamesIn(body);
            if (!named.Contains(local.Name))
            {
                continue;
            }

            var effect = Walk(callee, graph, local);
            if (Rank(effect) > Rank(best.Effect))
            {
                best = (effect, null);
            }
        }
    }

    private ParameterEffect Walk(object callee, ControlFlowGraph graph, object holder)
    {
        if (!_local.TryGetValue((callee, holder), out var effect))
        {
            // Placed first: a local function that calls itself sees 'takes over', which reports nothing.
            _local[(callee, holder)] = ParameterEffect.TakesOver;
            var context = _analysis.Context;
            effect = SummaryInference.EffectOf(LeakFlowAnalysis.Observe(graph, site: null, holder, context, AcquisitionSites.OwnLocals(graph)));
            _local[(callee, holder)] = effect;
        }

        return effect;
    }

    private ParameterEffect WalkOwnMethod(IMethodSymbol method, ControlFlowGraph graph, ISymbol field, IInvocationOperation invocation)
    {
        if (_local.TryGetValue((method, field), out var effect))
        {
            return effect;
        }

        _local[(method, field)] = ParameterEffect.TakesOver;
        Dictionary<IParameterSymbol, bool>? known = null;
        foreach (var argument in invocation.Arguments)
        {
            if (argument.Parameter is { Type.SpecialType: SpecialType.System_Boolean } parameter && argument.Value.ConstantValue is { HasValue: true, Value: bool value })
            {
                (known ??= new Dictionary<IParameterSymbol, bool>(SymbolEqualityComparer.Default))[parameter.OriginalDefinition] = value;
            }
        }

        effect = SummaryInference.EffectOf(OwnerWalk.Run(graph, field, _analysis.Context, known));
        _local[(method, field)] = effect;
        return effect;
    }

    private ControlFlowGraph? LocalFunctionGraph(IMethodSymbol localFunction)
    {
        try
        {
            return _analysis.Graph.GetLocalFunctionControlFlowGraphInScope(localFunction, _analysis.Context.CancellationToken);
        }
        catch (System.ArgumentOutOfRangeException)
        {
            // Declared outside the graphs this one can see (a summary of another method's local function).
            return null;
        }
    }

    private IFlowAnonymousFunctionOperation? LambdaOf(ILocalSymbol local)
    {
        var value = _analysis.Origins.SingleValue(local);
        while (value is IDelegateCreationOperation creation)
        {
            value = TrackedVariables.Unwrap(creation.Target);
        }

        return value as IFlowAnonymousFunctionOperation;
    }

    private static HashSet<string> NamesIn(SyntaxNode body)
    {
        var names = new HashSet<string>(System.StringComparer.Ordinal);
        foreach (var node in body.DescendantNodes())
        {
            if (node is IdentifierNameSyntax identifier)
            {
                names.Add(identifier.Identifier.ValueText);
            }
        }

        return names;
    }

    private static int Rank(ParameterEffect effect) => effect switch
    {
        ParameterEffect.Releases => 5,
        ParameterEffect.ReleasesUnlessItThrows => 4,
        ParameterEffect.TakesOver => 3,
        ParameterEffect.ReturnsIt => 2,
        ParameterEffect.ReturnsItOrThrows => 1,
        _ => 0,
    };
}
