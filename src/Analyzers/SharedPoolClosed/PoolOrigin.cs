using System;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;
using TenantDbGuard.Analyzers.PoolLifetime;

namespace TenantDbGuard.Analyzers.SharedPoolClosed;

/// <summary>Where the pool a method closes comes from.</summary>
internal enum Origin
{
    /// <summary>Nothing is known (a null, or no assignment at all).</summary>
    None,

    /// <summary>The method created it or took it over (<c>new</c>, <c>Build()</c>, <c>Create...</c>, <c>TryRemove</c>): it may close it.</summary>
    Owned,

    /// <summary>Someone else's: a field, a property, a parameter, a lookup, the service provider.</summary>
    Shared,

    /// <summary>Mixed or not understood: not reported.</summary>
    Unknown,
}

/// <summary>Follows a value back to where the method got it.</summary>
internal static class PoolOrigin
{
    private const int MaxLocalDepth = 3;

    /// <summary>Where <paramref name="value"/> comes from, within the body <paramref name="root"/>.</summary>
    public static Origin Of(IOperation value, IOperation root) => Of(value, root, 0);

    private static Origin Of(IOperation value, IOperation root, int depth)
    {
        value = ValueFlow.SkipConversions(value);
        switch (value)
        {
            case IObjectCreationOperation:
                return Origin.Owned;
            case IInvocationOperation { TargetMethod.MethodKind: MethodKind.DelegateInvoke }:
                // 'makeDataSource(cs)' of an injected Func: a delegate's name says nothing and its body is not in
                // sight, so it may build a new pool on every call as well as hand out a shared one.
                return Origin.Unknown;
            case IInvocationOperation invocation:
                return IsCreatingOrTakingOver(invocation.TargetMethod) ? Origin.Owned
                    : ReadFromEmptied(invocation.Instance ?? (invocation.TargetMethod.IsExtensionMethod && invocation.Arguments.Length > 0 ? invocation.Arguments[0].Value : null), root) ? Origin.Unknown
                    : Origin.Shared;
            case IAwaitOperation awaited:
                var task = ValueFlow.SkipConversions(awaited.Operation);
                if (task is IInvocationOperation { TargetMethod.Name: "ConfigureAwait", Instance: { } configured })
                {
                    task = configured;
                }

                return Of(task, root, depth);
            case IMemberReferenceOperation { Instance: { } instance }
                when ValueFlow.SkipConversions(instance) is not IInstanceReferenceOperation && Of(instance, root, depth) is var holder and (Origin.Owned or Origin.Unknown):
                // A member of something the method owns (evicted.DataSource.Value after TryRemove) is owned; one of something
                // not understood (an entry of a copy of the cache) is not understood either.
                return holder;
            case IPropertyReferenceOperation property when ReadFromEmptied(property.Instance, root):
                // '_byTenant[tenant]' or '_order.Last' in a method that also takes entries out of that collection: evicting.
                return Origin.Unknown;
            case IFieldReferenceOperation field:
                return IsReplacedWithNew(field.Field, root, depth) ? Origin.Owned : Origin.Shared;
            case IPropertyReferenceOperation property:
                return IsReplacedWithNew(property.Property, root, depth) ? Origin.Owned : Origin.Shared;
            case IParameterReferenceOperation parameter:
                return depth < MaxLocalDepth ? OfParameter(parameter.Parameter, root, depth + 1) : Origin.Shared;
            case ILocalReferenceOperation local:
                return depth < MaxLocalDepth ? OfLocal(local, root, depth + 1) : Origin.Unknown;
            case ILiteralOperation or IDefaultValueOperation:
                return Origin.None;
            default:
                return Origin.Unknown;
        }
    }

    /// <summary>
    /// Combines every assignment of a local: shared only when all of them are shared. An assignment made in a lambda or
    /// local function that the read is not in (<c>cache.AddOrUpdate(key, fresh, (_, previous) => { old = previous; ... })</c>)
    /// is not understood: when it runs, and with what, is the callee's business.
    /// </summary>
    private static Origin OfLocal(ILocalReferenceOperation read, IOperation root, int depth)
    {
        var local = read.Local;
        var result = Origin.None;
        foreach (var operation in root.Descendants())
        {
            var origin = operation switch
            {
                IVariableDeclaratorOperation declarator when SymbolEqualityComparer.Default.Equals(declarator.Symbol, local) =>
                    declarator.Initializer is { } initializer ? Of(initializer.Value, root, depth) : Origin.None,
                IAssignmentOperation assignment when ValueFlow.IsLocal(assignment.Target, local) =>
                    assignment is ISimpleAssignmentOperation ? Of(assignment.Value, root, depth) : Origin.Unknown,
                IArgumentOperation { Parameter.RefKind: RefKind.Out or RefKind.Ref } argument when ValueFlow.IsLocal(argument.Value, local) =>
                    OfOutArgument(argument, root),
                IForEachLoopOperation loop when loop.Locals.Contains(local, SymbolEqualityComparer.Default) =>
                    OfCollection(loop.Collection, root),
                IDeclarationPatternOperation pattern when SymbolEqualityComparer.Default.Equals(pattern.DeclaredSymbol, local) =>
                    Origin.Unknown,
                _ => Origin.None,
            };
            if (origin != Origin.None && operation is IAssignmentOperation or IArgumentOperation && !RunsWhereRead(operation, read))
            {
                origin = Origin.Unknown;
            }

            result = Combine(result, origin);
        }

        return result;
    }

