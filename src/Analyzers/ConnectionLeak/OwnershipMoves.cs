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
    /// A constructor of the application's own whose body only stores its parameters (or constants) in fields and
    /// properties: it cannot throw, so a connection given to it is not lost in between.
    /// </summary>
    public static bool OnlyStoresArguments(IMethodSymbol? constructor)
    {
        if (constructor is null || constructor.DeclaringSyntaxReferences.Length != 1)
        {
            return false;
        }

        var syntax = constructor.DeclaringSyntaxReferences[0].GetSyntax();
        if (syntax is TypeDeclarationSyntax primary)
        {
            // A primary constructor (a positional record's): it stores its parameters, unless a base call or an initializer computes.
            return OnlyPlainInitializers(primary);
        }

        if (syntax is not ConstructorDeclarationSyntax { Initializer: null } declaration)
        {
            return false;
        }

        var statements = declaration.ExpressionBody is { } arrow
            ? new[] { arrow.Expression }
            : declaration.Body?.Statements.Select(statement => (statement as ExpressionStatementSyntax)?.Expression).ToArray();
        if (statements is null)
        {
            return false;
        }

        foreach (var statement in statements)
        {
            if (statement is not AssignmentExpressionSyntax { Right: IdentifierNameSyntax or LiteralExpressionSyntax } assignment
                || !assignment.IsKind(SyntaxKind.SimpleAssignmentExpression))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary><c>member.Dispose()</c>, <c>member?.Close()</c>, <c>this.member.Release()</c> and the like, for a member named <paramref name="member"/>.</summary>
    public static bool IsReleaseOf(SyntaxNode node, string member)
    {
        var (receiver, name) = node switch
        {
            MemberAccessExpressionSyntax access => (access.Expression, access.Name.Identifier.ValueText),
            ConditionalAccessExpressionSyntax { WhenNotNull: InvocationExpressionSyntax { Expression: MemberBindingExpressionSyntax binding } } conditional
                => (conditional.Expression, binding.Name.Identifier.ValueText),
            _ => (null, null),
        };
        if (receiver is MemberAccessExpressionSyntax { Expression: ThisExpressionSyntax } self)
        {
            receiver = self.Name;
        }

        return name is "Dispose" or "DisposeAsync" or "Close" or "CloseAsync" or "Release"
            && receiver is IdentifierNameSyntax { Identifier.ValueText: var target } && target == member;
    }

    /// <summary>
    /// A disposable type of the compilation whose constructor stores the argument at <paramref name="ordinal"/> in a member
    /// that none of its release methods even mentions (<c>new Storage(existingConnection)</c> that leaves the connection to its
    /// owner): the new object does not take the connection over. False when that cannot be read.
    /// </summary>
    public static bool KeepsWithoutReleasing(IObjectCreationOperation creation, int ordinal)
    {
        if (creation.Constructor is not { } constructor || ordinal >= constructor.Parameters.Length || constructor.DeclaringSyntaxReferences.Length != 1
            || constructor.DeclaringSyntaxReferences[0].GetSyntax() is not ConstructorDeclarationSyntax { Initializer: null or { ThisOrBaseKeyword.RawKind: (int)SyntaxKind.BaseKeyword } } declaration)
        {
            return false;
        }

        var parameter = constructor.Parameters[ordinal].Name;
        string? stored = null;
        foreach (var assignment in declaration.DescendantNodes().OfType<AssignmentExpressionSyntax>())
        {
            var value = assignment.Right is BinaryExpressionSyntax coalesce && coalesce.IsKind(SyntaxKind.CoalesceExpression) ? coalesce.Left : assignment.Right;
            if (value is IdentifierNameSyntax { Identifier.ValueText: var name } && name == parameter)
            {
                stored = assignment.Left switch
                {
                    IdentifierNameSyntax target => target.Identifier.ValueText,
                    MemberAccessExpressionSyntax { Expression: ThisExpressionSyntax, Name: var target } => target.Identifier.ValueText,
                    _ => null,
                };
                break;
            }
        }

        if (stored is null)
        {
            return false;
        }

        var releaseMethods = 0;
        foreach (var member in constructor.ContainingType.GetMembers())
        {
            if (member is IMethodSymbol { Name: "Dispose" or "DisposeAsync" or "DisposeAsyncCore" or "Close" or "CloseAsync" or "Release" } method
                && method.DeclaringSyntaxReferences.Length > 0)
            {
                releaseMethods++;
                // Any mention may be a release ('Interlocked.Exchange(ref _connection, null)?.Dispose()'): only silence counts.
                if (method.DeclaringSyntaxReferences.Any(reference => reference.GetSyntax().DescendantNodes().Any(node => node is IdentifierNameSyntax { Identifier.ValueText: var name } && name == stored)))
                {
                    return false;
                }
            }
        }

        // Disposable only through a base type that may release it: not known.
        return releaseMethods > 0;
    }

    /// <summary><c>new List&lt;T&gt;()</c>, <c>new StringBuilder()</c>: an empty object of the base library, which does not throw.</summary>
    public static bool IsEmptyFrameworkObject(IObjectCreationOperation creation)
    {
        if (creation.Arguments.Length != 0 || creation.Type?.ContainingNamespace is not { } ns)
        {
            return false;
        }

        while (ns.ContainingNamespace is { IsGlobalNamespace: false } parent)
        {
            ns = parent;
        }

        return ns.Name == "System";
    }

    private static bool OnlyPlainInitializers(TypeDeclarationSyntax type)
    {
        if (type.BaseList?.Types.Any(baseType => baseType is PrimaryConstructorBaseTypeSyntax) == true)
        {
            return false;
        }

        foreach (var member in type.Members)
        {
            var initializers = member switch
            {
                BaseFieldDeclarationSyntax field => field.Declaration.Variables.Select(variable => variable.Initializer?.Value),
                PropertyDeclarationSyntax property => new[] { property.Initializer?.Value },
                _ => Enumerable.Empty<ExpressionSyntax?>(),
            };
            if (initializers.Any(value => value is not (null or IdentifierNameSyntax or LiteralExpressionSyntax)))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Does the lambda <paramref name="value"/> name a variable that holds the resource (a callback that will release it)?</summary>
    public static bool CapturesResource(IOperation value, PathState state, TrackedVariables variables)
    {
        var lambda = TrackedVariables.Unwrap(value);
        while (lambda is IDelegateCreationOperation creation)
        {
            lambda = TrackedVariables.Unwrap(creation.Target);
        }

        if (lambda is not IFlowAnonymousFunctionOperation)
        {
            return false;
        }

        foreach (var holder in variables.HoldersOf(state))
        {
            if (holder is ISymbol symbol)
            {
                foreach (var node in lambda.Syntax.DescendantNodes())
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
