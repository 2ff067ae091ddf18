// A library's own pool-clearing API: a method (or local function) whose whole body forwards to
// DbConnection.ClearPool/ClearAllPools (or to another such method, up to a chain of nine) with its own parameters and
// constants. Such a method *is* pool clearing: TDG003 is not reported inside it but at its callers in the compilation,
// as if they cleared the pools themselves (callers in other assemblies decide for themselves when to call it).
using System.Collections.Concurrent;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;
using TenantDbGuard.Analyzers.ConnectionLeak;

namespace TenantDbGuard.Analyzers.SharedPoolClosed;

/// <summary>Recognizes methods that only forward to the pool-clearing methods of a connection type.</summary>
internal sealed class ClearingForwarders
{
    private const int MaxDepth = 8;

    private readonly Compilation _compilation;
    private readonly AcquisitionRules _rules;
    private readonly ConcurrentDictionary<IMethodSymbol, IMethodSymbol?> _targets = new(SymbolEqualityComparer.Default);

    public ClearingForwarders(Compilation compilation, AcquisitionRules rules)
    {
        _compilation = compilation;
        _rules = rules;
    }

    /// <summary>Is <paramref name="method"/> a static <c>ClearPool</c>/<c>ClearAllPools</c> (or async) of a <c>DbConnection</c>?</summary>
    public bool IsPoolClearing(IMethodSymbol method) =>
        method is { IsStatic: true, Name: "ClearPool" or "ClearAllPools" or "ClearPoolAsync" or "ClearAllPoolsAsync" } && _rules.IsDbConnectionType(method.ContainingType);

    /// <summary>
    /// The method or local function whose whole body is <paramref name="invocation"/>, passing on only that method's
    /// parameters and constants; null when the call is not a whole body.
    /// </summary>
    /// <param name="invocation">The call.</param>
    /// <param name="containingSymbol">The member the call's operation tree belongs to.</param>
    public static IMethodSymbol? WholeBodyOf(IInvocationOperation invocation, ISymbol containingSymbol)
    {
        if (!IsWholeBody(invocation, out var owner))
        {
            return null;
        }

        return owner switch
        {
            ILocalFunctionOperation local => local.Symbol,
            _ => containingSymbol as IMethodSymbol,
        };
    }

    private static bool IsWholeBody(IInvocationOperation invocation, out IOperation? owner)
    {
        owner = null;
        foreach (var argument in invocation.Arguments)
        {
            if (!argument.IsImplicit && argument.Value.ConstantValue is not { HasValue: true }
                && TrackedVariables.Unwrap(argument.Value) is not (IParameterReferenceOperation or IDefaultValueOperation))
            {
                return false;
            }
        }

        IOperation current = invocation;
        while (current.Parent is IAwaitOperation or IConversionOperation || current.Parent is IInvocationOperation { TargetMethod.Name: "ConfigureAwait" } configure && configure.Instance == current)
        {
            current = current.Parent;
        }

        if (current.Parent is not (IReturnOperation or IExpressionStatementOperation) || current.Parent.Parent is not IBlockOperation block)
        {
            return false;
        }

        // An expression body's block may end with an implicit return; a statement body's block holds the one statement.
        var statements = 0;
        foreach (var statement in block.Operations)
        {
            if (!(statement is IReturnOperation { ReturnedValue: null } && statement.IsImplicit))
            {
                statements++;
            }
        }

        owner = block.Parent;
        return statements == 1 && block.Parent is IMethodBodyOperation or ILocalFunctionOperation or null;
    }

    /// <summary>
    /// Is <paramref name="method"/>, declared in this compilation, a forwarder to pool clearing: does the chain of
    /// whole-body calls from it reach a pool-clearing method within <see cref="MaxDepth"/> further forwarders? The
    /// answer depends only on the chain, never on which methods were asked about before.
    /// </summary>
    public bool IsForwarder(IMethodSymbol method, CancellationToken cancellationToken)
    {
        var current = PartialParts.WithBody(method);
        for (var depth = 0; depth <= MaxDepth; depth++)
        {
            if (current.MethodKind is not (MethodKind.Ordinary or MethodKind.LocalFunction) || !_rules.IsInSource(current) || WholeBodyTarget(current, cancellationToken) is not { } target)
            {
                return false;
            }

            if (IsPoolClearing(target))
            {
                return true;
            }

            current = PartialParts.WithBody(target);
        }

        return false;
    }

    /// <summary>The method called by the one call that is <paramref name="method"/>'s whole body; null when there is none.</summary>
    private IMethodSymbol? WholeBodyTarget(IMethodSymbol method, CancellationToken cancellationToken)
    {
        if (_targets.TryGetValue(method, out var known))
        {
            return known;
        }

        IMethodSymbol? target = null;
        var syntax = method.DeclaringSyntaxReferences[0].GetSyntax(cancellationToken);
#pragma warning disable RS1030 // Another method's body is read: the model comes from the compilation (the driver caches it).
        var model = _compilation.GetSemanticModel(syntax.SyntaxTree);
#pragma warning restore RS1030
        var body = model.GetOperation(syntax, cancellationToken) switch
        {
            IMethodBodyOperation { BlockBody: var block, ExpressionBody: var expression } => block ?? expression,
            ILocalFunctionOperation local => local.Body,
            _ => null,
        };
        if (body is not null)
        {
            foreach (var node in body.DescendantsAndSelf())
            {
                // 'await X.ClearAllPoolsAsync().ConfigureAwait(false)': the call forwarded to is the one ConfigureAwait is called on.
                if (node is IInvocationOperation call && !IsConfigureAwait(call) && IsWholeBody(call, out _))
                {
                    target = call.TargetMethod;
                    break;
                }
            }
        }

        return _targets.GetOrAdd(method, target);
    }

    private static bool IsConfigureAwait(IInvocationOperation invocation) =>
        invocation is { TargetMethod.Name: "ConfigureAwait", Instance: not null, Arguments.Length: 1 };
}
