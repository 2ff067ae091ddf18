using System.Linq;
using Microsoft.CodeAnalysis;
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
            case IInvocationOperation invocation:
                return IsCreatingOrTakingOver(invocation.TargetMethod) ? Origin.Owned : Origin.Shared;
            case IAwaitOperation awaited:
                var task = ValueFlow.SkipConversions(awaited.Operation);
                if (task is IInvocationOperation { TargetMethod.Name: "ConfigureAwait", Instance: { } configured })
                {
                    task = configured;
                }

                return Of(task, root, depth);
            case IMemberReferenceOperation { Instance: { } instance }
                when ValueFlow.SkipConversions(instance) is not IInstanceReferenceOperation && Of(instance, root, depth) == Origin.Owned:
                // A member of something the method owns: evicted.DataSource.Value after TryRemove.
                return Origin.Owned;
            case IFieldReferenceOperation field:
                return IsReplacedWithNew(field.Field, root) ? Origin.Owned : Origin.Shared;
            case IPropertyReferenceOperation property:
                return IsReplacedWithNew(property.Property, root) ? Origin.Owned : Origin.Shared;
            case IParameterReferenceOperation:
                return Origin.Shared;
            case ILocalReferenceOperation local:
                return depth < MaxLocalDepth ? OfLocal(local.Local, root, depth + 1) : Origin.Unknown;
            case ILiteralOperation or IDefaultValueOperation:
                return Origin.None;
            default:
                return Origin.Unknown;
        }
    }

    /// <summary>Combines every assignment of a local: shared only when all of them are shared.</summary>
    private static Origin OfLocal(ILocalSymbol local, IOperation root, int depth)
    {
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
                    OfOutArgument(argument),
                IForEachLoopOperation loop when loop.Locals.Contains(local, SymbolEqualityComparer.Default) =>
                    OfCollection(loop.Collection),
                IDeclarationPatternOperation pattern when SymbolEqualityComparer.Default.Equals(pattern.DeclaredSymbol, local) =>
                    Origin.Unknown,
                _ => Origin.None,
            };
            result = Combine(result, origin);
        }

        return result;
    }

    private static Origin Combine(Origin left, Origin right) => (left, right) switch
    {
        (Origin.None, _) => right,
        (_, Origin.None) => left,
        (Origin.Shared, Origin.Shared) => Origin.Shared,
        (Origin.Owned, Origin.Owned) => Origin.Owned,
        _ => Origin.Unknown,
    };

    /// <summary><c>cache.TryGetValue(key, out var pool)</c> lends; <c>TryRemove(key, out var pool)</c> hands the pool over.</summary>
    private static Origin OfOutArgument(IArgumentOperation argument)
    {
        if (argument.Parent is not IInvocationOperation invocation)
        {
            return Origin.Unknown;
        }

        var name = invocation.TargetMethod.Name;
        if (name.StartsWith("TryGet", System.StringComparison.Ordinal))
        {
            return Origin.Shared;
        }

        return name is "TryRemove" or "Remove" or "TryTake" or "TryDequeue" or "TryPop" ? Origin.Owned : Origin.Unknown;
    }

    /// <summary><c>foreach (var pool in _pools.Values)</c> walks shared pools; other collections are not followed.</summary>
    private static Origin OfCollection(IOperation collection)
    {
        var current = ValueFlow.SkipConversions(collection);
        while (current is IPropertyReferenceOperation { Instance: { } instance })
        {
            current = ValueFlow.SkipConversions(instance);
        }

        return current is IFieldReferenceOperation or IPropertyReferenceOperation or IParameterReferenceOperation ? Origin.Shared : Origin.Unknown;
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
    private static bool IsReplacedWithNew(ISymbol member, IOperation root)
    {
        foreach (var operation in root.Descendants())
        {
            if (operation is IAssignmentOperation assignment
                && ValueFlow.SkipConversions(assignment.Target) is IMemberReferenceOperation target
                && SymbolEqualityComparer.Default.Equals(target.Member, member)
                && ValueFlow.SkipConversions(assignment.Value) is IObjectCreationOperation or IInvocationOperation
                && Of(assignment.Value, root, MaxLocalDepth) == Origin.Owned)
            {
                return true;
            }
        }

        return false;
    }
}