    /// <summary>
    /// A parameter is shared, unless it belongs to a local function or a private method that the code only calls:
    /// then it is what the calls give it (<c>DisposeQuietly(new MySqlDataSource(cs))</c>). Shared when any call gives
    /// it a shared pool, the callers' own only when every call gives one of those; a method group use (who calls it is
    /// not known) or a mix with values not understood is not understood.
    /// </summary>
    private static Origin OfParameter(IParameterSymbol parameter, IOperation root, int depth)
    {
        if (parameter.ContainingSymbol is not IMethodSymbol method || parameter.RefKind != RefKind.None)
        {
            return Origin.Shared;
        }

        Origin? result = null;
        if (method.MethodKind == MethodKind.LocalFunction)
        {
            foreach (var operation in root.Descendants())
            {
                if (!AddUse(ref result, operation, method, parameter.Ordinal, root, depth))
                {
                    return Origin.Unknown;
                }
            }
        }
        else if (method is { MethodKind: MethodKind.Ordinary, DeclaredAccessibility: Accessibility.Private }
            && root.SemanticModel?.Compilation is { } compilation)
        {
            foreach (var reference in method.ContainingType.DeclaringSyntaxReferences)
            {
                var declaration = reference.GetSyntax();
                SemanticModel? model = null;
                foreach (var node in declaration.DescendantNodes())
                {
                    if (node is not SimpleNameSyntax name || name.Identifier.ValueText != method.Name)
                    {
                        continue;
                    }

                    // As for shutdown helpers (LifetimePlaces): another part's model comes from the compilation.
#pragma warning disable RS1030 // Do not invoke Compilation.GetSemanticModel() method within a diagnostic analyzer
                    model ??= compilation.GetSemanticModel(declaration.SyntaxTree);
#pragma warning restore RS1030
                    var named = name.Parent is MemberAccessExpressionSyntax access && access.Name == name
                        ? access
                        : (ExpressionSyntax)name;
                    var use = named.Parent is { } parent && model.GetOperation(parent) is IInvocationOperation call
                        ? call
                        : model.GetOperation(named);
                    if (use is not null
                        && !AddUse(ref result, use, method, parameter.Ordinal, ValueFlow.Root(use), depth))
                    {
                        return Origin.Unknown;
                    }
                }
            }
        }

        return result ?? Origin.Shared;
    }

    /// <summary>
    /// Adds what <paramref name="operation"/> gives <paramref name="method"/> at <paramref name="ordinal"/> when it
    /// calls it; false when it uses the method otherwise (a method group).
    /// </summary>
    private static bool AddUse(
        ref Origin? result, IOperation operation, IMethodSymbol method, int ordinal, IOperation root, int depth)
    {
        switch (operation)
        {
            case IInvocationOperation invocation when IsSame(invocation.TargetMethod, method):
                var origin = Origin.None;
                foreach (var argument in invocation.Arguments)
                {
                    if (argument.Parameter?.Ordinal != ordinal)
                    {
                        continue;
                    }

                    var value = ValueFlow.SkipConversions(argument.Value);
                    if (value is IParameterReferenceOperation { Parameter: var passed }
                        && passed.Ordinal == ordinal && passed.ContainingSymbol is IMethodSymbol caller
                        && IsSame(caller, method))
                    {
                        // A call of itself passes on what it was given: the other calls say what that is.
                        return true;
                    }

                    origin = Of(value, root, depth);
                }

                result = result is null ? origin
                    : result == Origin.Shared || origin == Origin.Shared ? Origin.Shared
                    : Combine(result.Value, origin);
                return true;
            case IMethodReferenceOperation reference when IsSame(reference.Method, method):
                return false;
            default:
                return true;
        }
    }

    private static bool IsSame(IMethodSymbol used, IMethodSymbol method) =>
        SymbolEqualityComparer.Default.Equals(used.OriginalDefinition, method.OriginalDefinition);

    private static Origin Combine(Origin left, Origin right) => (left, right) switch
    {
        (Origin.None, _) => right,
        (_, Origin.None) => left,
        (Origin.Shared, Origin.Shared) => Origin.Shared,
        (Origin.Owned, Origin.Owned) => Origin.Owned,
        _ => Origin.Unknown,
    };

