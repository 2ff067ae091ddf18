// Who takes the resource over when it is passed on: a collection it is added to (CollectionHandOffs), a pool it is
// given back to, or a wrapper object that releases what it is given.
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>The calls and types that take ownership of a resource passed to them.</summary>
internal static class HandOffRules
{
    /// <summary>
    /// Does <paramref name="method"/> take an object back into a pool (<c>Return</c>, <c>Recycle</c>) or store it in a
    /// collection (<see cref="CollectionHandOffs"/>)?
    /// </summary>
    public static bool TakesBack(IMethodSymbol method, CollectionHandOffs collections) => method.Name is "Return" or "Recycle" || collections.Stores(method);

    /// <summary><c>Interlocked.Exchange(ref _field, conn)</c> / <c>CompareExchange</c>: the connection is published to a field.</summary>
    public static bool IsInterlockedSwap(IMethodSymbol method) =>
        method is { Name: "Exchange" or "CompareExchange", ContainingType: { Name: "Interlocked", ContainingNamespace.Name: "Threading" } };

    /// <summary><c>Task.WhenAll&lt;T&gt;</c> / <c>Task.WhenAny&lt;T&gt;</c>: the task they return carries the tasks given to them.</summary>
    public static bool IsTaskCombinator(IMethodSymbol method) =>
        method is { IsStatic: true, IsGenericMethod: true, Name: "WhenAll" or "WhenAny", ContainingType: { Name: "Task", ContainingNamespace.Name: "Tasks" } };

    /// <summary>
    /// Calls that cannot throw on valid arguments: <c>Interlocked</c>, <c>Volatile</c>, <c>GC.SuppressFinalize(this)</c>,
    /// a comparison of references (<see cref="ConditionFacts.ComparesReferences"/>), <c>Nullable&lt;T&gt;.GetValueOrDefault</c>
    /// (which the compiler calls for <c>maybe ?? 0</c>), and what a <c>lock</c> statement is made of
    /// (<see cref="IsLockStatementPart"/>).
    /// </summary>
    public static bool NeverThrows(IInvocationOperation invocation) =>
        invocation.TargetMethod.ContainingType is { Name: "Interlocked" or "Volatile", ContainingNamespace.Name: "Threading" }
        || IsLockStatementPart(invocation)
        || invocation.TargetMethod is { Name: "GetValueOrDefault", ContainingType.OriginalDefinition.SpecialType: SpecialType.System_Nullable_T }
        || invocation.TargetMethod is { Name: "SuppressFinalize", ContainingType: { Name: "GC", ContainingNamespace.Name: "System" } }
        || ConditionFacts.ComparesReferences(invocation);

    /// <summary>
    /// Entering a lock (<c>Monitor.Enter</c>, <c>Lock.Enter</c>, <c>Lock.EnterScope</c>), or the exit the compiler writes for a
    /// <c>lock</c> statement (<c>Monitor.Exit</c>, the dispose of a <c>Lock.Scope</c>): on a lock object that is there, none
    /// of them throws. An exit the code writes itself can (a lock it does not hold).
    /// </summary>
    private static bool IsLockStatementPart(IInvocationOperation invocation) =>
        invocation.TargetMethod switch
        {
            { Name: "Enter", ContainingType: var type } when IsThreadingType(type, "Monitor") => true,
            { Name: "Exit", ContainingType: var type } when IsThreadingType(type, "Monitor") => invocation.IsImplicit,
            { Name: "Enter" or "EnterScope", ContainingType: var type } when IsThreadingType(type, "Lock") => true,
            { Name: "Dispose", ContainingType: { Name: "Scope", ContainingType: { } lockType } } when IsThreadingType(lockType, "Lock") => invocation.IsImplicit,
            _ => false,
        };

    /// <summary>Is <paramref name="type"/> the type of <c>System.Threading</c> named <paramref name="name"/>?</summary>
    internal static bool IsThreadingType(INamedTypeSymbol? type, string name) =>
        type is { ContainingType: null } && type.Name == name && IsSystemThreading(type.ContainingNamespace);

    /// <summary>Is <paramref name="ns"/> <c>System.Threading</c> itself?</summary>
    internal static bool IsSystemThreading(INamespaceSymbol? ns) =>
        ns is { Name: "Threading", ContainingNamespace: { Name: "System", ContainingNamespace.IsGlobalNamespace: true } };

