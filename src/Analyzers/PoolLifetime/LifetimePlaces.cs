using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;

namespace TenantDbGuard.Analyzers.PoolLifetime;

/// <summary>
/// Where code runs in an app's life: once at start-up (entry point, static constructor, service registration),
/// at shutdown (<c>Dispose</c>, hosted-service stop, stopping callbacks), or on every call (everything else).
/// </summary>
internal static class LifetimePlaces
{
    private const string ServiceCollectionName = "Microsoft.Extensions.DependencyInjection.IServiceCollection";
    private const string TopLevelStatementsName = "<Main>$";

    /// <summary>
    /// Start-up code, where a data source is created once: a static constructor and the initializers of static fields
    /// and properties (not the lambdas they make), a member that registers services (a <c>ConfigureServices</c> method
    /// or any method with an <c>IServiceCollection</c> parameter, lambdas included), and the statements of <c>Main</c>,
    /// the top-level statements and a hosted service's start themselves (not their lambdas, which may be request
    /// handlers or run per item). An instance field's initializer runs for every object, so it is not.
    /// </summary>
    public static bool IsStartupCode(IOperation operation, ISymbol containingSymbol) =>
        IsStartupCode(operation, containingSymbol, operation.SemanticModel?.Compilation, 0);

    private static bool IsStartupCode(
        IOperation operation, ISymbol? containingSymbol, Compilation? compilation, int depth)
    {
        if (containingSymbol is not IMethodSymbol member)
        {
            return containingSymbol is IFieldSymbol { IsStatic: true } or IPropertySymbol { IsStatic: true } && EnclosingFunction(operation) is null;
        }

        if (member.MethodKind == MethodKind.StaticConstructor || IsRegistrationMember(member))
        {
            return true;
        }

        return EnclosingFunction(operation) is null
            && (IsEntryPoint(member) || IsHostedStart(member)
                || IsOnlyCalledFrom(member, compilation, depth, shutdown: false));
    }