    /// <summary><c>cache.TryGetValue(key, out var pool)</c> lends; <c>TryRemove(key, out var pool)</c> hands the pool over.</summary>
    private static Origin OfOutArgument(IArgumentOperation argument, IOperation root)
    {
        if (argument.Parent is not IInvocationOperation invocation)
        {
            return Origin.Unknown;
        }

        var name = invocation.TargetMethod.Name;
        if (name.StartsWith("TryGet", System.StringComparison.Ordinal))
        {
            // Looked up in a cache that the same body also takes it out of or replaces it in: evicting, not borrowing.
            return ReadFromEmptied(invocation.Instance, root) ? Origin.Unknown : Origin.Shared;
        }

        return IsTakingOut(name) ? Origin.Owned : Origin.Unknown;
    }

    /// <summary>
    /// <c>foreach (var pool in _pools.Values)</c> walks shared pools, unless the same body also takes entries out of that
    /// collection or empties it (<c>_pools.TryRemove(key, out _)</c>, <c>_pools.Clear()</c>): that is the owner evicting,
    /// and which entries leave is not followed. Other collections are not followed.
    /// </summary>
    private static Origin OfCollection(IOperation collection, IOperation root)
    {
        var current = ValueFlow.SkipConversions(collection);
        while (current is IPropertyReferenceOperation { Instance: { } instance })
        {
            current = ValueFlow.SkipConversions(instance);
        }

        switch (current)
        {
            case IMemberReferenceOperation member when IsEmptied(member.Member, root):
                return Origin.Unknown;
            case IFieldReferenceOperation or IPropertyReferenceOperation or IParameterReferenceOperation:
                return Origin.Shared;
            default:
                return Origin.Unknown;
        }
    }

    /// <summary>
    /// Does the body take entries out of <paramref name="member"/> or replace them (<c>Remove</c>, <c>TryRemove</c>,
    /// <c>Clear</c>, <c>TryTake</c>, <c>TryUpdate</c>, <c>AddOrUpdate</c>, an assignment to its indexer)?
    /// </summary>
    private static bool IsEmptied(ISymbol member, IOperation root)
    {
        foreach (var operation in root.Descendants())
        {
            var collection = operation switch
            {
                IInvocationOperation { Instance: { } instance, TargetMethod.Name: var name }
                    when IsTakingOut(name) || name.StartsWith("Remove", StringComparison.Ordinal) || name.StartsWith("TryRemove", StringComparison.Ordinal)
                        || name is "Clear" or "TryUpdate" or "AddOrUpdate" => instance,
                ISimpleAssignmentOperation { Target: IPropertyReferenceOperation { Property.IsIndexer: true, Instance: { } indexed } } => indexed,
                _ => null,
            };
            if (collection is not null
                && ValueFlow.SkipConversions(collection) is IMemberReferenceOperation target
                && SymbolEqualityComparer.Default.Equals(target.Member, member))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>A call that hands the caller an entry it takes out of a collection (through its <c>out</c> argument).</summary>
    private static bool IsTakingOut(string name) => name is "TryRemove" or "Remove" or "TryTake" or "TryDequeue" or "TryPop";

    /// <summary>Is <paramref name="assignment"/> in the same lambda or local function as <paramref name="read"/>, or in one that holds it?</summary>
    private static bool RunsWhereRead(IOperation assignment, IOperation read)
    {
        var function = LifetimePlaces.EnclosingFunction(assignment);
        if (function is null)
        {
            return true;
        }

        for (var current = read.Parent; current is not null; current = current.Parent)
        {
            if (ReferenceEquals(current, function))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Factories and builders by name, and <c>Interlocked.Exchange</c>, which hands over the old value.</summary>
    private static bool IsCreatingOrTakingOver(IMethodSymbol method)
    {
        var name = method.Name;
        return name.StartsWith("Create", System.StringComparison.Ordinal)
            || name.StartsWith("Build", System.StringComparison.Ordinal)
            || name.StartsWith("New", System.StringComparison.Ordinal)
            || name is "Exchange" or "CompareExchange" && method.ContainingType?.Name == "Interlocked";
    }

    /// <summary>
    /// Does the same body store a new pool in <paramref name="member"/>? Then the type owns it and is replacing it
    /// (a credential rotation), and closing the old one is its business.
    /// </summary>
    private static bool IsReplacedWithNew(ISymbol member, IOperation root, int depth)
    {
        foreach (var operation in root.Descendants())
        {
            // '_master = new MySqlDataSource(cs)', or through a local: 'var next = Build(); ...; _master = next;'.
            if (operation is IAssignmentOperation assignment
                && ValueFlow.SkipConversions(assignment.Target) is IMemberReferenceOperation target
                && SymbolEqualityComparer.Default.Equals(target.Member, member)
                && ValueFlow.SkipConversions(assignment.Value) is IObjectCreationOperation or IInvocationOperation or ILocalReferenceOperation
                && Of(assignment.Value, root, Math.Min(depth + 1, MaxLocalDepth)) == Origin.Owned)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Is <paramref name="collection"/> a field or property of this object that the body takes entries out of or empties?</summary>
    private static bool ReadFromEmptied(IOperation? collection, IOperation root) =>
        collection is not null
        && ValueFlow.SkipConversions(collection) is IMemberReferenceOperation { Instance: null or IInstanceReferenceOperation } member
        && IsEmptied(member.Member, root);
}
