// A library's own pool-clearing API: a method whose whole body forwards to DbConnection.ClearPool/ClearAllPools (or to
// another such method) with its own parameters. Such a method *is* pool clearing: TDG003 is not reported inside it but
// at its callers in the compilation, as if they cleared the pools themselves (callers in other assemblies decide for
// themselves when to call it).
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
    private readonly ConcurrentDictionary<IMethodSymbol, bool> _forwarders = new(SymbolEqualityComparer.Default);

    public ClearingForwarders(Compilation compilation, AcquisitionRules rules)
    {
        _compilation = compilation;
        _rules = rules;
    }

    /// <summary>Is <paramref name="method"/> a static <c>ClearPool</c>/<c>ClearAllPools</c> (or async) of a <c>DbConnection</c>?</summary>
    public bool IsPoolClearing(IMethodSymbol method) =>
        method is { IsStatic: true, Name: "ClearPool" or "ClearAllPools" or "ClearPoolAsync" or "ClearAllPoolsAsync" } && _rules.IsDbConnectionType(method.ContainingType);

    /// <summary>Is <paramref name="invocation"/> the whole body of its method, passing on only that method's parameters and constants?</summary>
    public static bool IsWholeBody(IInvocationOperation invocation)
    {
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

        return statements == 1 && block.Parent is IMethodBodyOperation or ILocalFunctionOperation or null;
    }

    /// <summary>Is <paramref name="method"/>, declared in this compilation, a forwarder to pool clearing?</summary>
    public bool IsForwarder(IMethodSymbol method, CancellationToken cancellationToken) => IsForwarder(method.OriginalDefinition, 0, cancellationToken);

    private bool IsForwarder(IMethodSymbol method, int depth, CancellationToken cancellationToken)
    {
        if (depth > MaxDepth || method.MethodKind != MethodKind.Ordinary || !_rules.IsInSource(method))
        {
            return false;
        }

        if (_forwarders.TryGetValue(method, out var known))
        {
            return known;
        }

        var forwards = false;
        var syntax = method.DeclaringSyntaxReferences[0].GetSyntax(cancellationToken);
#pragma warning disable RS1030 // Another method's body is read: the model comes from the compilation (the driver caches it).
        var model = _compilation.GetSemanticModel(syntax.SyntaxTree);
#pragma warning restore RS1030
        if (model.GetOperation(syntax, cancellationToken) is IMethodBodyOperation { BlockBody: var block, ExpressionBody: var expression })
        {
            foreach (var node in (block ?? expression)?.DescendantsAndSelf() ?? System.Linq.Enumerable.Empty<IOperation>())
            {
                if (node is IInvocationOperation call && IsWholeBody(call))
                {
                    forwards = IsPoolClearing(call.TargetMethod) || IsForwarder(call.TargetMethod.OriginalDefinition, depth + 1, cancellationToken);
                    break;
                }
            }
        }

        _forwarders.TryAdd(method, forwards);
        return forwards;
    }
}