    /// <summary>
    /// A hosted service's start, which the host runs once: <c>IHostedService.StartAsync</c>, the
    /// <c>IHostedLifecycleService</c> methods <c>StartingAsync</c> and <c>StartedAsync</c>, and a
    /// <c>BackgroundService</c>'s <c>ExecuteAsync</c>, whose loop runs until the app stops.
    /// </summary>
    private static bool IsHostedStart(IMethodSymbol method)
    {
        var name = method.Name;
        var dot = name.LastIndexOf('.');
        if (dot >= 0)
        {
            name = name.Substring(dot + 1);
        }

        if (name == "ExecuteAsync")
        {
            var type = method.IsOverride ? method.ContainingType?.BaseType : null;
            for (; type is not null; type = type.BaseType)
            {
                if (type is { Name: "BackgroundService" } && IsHostingNamespace(type.ContainingNamespace))
                {
                    return true;
                }
            }

            return false;
        }

        if (name is not ("StartAsync" or "StartingAsync" or "StartedAsync") || method.ContainingType is not { } owner)
        {
            return false;
        }

        foreach (var contract in owner.AllInterfaces)
        {
            if (contract.Name is "IHostedService" or "IHostedLifecycleService"
                && IsHostingNamespace(contract.ContainingNamespace))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsHostingNamespace(INamespaceSymbol? ns) =>
        ns?.ToDisplayString() == "Microsoft.Extensions.Hosting";

    /// <summary>
    /// Shutdown code, where a pool may be closed: the <c>Dispose</c>/<c>DisposeAsync</c>/finalizer of the owning type,
    /// <c>IHostedService.StopAsync</c> and the <c>IHostedLifecycleService</c> stop methods (lambdas inside them
    /// included), a lambda registered for <c>ApplicationStopping</c>/<c>ApplicationStopped</c>, an eviction callback,
    /// a <c>ProcessExit</c> handler, and the statements of <c>Main</c> or the top-level statements themselves. A
    /// private method or a local function registered there by its method group
    /// (<c>ApplicationStopping.Register(CloseAll)</c>) is read as the lambda that calls it.
    /// </summary>
    public static bool IsShutdownCode(IOperation operation, ISymbol containingSymbol) =>
        IsShutdownCode(operation, containingSymbol as IMethodSymbol, operation.SemanticModel?.Compilation, 0);

    private static bool IsShutdownCode(IOperation operation, IMethodSymbol? member, Compilation? compilation, int depth)
    {
        var insideFunction = false;
        for (var current = operation.Parent; current is not null; current = current.Parent)
        {
            switch (current)
            {
                case IAnonymousFunctionOperation lambda:
                    if (IsShutdownCallback(lambda))
                    {
                        return true;
                    }

                    insideFunction = true;
                    break;
                case ILocalFunctionOperation localFunction:
                    if (IsOnlyRunAtShutdown(localFunction, member, compilation, depth))
                    {
                        return true;
                    }

                    insideFunction = true;
                    break;
            }
        }

        if (member is null)
        {
            return false;
        }

        return IsShutdownMember(member)
            || !insideFunction
                && (IsEntryPoint(member) || IsOnlyCalledFrom(member, compilation, depth, shutdown: true));
    }

    /// <summary>
    /// Is <paramref name="method"/> a private method of its type that is only ever called, from that type, by shutdown
    /// code (<c>public void Dispose() => CloseAll();</c>), or registered as a shutdown callback by its method group
    /// (<c>lifetime.ApplicationStopping.Register(CloseAll);</c>, as the lambda <c>() => CloseAll()</c> would be)? Then
    /// it is shutdown code too. With <paramref name="shutdown"/> false, is it only called by start-up code
    /// (<c>static Task Main(string[] args) => MigrateAsync(args[0]);</c>)? A private method with no call, or whose
    /// method group is used otherwise (<c>Action close = CloseAll;</c>, <c>Task.Run(CloseAll)</c>), is not. Followed
    /// through at most three such methods.
    /// </summary>
    private static bool IsOnlyCalledFrom(IMethodSymbol method, Compilation? compilation, int depth, bool shutdown)
    {
        if (compilation is null || depth >= 3 || method.DeclaredAccessibility != Accessibility.Private || method.MethodKind != MethodKind.Ordinary
            || method.IsVirtual || method.ContainingType is not { } type)
        {
            return false;
        }

        var calls = 0;
        foreach (var reference in type.DeclaringSyntaxReferences)
        {
            var declaration = reference.GetSyntax();
            SemanticModel? model = null;
            foreach (var node in declaration.DescendantNodes())
            {
                if (node is not SimpleNameSyntax name || name.Identifier.ValueText != method.Name)
                {
                    continue;
                }

                // The summaries and this rule read the type's other parts: the model comes from the compilation (the driver caches it).
#pragma warning disable RS1030 // Do not invoke Compilation.GetSemanticModel() method within a diagnostic analyzer
                model ??= compilation.GetSemanticModel(declaration.SyntaxTree);
#pragma warning restore RS1030
                var named = name.Parent is MemberAccessExpressionSyntax access && access.Name == name ? access : (ExpressionSyntax)name;
                var operation = model.GetOperation(named.Parent!);
                if (operation is not IInvocationOperation invocation || !SymbolEqualityComparer.Default.Equals(invocation.TargetMethod.OriginalDefinition, method.OriginalDefinition))
                {
                    if (model.GetOperation(named) is IMethodReferenceOperation group
                        && IsSameMethod(group.Method, method) && shutdown && IsShutdownCallback(group))
                    {
                        // 'lifetime.ApplicationStopping.Register(CloseAll);': run when the app stops, like the lambda
                        // that would call it.
                        calls++;
                        continue;
                    }

                    if (SymbolEqualityComparer.Default.Equals(model.GetSymbolInfo(name).Symbol?.OriginalDefinition, method.OriginalDefinition))
                    {
                        // Named otherwise than by a call ('Action close = CloseAll;'): who calls it is not known.
                        return false;
                    }

                    continue;
                }

                var caller = CallerOf(invocation);
                if (SymbolEqualityComparer.Default.Equals(caller?.OriginalDefinition, method.OriginalDefinition))
                {
                    // A call from inside itself (recursion) says nothing of who calls it.
                    continue;
                }

                if (caller is null || !(shutdown
                    ? IsShutdownCode(invocation, caller, compilation, depth + 1)
                    : IsStartupCode(invocation, caller, compilation, depth + 1)))
                {
                    return false;
                }

                calls++;
            }
        }

        return calls > 0;
    }

    /// <summary>
    /// Is the local function only run by shutdown code: every call of it (outside itself) is shutdown code, and every
    /// method group of it is registered as a shutdown callback (<c>lifetime.ApplicationStopping.Register(Close);</c>)?
    /// Followed through at most three such functions or methods.
    /// </summary>
    private static bool IsOnlyRunAtShutdown(ILocalFunctionOperation localFunction, IMethodSymbol? member, Compilation? compilation, int depth)
    {
        if (depth >= 3)
        {
            return false;
        }

        IOperation root = localFunction;
        while (root.Parent is { } parent)
        {
            root = parent;
        }

        var symbol = localFunction.Symbol;
        var uses = 0;
        foreach (var operation in root.Descendants())
        {
            switch (operation)
            {
                case IInvocationOperation invocation when SymbolEqualityComparer.Default.Equals(invocation.TargetMethod.OriginalDefinition, symbol):
                    if (IsWithin(invocation, localFunction))
                    {
                        // A call from inside itself says nothing of who runs it.
                        continue;
                    }

                    // The statements of Main are shutdown code, but a local function written there is request code
                    // unless only shutdown callbacks run it.
                    if (!IsShutdownCode(invocation, member is not null && IsEntryPoint(member) ? null : member, compilation, depth + 1))
                    {
                        return false;
                    }

                    uses++;
                    break;
                case IMethodReferenceOperation reference when SymbolEqualityComparer.Default.Equals(reference.Method.OriginalDefinition, symbol):
                    if (!IsShutdownCallback(reference))
                    {
                        return false;
                    }

                    uses++;
                    break;
            }
        }

        return uses > 0;
    }

    private static bool IsWithin(IOperation operation, IOperation container)
    {
        for (var current = operation.Parent; current is not null; current = current.Parent)
        {
            if (ReferenceEquals(current, container))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsSameMethod(IMethodSymbol used, IMethodSymbol method) =>
        SymbolEqualityComparer.Default.Equals(used.OriginalDefinition, method.OriginalDefinition);

    /// <summary>The member whose body holds <paramref name="operation"/>.</summary>
    private static IMethodSymbol? CallerOf(IOperation operation)
    {
        var root = ValueFlow.Root(operation);
        return root.SemanticModel?.GetDeclaredSymbol(root.Syntax) as IMethodSymbol;
    }

    /// <summary>The innermost lambda or local function around <paramref name="operation"/>, or <c>null</c> in the member's own code.</summary>
    public static IOperation? EnclosingFunction(IOperation operation)
    {
        for (var current = operation.Parent; current is not null; current = current.Parent)
        {
            if (current is IAnonymousFunctionOperation or ILocalFunctionOperation)
            {
                return current;
            }
        }

        return null;
    }

    private static bool IsEntryPoint(IMethodSymbol method) =>
        method.Name == TopLevelStatementsName || method is { IsStatic: true, Name: "Main" };

    private static bool IsRegistrationMember(IMethodSymbol method)
    {
        if (method.Name == "ConfigureServices")
        {
            return true;
        }

        foreach (var parameter in method.Parameters)
        {
            if (parameter.Type is INamedTypeSymbol { Name: "IServiceCollection" } type && type.ToDisplayString() == ServiceCollectionName)
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsShutdownMember(IMethodSymbol method)
    {
        if (method.MethodKind == MethodKind.Destructor)
        {
            return true;
        }

        var name = method.Name;
        var dot = name.LastIndexOf('.');
        if (dot >= 0)
        {
            // An explicit interface implementation: System.IAsyncDisposable.DisposeAsync.
            name = name.Substring(dot + 1);
        }

        return name is "Dispose" or "DisposeAsync" or "DisposeAsyncCore" or "StopAsync" or "StoppingAsync" or "StoppedAsync";
    }

    /// <summary>
    /// A lambda or a method group that runs when the app stops or when a cache lets go of its value:
    /// <c>lifetime.ApplicationStopping.Register(...)</c>, <c>ApplicationStopped.Register(...)</c>,
    /// <c>RegisterPostEvictionCallback(...)</c>, <c>AppDomain.CurrentDomain.ProcessExit += ...</c>.
    /// </summary>
    private static bool IsShutdownCallback(IOperation callback)
    {
        var current = callback;
        while (current.Parent is IDelegateCreationOperation or IConversionOperation)
        {
            current = current.Parent;
        }

        switch (current.Parent)
        {
            case IArgumentOperation { Parent: IInvocationOperation invocation }:
                var name = invocation.TargetMethod.Name;
                if (name is "Register" or "UnsafeRegister")
                {
                    return invocation.Instance is IPropertyReferenceOperation { Property.Name: "ApplicationStopping" or "ApplicationStopped" };
                }

                return name == "RegisterPostEvictionCallback";
            case IEventAssignmentOperation { Adds: true, EventReference: IEventReferenceOperation { Event.Name: "ProcessExit" } }:
                return true;
            default:
                return false;
        }
    }
}
