// Calls that may open a closed connection again: TDG004 follows a connection after Close only until something may
// have opened it. Besides 'conn.Open()' itself, that is a call given the connection (as its receiver or an argument)
// whose body may open it: a method of the code (read once per method and parameter, through the methods it passes the
// connection on to), a local function or a lambda of the method (which may also open a local it captures), and a
// lambda given to any call, which may run it. Code the analyzer cannot read that is given the closed connection may
// open it too (a helper of another assembly of the solution, a delegate), except the framework (System, Microsoft),
// Dapper and the connection's own library, which give a connection back in the state they found it, and the
// connection's own members other than Open.
using System;
using System.Collections.Generic;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.FlowAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>Whether a call may open again a connection that was closed (not disposed: a disposed one cannot
/// open).</summary>
internal sealed class Reopening
{
    /// <summary>The key of a summary for the object a method is called on (<c>this</c>).</summary>
    public const int ThisOrdinal = -3;

    /// <summary>The key of a summary for the receiver of a member of an extension block.</summary>
    public const int ReceiverOrdinal = -2;

    private readonly LeakFlowAnalysis _analysis;
    private readonly Dictionary<(SyntaxNode Body, HolderSet Holders, ulong Ordinals), bool> _bodies = new();

    public Reopening(LeakFlowAnalysis analysis)
    {
        _analysis = analysis;
    }

    /// <summary>
    /// May <paramref name="invocation"/>, on a path where the followed connection was closed, open it again? It is
    /// given the connection as its receiver (<paramref name="onReceiver"/>) or as <paramref name="arguments"/>, or
    /// reaches it through a local that holds it and that a local function or a lambda of the method captures.
    /// </summary>
    public bool MayReopen(IInvocationOperation invocation, bool onReceiver, List<IArgumentOperation>? arguments)
    {
        var ordinals = 0UL;
        if (arguments is not null)
        {
            foreach (var argument in arguments)
            {
                if (argument.Parameter is { Ordinal: < 64 and var ordinal })
                {
                    ordinals |= 1UL << ordinal;
                }
            }
        }

        foreach (var argument in invocation.Arguments)
        {
            // 'await Retry(() => conn.OpenAsync())': the call may run the lambda it is given.
            if (FunctionOf(argument.Value) is { } function && OpensInBody(function, 0))
            {
                return true;
            }
        }

        var method = invocation.TargetMethod;
        if (method.MethodKind == MethodKind.LocalFunction)
        {
            return BodyOf(method) is { } body && OpensInBody(body, ordinals);
        }

        if (method.MethodKind == MethodKind.DelegateInvoke)
        {
            if (TrackedVariables.Unwrap(invocation.Instance) is ILocalReferenceOperation && FunctionOf(invocation.Instance) is { } lambda)
            {
                return OpensInBody(lambda, ordinals);
            }

            // A delegate the analysis cannot read, given the connection.
            return ordinals != 0;
        }

        if (!onReceiver && ordinals == 0)
        {
            return false;
        }

        var connectionType = (onReceiver ? invocation.Instance : arguments![0].Value)?.Type;
        return CallMayReopen(method, onReceiver, ordinals, connectionType, _analysis.Context.Summaries, _analysis.Context.CancellationToken);
    }

    /// <summary>
    /// May a call of <paramref name="method"/>, given the connection as its receiver or at the parameters of
    /// <paramref name="ordinals"/> (one bit each), open it? Methods of the code are read through their summaries.
    /// </summary>
    public static bool CallMayReopen(IMethodSymbol method, bool onReceiver, ulong ordinals, ITypeSymbol? connectionType, MethodSummaries summaries, CancellationToken cancellationToken)
    {
        var rules = summaries.Rules;
        if (onReceiver && IsOwnOpen(method, rules))
        {
            return true;
        }

        if (method.MethodKind is MethodKind.LocalFunction or MethodKind.AnonymousFunction or MethodKind.DelegateInvoke)
        {
            // Met inside a body read for a summary: not read further.
            return true;
        }

        method = method.ReducedFrom ?? method;
        if (rules.IsInSource(method))
        {
            if (method.IsAbstract || method.IsVirtual || method.IsOverride && !method.IsSealed || method.ContainingType is { TypeKind: TypeKind.Interface })
            {
                // Another implementation may open it.
                return true;
            }

            if (onReceiver && !method.IsStatic
                && summaries.Reopens(method, MethodSummaries.IsExtensionMember(method) ? ReceiverOrdinal : ThisOrdinal, cancellationToken))
            {
                return true;
            }

            for (var ordinal = 0; ordinal < method.Parameters.Length && ordinal < 64; ordinal++)
            {
                if ((ordinals & (1UL << ordinal)) != 0 && summaries.Reopens(method, ordinal, cancellationToken))
                {
                    return true;
                }
            }

            return false;
        }

        return !KeepsTheState(method, connectionType, rules);
    }

    /// <summary>The connection's own <c>Open</c> or <c>OpenAsync</c>.</summary>
    public static bool IsOwnOpen(IMethodSymbol method, AcquisitionRules rules) =>
        method is { Name: "Open" or "OpenAsync", IsStatic: false } && rules.IsDbConnection(method.ContainingType);

    /// <summary>
    /// Does <paramref name="body"/> (of a method, a local function or a lambda) open the connection that
    /// <paramref name="isConnection"/> tells, or a local it copies it to, or give it to a call that may open it?
    /// </summary>
    public static bool Opens(IOperation body, Func<IOperation, bool> isConnection, MethodSummaries summaries, CancellationToken cancellationToken)
    {
        HashSet<ILocalSymbol>? copies = null;
        var operations = new List<IOperation>();
        foreach (var operation in body.DescendantsAndSelf())
        {
            operations.Add(operation);
        }

        // 'DbConnection target = connection;': the copies, twice over for a copy of a copy.
        for (var pass = 0; pass < 2; pass++)
        {
            foreach (var operation in operations)
            {
                var (copy, value) = operation switch
                {
                    IVariableDeclaratorOperation { Initializer.Value: var initial } declarator => (declarator.Symbol, initial),
                    ISimpleAssignmentOperation { Target: ILocalReferenceOperation target } assignment => (target.Local, assignment.Value),
                    _ => (null, null),
                };
                if (copy is not null && IsConnection(value))
                {
                    (copies ??= new HashSet<ILocalSymbol>(SymbolEqualityComparer.Default)).Add(copy);
                }
            }
        }

        foreach (var operation in operations)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (operation is not IInvocationOperation invocation)
            {
                continue;
            }

            var onReceiver = IsConnection(invocation.Instance);
            var ordinals = 0UL;
            ITypeSymbol? connectionType = onReceiver ? invocation.Instance!.Type : null;
            foreach (var argument in invocation.Arguments)
            {
                if (argument.Parameter is { Ordinal: < 64 and var ordinal } && IsConnection(argument.Value))
                {
                    ordinals |= 1UL << ordinal;
                    connectionType ??= argument.Value.Type;
                }
            }

            if ((onReceiver || ordinals != 0) && CallMayReopen(invocation.TargetMethod, onReceiver, ordinals, connectionType, summaries, cancellationToken))
            {
                return true;
            }
        }

        return false;

        bool IsConnection(IOperation? operation)
        {
            operation = TrackedVariables.Unwrap(operation);
            if (operation is IConditionalAccessInstanceOperation)
            {
                // 'connection?.Open()': the receiver is what the conditional access tests.
                for (var parent = operation.Parent; parent is not null; parent = parent.Parent)
                {
                    if (parent is IConditionalAccessOperation access)
                    {
                        operation = TrackedVariables.Unwrap(access.Operation);
                        break;
                    }
                }
            }

            return operation is not null
                && (operation is ILocalReferenceOperation local && copies?.Contains(local.Local) == true || isConnection(operation));
        }
    }

    /// <summary>
    /// Code the analyzer cannot read that leaves a closed connection closed: the connection's own members (Open aside),
    /// and the framework, Dapper and the connection's library, which open a closed connection only for the call.
    /// </summary>
    private static bool KeepsTheState(IMethodSymbol method, ITypeSymbol? connectionType, AcquisitionRules rules)
    {
        if (rules.IsDbConnection(method.ContainingType))
        {
            return true;
        }

        var root = RootNamespace(method.ContainingType?.ContainingNamespace);
        return root is "System" or "Microsoft" or "Dapper" || root is not null && root == RootNamespace(connectionType?.ContainingNamespace);
    }

    private static string? RootNamespace(INamespaceSymbol? ns)
    {
        if (ns is null || ns.IsGlobalNamespace)
        {
            return null;
        }

        while (ns.ContainingNamespace is { IsGlobalNamespace: false } outer)
        {
            ns = outer;
        }

        return ns.Name;
    }

    /// <summary>
    /// Does <paramref name="body"/>, a local function or a lambda of this method, open the connection: a local that
    /// holds it on this path and that it captures, or its parameters at <paramref name="ordinals"/>? Read once per
    /// body and holders.
    /// </summary>
    private bool OpensInBody(IOperation body, ulong ordinals)
    {
        var holders = _analysis.State.Holders;
        var key = (body.Syntax, holders, ordinals);
        if (_bodies.TryGetValue(key, out var known))
        {
            return known;
        }

        // Placed first: a local function that calls itself is not read again.
        _bodies[key] = false;
        var parameters = body switch
        {
            ILocalFunctionOperation localFunction => localFunction.Symbol.Parameters,
            IAnonymousFunctionOperation lambda => lambda.Symbol.Parameters,
            _ => default,
        };
        var state = _analysis.State;
        var opens = Opens(
            body,
            operation => operation switch
            {
                ILocalReferenceOperation local => _analysis.Variables.HeldBy(state, local.Local),
                IParameterReferenceOperation parameter => parameter.Parameter.Ordinal < 64 && (ordinals & (1UL << parameter.Parameter.Ordinal)) != 0
                    && !parameters.IsDefault && parameter.Parameter.Ordinal < parameters.Length
                    && SymbolEqualityComparer.Default.Equals(parameter.Parameter, parameters[parameter.Parameter.Ordinal]),
                _ => false,
            },
            _analysis.Context.Summaries,
            _analysis.Context.CancellationToken);
        _bodies[key] = opens;
        return opens;
    }

    /// <summary>The operation of a local function's declaration, from the semantic model of the graph being
    /// walked.</summary>
    private IOperation? BodyOf(IMethodSymbol localFunction)
    {
        var model = _analysis.Graph.OriginalOperation.SemanticModel;
        foreach (var reference in localFunction.DeclaringSyntaxReferences)
        {
            var syntax = reference.GetSyntax(_analysis.Context.CancellationToken);
            if (model is not null && syntax.SyntaxTree == model.SyntaxTree && model.GetOperation(syntax, _analysis.Context.CancellationToken) is ILocalFunctionOperation declaration)
            {
                return declaration;
            }
        }

        return null;
    }

    /// <summary>
    /// The lambda or local function a value stands for (<c>() =&gt; conn.Open()</c>, <c>Reopen</c>, a delegate local
    /// assigned once; see <see cref="CalleeEffects.CallbackTarget"/>), as an operation tree.
    /// </summary>
    private IOperation? FunctionOf(IOperation? value)
    {
        var model = _analysis.Graph.OriginalOperation.SemanticModel;
        switch (_analysis.Callees.CallbackTarget(value))
        {
            case IFlowAnonymousFunctionOperation lambda when model is not null && lambda.Syntax.SyntaxTree == model.SyntaxTree:
                return model.GetOperation(lambda.Syntax, _analysis.Context.CancellationToken) as IAnonymousFunctionOperation;
            case IMethodReferenceOperation { Method: { MethodKind: MethodKind.LocalFunction } localFunction }:
                return BodyOf(localFunction);
            default:
                return null;
        }
    }
}