    /// <summary>
    /// A call to an <c>async</c> method of the compilation, static or on <c>this</c>: whatever its body throws goes into the
    /// task it returns (seen where the task is awaited), so the call itself cannot throw.
    /// </summary>
    public static bool ThrowsOnlyIntoItsTask(IInvocationOperation invocation) =>
        IsAsync(invocation.TargetMethod) && invocation.Instance is null or IInstanceReferenceOperation;

    /// <summary>
    /// An <c>async</c> method: of the compilation, or of a referenced assembly, where the compiler marks each one with
    /// <c>[AsyncStateMachine]</c>. Whatever its body throws goes into its task.
    /// </summary>
    public static bool IsAsync(IMethodSymbol method)
    {
        if (method.IsAsync)
        {
            return true;
        }

        if (method.Locations.Length > 0 && method.Locations[0].IsInSource)
        {
            return false;
        }

        foreach (var attribute in method.GetAttributes())
        {
            if (attribute.AttributeClass is { Name: "AsyncStateMachineAttribute", ContainingNamespace.Name: "CompilerServices" })
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>A type of the framework or of a data provider (a command, a transaction): it never takes a connection over.</summary>
    public static bool IsFrameworkType(ITypeSymbol? type)
    {
        var root = type?.ContainingNamespace;
        while (root is { ContainingNamespace.IsGlobalNamespace: false })
        {
            root = root.ContainingNamespace;
        }

        return root?.Name is "System" or "MySqlConnector" or "MySql" or "Dapper" or "Microsoft" or "Npgsql";
    }

    /// <summary>
    /// <c>KeyValuePair&lt;TKey, TValue&gt;</c> and <c>System.Tuple&lt;...&gt;</c>: framework types that only hold the values
    /// they are made with and give them back unchanged, like a value tuple. Their constructors never throw.
    /// </summary>
    public static bool IsFrameworkValueHolder(ITypeSymbol? type) =>
        type is INamedTypeSymbol { IsGenericType: true } named && (IsKeyValuePair(named) || (named.Name == "Tuple" && IsInSystem(named)));

    /// <summary>
    /// <c>KeyValuePair.Create(key, value)</c>, <c>Tuple.Create(a, b)</c>, <c>ValueTuple.Create(a, b)</c>: a factory that
    /// returns a holder of its arguments and does nothing else.
    /// </summary>
    public static bool IsValueHolderFactory(IMethodSymbol method) =>
        method is { Name: "Create", IsStatic: true, ContainingType: { IsGenericType: false } factory }
        && (IsKeyValuePair(factory) || (factory.Name is "Tuple" or "ValueTuple" && IsInSystem(factory)));

    /// <summary>Is <paramref name="type"/> <c>System.Collections.Generic.KeyValuePair</c> (the struct or its static factory class)?</summary>
    private static bool IsKeyValuePair(INamedTypeSymbol type) =>
        type is { Name: "KeyValuePair", ContainingNamespace: { Name: "Generic", ContainingNamespace: { Name: "Collections", ContainingNamespace: { Name: "System", ContainingNamespace.IsGlobalNamespace: true } } } };

    /// <summary>Is <paramref name="type"/> declared in the <c>System</c> namespace itself?</summary>
    private static bool IsInSystem(INamedTypeSymbol type) =>
        type.ContainingNamespace is { Name: "System", ContainingNamespace.IsGlobalNamespace: true };

    /// <summary><c>ValueTask&lt;T&gt;</c>: built around a value (or a task of it), it completes with that value.</summary>
    public static bool IsCompletedValueTask(ITypeSymbol? type) =>
        type is INamedTypeSymbol { Name: "ValueTask", IsGenericType: true, ContainingNamespace: { Name: "Tasks", ContainingNamespace: { Name: "Threading", ContainingNamespace.Name: "System" } } };

    /// <summary>Is <paramref name="type"/> a wrapper of the application's own that releases what it is given?</summary>
    public static bool IsOwningWrapper(ITypeSymbol? type, NameConfiguration names)
    {
        if (type is null)
        {
            return false;
        }

        if (IsFrameworkType(type))
        {
            return false;
        }

        foreach (var member in type.GetMembers())
        {
            if (member is IMethodSymbol { IsStatic: false } method && names.ReleaseNames.Contains(method.Name))
            {
                return true;
            }
        }

        foreach (var implemented in type.AllInterfaces)
        {
            if (implemented.Name is "IDisposable" or "IAsyncDisposable")
            {
                return true;
            }
        }

        return false;
    }
}
