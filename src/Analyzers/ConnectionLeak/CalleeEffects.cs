// What a call does with the followed resource when the callee's body can be read: a method of the compilation
// (its parameter summary), a local function or a lambda called through a delegate local (walked here, with the
// argument or the captured variable that holds the resource as the starting holder). A method group stands for the
// lambda that calls it: 'conn.Dispose' for '() => conn.Dispose()', 'Cleanup' for '() => Cleanup()'.
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
            return OfLocalFunction(method, resourceArguments);
        }

        if (method.MethodKind == MethodKind.DelegateInvoke && TrackedVariables.Unwrap(invocation.Instance) is ILocalReferenceOperation)
        {
            switch (CallbackTarget(invocation.Instance))
            {
                case IFlowAnonymousFunctionOperation lambda:
                {
                    var graph = _analysis.Graph.GetAnonymousFunctionControlFlowGraphInScope(lambda, context.CancellationToken);
                    Consider(resourceArguments, argument => argument.Parameter is { Ordinal: var ordinal } && ordinal < lambda.Symbol.Parameters.Length
                        ? Walk(lambda.Symbol, graph, lambda.Symbol.Parameters[ordinal])
                        : ParameterEffect.None, ref best);
                    ConsiderCaptured(lambda.Symbol, graph, lambda.Syntax, ref best);
                    return best;
                }

                case IMethodReferenceOperation reference:
                    // 'Action release = conn.Dispose; ... release();': the call runs the method the group names.
                    return OfMethodGroup(reference, resourceArguments);
            }
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
    /// What a callback given as a value (<c>() =&gt; conn.Dispose()</c>, or the method group <c>conn.Dispose</c>) does,
    /// when it runs, to the connection it captures; <see cref="ParameterEffect.None"/> for anything that is not a
    /// lambda of this graph or a method group.
    /// </summary>
    public ParameterEffect OfCallback(IOperation value)
    {
        switch (CallbackTarget(value))
        {
            case IFlowAnonymousFunctionOperation function:
            {
                var best = (Effect: ParameterEffect.None, Holder: (IOperation?)null);
                var graph = _analysis.Graph.GetAnonymousFunctionControlFlowGraphInScope(function, _analysis.Context.CancellationToken);
                ConsiderCaptured(function.Symbol, graph, function.Syntax, ref best);
                return best.Effect;
            }

            case IMethodReferenceOperation reference:
                return OfMethodGroup(reference, resourceArguments: null).Effect;
            default:
                return ParameterEffect.None;
        }
    }

    /// <summary>
    /// The function a delegate value runs: a lambda of this graph or a method group (<c>conn.Dispose</c>, a local
    /// function), through conversions, delegate creations, a delegate local assigned once (<c>release</c>) and the
    /// <c>Invoke</c> method group of one (<c>release.Invoke</c>); null for anything else.
    /// </summary>
    public IOperation? CallbackTarget(IOperation? value)
    {
        for (var depth = 0; depth < 4; depth++)
        {
            var target = TrackedVariables.Unwrap(value);
            while (target is IDelegateCreationOperation creation)
            {
                target = TrackedVariables.Unwrap(creation.Target);
            }

            switch (target)
            {
                case ILocalReferenceOperation { Local: { Type.TypeKind: TypeKind.Delegate } local }:
                    value = _analysis.Origins.SingleValue(local);
                    continue;
                case IMethodReferenceOperation { Method.MethodKind: MethodKind.DelegateInvoke, Instance: { } invoked }:
                    value = invoked;
                    continue;
                case IFlowAnonymousFunctionOperation or IMethodReferenceOperation:
                    return target;
                default:
                    return null;
            }
        }

        return null;
    }

    /// <summary>
    /// The code a callback found by <see cref="CallbackTarget"/> names the resource's variables in: the lambda, the
    /// declaration of a local function given as a method group, or the receiver of any other method group.
    /// </summary>
    public static SyntaxNode? CallbackSyntax(IOperation? target) => target switch
    {
        IFlowAnonymousFunctionOperation lambda => lambda.Syntax,
        IMethodReferenceOperation { Method: { MethodKind: MethodKind.LocalFunction, DeclaringSyntaxReferences: { Length: > 0 } references } } =>
            references[0].GetSyntax(),
        IMethodReferenceOperation reference => ReceiverSyntax(reference),
        _ => null,
    };

    /// <summary>
    /// The receiver a method group names (<c>conn</c> of <c>conn.Dispose</c>, of an extension method's group too, whose
    /// receiver the flow graph does not keep as the instance).
    /// </summary>
    private static SyntaxNode? ReceiverSyntax(IMethodReferenceOperation reference) =>
        reference.Syntax is MemberAccessExpressionSyntax access ? access.Expression : reference.Instance?.Syntax;

    /// <summary>
    /// A method group run as a callback or through a delegate, read as the lambda that calls it: a local function is
    /// walked like its call; a release of the held resource (<c>conn.Dispose</c>, <c>conn.CloseAsync</c>, a configured
    /// release) releases it; an extension of the code given the resource as its receiver has the effect of its summary.
    /// </summary>
    private (ParameterEffect Effect, IOperation? Holder) OfMethodGroup(IMethodReferenceOperation reference, List<IArgumentOperation>? resourceArguments)
    {
        var method = reference.Method;
        if (method.MethodKind == MethodKind.LocalFunction)
        {
            return OfLocalFunction(method, resourceArguments);
        }

        var context = _analysis.Context;
        var receiver = reference.Instance;
        if (receiver is null && method.IsExtensionMethod && ReceiverSyntax(reference) is { } receiverSyntax)
        {
            receiver = (reference.SemanticModel ?? _analysis.Graph.OriginalOperation.SemanticModel)?.GetOperation(receiverSyntax, context.CancellationToken);
        }

        if (receiver is not null && _analysis.State.Status == ResourceStatus.Held && _analysis.Variables.HeldBy(_analysis.State, receiver))
        {
            if (_analysis.Names.ReleaseNames.Contains(method.Name))
            {
                return (ParameterEffect.Releases, null);
            }

            if (method.IsExtensionMethod && context.Rules.IsInSource(method))
            {
                return (context.Summaries.EffectOn(method.ReducedFrom ?? method, 0, context.CancellationToken), null);
            }

            if (MethodSummaries.IsExtensionMember(method))
            {
                return (context.Summaries.EffectOnReceiver(method, context.CancellationToken), null);
            }

            return (ParameterEffect.None, null);
        }

        var best = (Effect: ParameterEffect.None, Holder: (IOperation?)null);
        if (!method.IsExtensionMethod && context.Rules.IsInSource(method))
        {
            // 'Action<Lease> release = ReleaseLease; release(lease);': the method's parameter summary, as for its call.
            Consider(resourceArguments, argument => argument.Parameter is { Ordinal: var ordinal } && ordinal < method.Parameters.Length
                ? context.Summaries.EffectOn(method, ordinal, context.CancellationToken)
                : ParameterEffect.None, ref best);
        }

        return best;
    }

    /// <summary>
    /// A local function, called or run through a delegate: walked from the argument or captured variable that holds the
    /// resource.
    /// </summary>
    private (ParameterEffect Effect, IOperation? Holder) OfLocalFunction(IMethodSymbol method, List<IArgumentOperation>? resourceArguments)
    {
        var best = (Effect: ParameterEffect.None, Holder: (IOperation?)null);
        var graph = LocalFunctionGraph(method);
        if (graph is null)
        {
            return best;
        }

        Consider(resourceArguments, argument => argument.Parameter is { Ordinal: var ordinal } && ordinal < method.Parameters.Length
            ? Walk(method, graph, method.Parameters[ordinal])
            : ParameterEffect.None, ref best);
        ConsiderCaptured(method, graph, method.DeclaringSyntaxReferences.Length > 0 ? method.DeclaringSyntaxReferences[0].GetSyntax() : null, ref best);
        return best;
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
