// Where the ownership of a connection moves without a release: a reader opened with CommandBehavior.CloseConnection
// takes the connection of its command; Dapper's ExecuteReader on a connection that is not open opens it and hands
// back a reader that closes it; a wrapper built with a leaveOpen-style flag does not own what it wraps; a plain
// holder object (or a callback) that carries the connection out of the method hands it to the caller.
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.FlowAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>The ownership rules of readers, wrappers and holders.</summary>
internal static class OwnershipMoves
{
    private const int CloseConnection = 32; // System.Data.CommandBehavior.CloseConnection

    /// <summary>Is <paramref name="invocation"/> <c>ExecuteReader</c>/<c>ExecuteReaderAsync</c> of a command with <c>CommandBehavior.CloseConnection</c>?</summary>
    public static bool IsClosingReader(IInvocationOperation invocation)
    {
        if (invocation.TargetMethod is not { Name: "ExecuteReader" or "ExecuteReaderAsync", IsStatic: false } || invocation.Instance is null)
        {
            return false;
        }

        foreach (var argument in invocation.Arguments)
        {
            if (argument.Parameter?.Type is { Name: "CommandBehavior" } && argument.Value.ConstantValue is { HasValue: true, Value: int behavior } && (behavior & CloseConnection) != 0)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Is the command <paramref name="command"/> (a receiver) bound to a connection that holds the resource on this path?</summary>
    public static bool IsBoundToResource(IOperation? command, PathState state, TrackedVariables variables, LocalOrigins origins)
    {
        var value = TrackedVariables.Unwrap(command);
        if (value is ILocalReferenceOperation { Local: var local })
        {
            foreach (var origin in origins.ValuesOf(local))
            {
                if (CreatesCommandOn(origin, state, variables))
                {
                    return true;
                }
            }

            foreach (var connection in origins.ConnectionsAssignedTo(local))
            {
                if (variables.HeldBy(state, connection))
                {
                    return true;
                }
            }

            return false;
        }

        return CreatesCommandOn(value, state, variables);
    }

    private static bool CreatesCommandOn(IOperation? value, PathState state, TrackedVariables variables)
    {
        switch (TrackedVariables.Unwrap(value))
        {
            case IInvocationOperation { TargetMethod.Name: "CreateCommand" } create:
                return variables.HeldBy(state, create.Instance);
            case IObjectCreationOperation creation:
                foreach (var argument in creation.Arguments)
                {
                    if (variables.HeldBy(state, argument.Value))
                    {
                        return true;
                    }
                }

                return false;
            default:
                return false;
        }
    }

    /// <summary>
    /// Dapper's <c>ExecuteReader</c>/<c>ExecuteReaderAsync</c> on a connection the method created and never opens: Dapper
    /// opens it and the reader it returns closes it, so the reader is an acquisition (and so is the connection variable).
    /// </summary>
    public static ILocalSymbol? DapperOpensForReader(IInvocationOperation invocation, LocalOrigins origins, FlowContext context)
    {
        if (invocation.TargetMethod is not { Name: "ExecuteReader" or "ExecuteReaderAsync", IsExtensionMethod: true, ContainingType: { Name: "SqlMapper", ContainingNamespace.Name: "Dapper" } }
            || invocation.Arguments.Length == 0
            || TrackedVariables.Unwrap(invocation.Arguments[0].Value) is not ILocalReferenceOperation { Local: var connection })
        {
            return null;
        }

        var values = origins.ValuesOf(connection);
        if (values.Count == 0 || origins.IsOpened(connection))
        {
            return null;
        }

        foreach (var value in values)
        {
            // A connection made here, or handed out closed by a factory ('_factory.Create()', 'CreateConnection()'): a factory
            // whose connection comes open is an acquisition of its own, and Dapper leaves an open connection open.
            var made = TrackedVariables.Unwrap(value) switch
            {
                IObjectCreationOperation => true,
                IInvocationOperation call => context.Rules.IsDbConnection(call.Type as INamedTypeSymbol)
                    && context.Rules.Classify(call, context.Names) is null
                    && !(context.Rules.IsInSource(call.TargetMethod) && context.Summaries.Of(call.TargetMethod, context.CancellationToken).ReturnsAcquisition),
                _ => false,
            };
            if (!made)
            {
                return null;
            }
        }

        return connection;
    }

    /// <summary>A wrapper built with <c>leaveOpen: true</c> (or <c>ownsConnection: false</c>): it does not own what it wraps.</summary>
    public static bool LeavesOpen(IObjectCreationOperation creation)
    {
        foreach (var argument in creation.Arguments)
        {
            if (argument.Parameter is not { Type.SpecialType: SpecialType.System_Boolean } parameter || argument.Value.ConstantValue is not { HasValue: true, Value: bool flag })
            {
                continue;
            }

            var name = parameter.Name.ToLowerInvariant();
            if (flag && (name.Contains("leaveopen") || name.Contains("keepopen") || name.Contains("borrow")))
            {
                return true;
            }

            if (!flag && (name.Contains("own") || name.Contains("disposeconnection") || name.Contains("closeconnection")))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Is <paramref name="operation"/> the value a return statement hands to the caller?</summary>
    public static bool IsReturned(IOperation operation, BasicBlock block)
    {
        var current = operation;
        while (current.Parent is IConversionOperation or IArgumentOperation { Parent: IObjectCreationOperation } || current.Parent is IObjectCreationOperation)
        {
            current = current.Parent;
        }

        if (current.Parent is IReturnOperation)
        {
            return true;
        }

        return current.Parent is null && ReferenceEquals(current, block.BranchValue) && block.ConditionalSuccessor is null
            && block.FallThroughSuccessor?.Semantics == ControlFlowBranchSemantics.Return;
    }

    /// <summary>
    /// Is <paramref name="argument"/> an object of the application's own built around the connection held on this path
    /// (<c>new PooledConnection(server, connection)</c>, directly or through a local)? Passed to a method, the connection
    /// goes with it.
    /// </summary>
    public static bool CarriesResource(IOperation argument, PathState state, TrackedVariables variables, LocalOrigins origins)
    {
        var value = TrackedVariables.Unwrap(argument);
        if (value is ILocalReferenceOperation { Local: var local })
        {
            foreach (var origin in origins.ValuesOf(local))
            {
                if (IsHolderCreation(origin, state, variables))
                {
                    return true;
                }
            }

            return false;
        }

        return IsHolderCreation(value, state, variables);
    }

    private static bool IsHolderCreation(IOperation? value, PathState state, TrackedVariables variables)
    {
        if (TrackedVariables.Unwrap(value) is not IObjectCreationOperation creation || HandOffRules.IsFrameworkType(creation.Type))
        {
            return false;
        }

        foreach (var argument in creation.Arguments)
        {
            if (variables.HeldBy(state, argument.Value))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Does the callback <paramref name="target"/> (a lambda or a method group, as
    /// <see cref="CalleeEffects.CallbackTarget"/> finds it) name a variable that holds the resource: a callback that
    /// will release it, or use it?
    /// </summary>
    public static bool CapturesResource(IOperation? target, PathState state, TrackedVariables variables)
    {
        if (CalleeEffects.CallbackSyntax(target) is not { } body)
        {
            return false;
        }

        foreach (var holder in variables.HoldersOf(state))
        {
            if (holder is ISymbol symbol)
            {
                foreach (var node in body.DescendantNodesAndSelf())
                {
                    if (node is IdentifierNameSyntax identifier && identifier.Identifier.ValueText == symbol.Name)
                    {
                        return true;
                    }
                }
            }
        }

        return false;
    }
}
