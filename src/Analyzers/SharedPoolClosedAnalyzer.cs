using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;
using TenantDbGuard.Analyzers.ConnectionLeak;
using TenantDbGuard.Analyzers.PoolLifetime;
using TenantDbGuard.Analyzers.SharedPoolClosed;

namespace TenantDbGuard.Analyzers;

/// <summary>
/// TDG003: a data source or pool that the method did not create is disposed (<c>Dispose</c>, <c>DisposeAsync</c>,
/// <c>using</c>), or <c>ClearPool</c>/<c>ClearAllPools</c> runs, outside shutdown code.
/// </summary>
/// <remarks>
/// A pool is a <c>DbDataSource</c> or a type whose <c>GetConnection</c>/<c>GetConnectionAsync</c> TDG001 treats as an
/// acquisition. The call's name and the receiver's type are checked first; only the rare matches look at where the
/// pool came from and where the code runs.
/// </remarks>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class SharedPoolClosedAnalyzer : DiagnosticAnalyzer
{
    private const string ClosesSharedPool = "closes a connection pool it did not create; release the connection instead and leave the pool to its owner";
    private const string ClearsPools = "empties connection pools outside shutdown code, closing the pooled connections of every caller; release the connection instead and clear pools only when the app stops";

    /// <inheritdoc />
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } = ImmutableArray.Create(Descriptors.SharedPoolClosed);

    /// <inheritdoc />
    public override void Initialize(AnalysisContext context)
    {
        context.EnableConcurrentExecution();
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.RegisterCompilationStartAction(static compilationContext =>
        {
            var rules = AcquisitionRules.Create(compilationContext.Compilation);
            var forwarders = new ClearingForwarders(compilationContext.Compilation, rules);
            compilationContext.RegisterOperationAction(operationContext => AnalyzeInvocation(operationContext, rules, forwarders), OperationKind.Invocation);
            compilationContext.RegisterOperationAction(operationContext => AnalyzeUsing(operationContext, rules), OperationKind.Using, OperationKind.UsingDeclaration);
        });
    }

    private static void AnalyzeInvocation(OperationAnalysisContext context, AcquisitionRules rules, ClearingForwarders forwarders)
    {
        var invocation = (IInvocationOperation)context.Operation;
        var method = invocation.TargetMethod;
        switch (method.Name)
        {
            case "Dispose":
            case "DisposeAsync":
                if (method.IsStatic || method.Parameters.Length != 0 || invocation.Instance is null)
                {
                    return;
                }

                var pool = Receiver(invocation.Instance);
                if (pool is null || !IsPoolType(pool.Type, rules) || LifetimePlaces.IsShutdownCode(invocation, context.ContainingSymbol))
                {
                    return;
                }

                if (PoolOrigin.Of(pool, ValueFlow.Root(invocation)) == Origin.Shared)
                {
                    // _pool?.Dispose() is reported as a whole, not only its ".Dispose()".
                    var syntax = invocation.Syntax.Parent is { } parent && parent.IsKind(SyntaxKind.ConditionalAccessExpression) ? parent : invocation.Syntax;
                    Report(context, syntax, pool.Syntax + "." + method.Name + "()", ClosesSharedPool, SharedPoolClosedProperties.DisposeCall);
                }

                return;
            case "ClearPool":
            case "ClearAllPools":
            case "ClearPoolAsync":
            case "ClearAllPoolsAsync":
                if (forwarders.IsPoolClearing(method))
                {
                    // A method that only forwards to ClearAllPools is the pool-clearing API itself: its callers are judged.
                    if (!IsInForwarder(invocation, context, forwarders) && !LifetimePlaces.IsShutdownCode(invocation, context.ContainingSymbol))
                    {
                        Report(context, invocation.Syntax, method.ContainingType.Name + "." + method.Name + "()", ClearsPools, SharedPoolClosedProperties.ClearPool);
                    }

                    return;
                }

                break;
        }

        if (rules.IsInSource(method) && forwarders.IsForwarder(method, context.CancellationToken)
            && !IsInForwarder(invocation, context, forwarders) && !LifetimePlaces.IsShutdownCode(invocation, context.ContainingSymbol))
        {
            Report(context, invocation.Syntax, method.ContainingType.Name + "." + method.Name + "()", ClearsPools, SharedPoolClosedProperties.ClearPool);
        }
    }

    /// <summary>
    /// Is <paramref name="invocation"/> the whole body of a forwarder, so that its callers are judged instead? A whole
    /// body of anything else (a property accessor, a method too far down a chain of forwarders) is judged here.
    /// </summary>
    private static bool IsInForwarder(IInvocationOperation invocation, OperationAnalysisContext context, ClearingForwarders forwarders) =>
        ClearingForwarders.WholeBodyOf(invocation, context.ContainingSymbol) is { } method && forwarders.IsForwarder(method, context.CancellationToken);

    private static void AnalyzeUsing(OperationAnalysisContext context, AcquisitionRules rules)
    {
        switch (context.Operation)
        {
            case IUsingOperation { Resources: IVariableDeclarationGroupOperation group }:
                AnalyzeDeclarations(context, group, rules);
                break;
            case IUsingOperation { Resources: { } resource } statement:
                var pool = ValueFlow.SkipConversions(resource);
                if (IsPoolType(pool.Type, rules) && IsSharedOutsideShutdown(context, statement, pool))
                {
                    Report(context, resource.Syntax, "using (" + resource.Syntax + ")", ClosesSharedPool, SharedPoolClosedProperties.Using);
                }

                break;
            case IUsingDeclarationOperation declaration:
                AnalyzeDeclarations(context, declaration.DeclarationGroup, rules);
                break;
        }
    }

    private static void AnalyzeDeclarations(OperationAnalysisContext context, IVariableDeclarationGroupOperation group, AcquisitionRules rules)
    {
        foreach (var declaration in group.Declarations)
        {
            foreach (var declarator in declaration.Declarators)
            {
                if (declarator.Initializer?.Value is not { } value)
                {
                    continue;
                }

                var pool = ValueFlow.SkipConversions(value);
                if (IsPoolType(pool.Type, rules) && IsSharedOutsideShutdown(context, declarator, pool))
                {
                    Report(context, value.Syntax, "using var " + declarator.Symbol.Name, ClosesSharedPool, SharedPoolClosedProperties.Using);
                }
            }
        }
    }

    private static bool IsSharedOutsideShutdown(OperationAnalysisContext context, IOperation site, IOperation pool) =>
        !LifetimePlaces.IsShutdownCode(site, context.ContainingSymbol) && PoolOrigin.Of(pool, ValueFlow.Root(site)) == Origin.Shared;

    private static bool IsPoolType(ITypeSymbol? type, AcquisitionRules rules) => rules.IsDataSource(type) || rules.IsPool(type);

    /// <summary>The pool a call is made on, looking through conversions and <c>?.</c>.</summary>
    private static IOperation? Receiver(IOperation instance)
    {
        instance = ValueFlow.SkipConversions(instance);
        if (instance is not IConditionalAccessInstanceOperation)
        {
            return instance;
        }

        for (var current = instance.Parent; current is not null; current = current.Parent)
        {
            if (current is IConditionalAccessOperation conditional)
            {
                return ValueFlow.SkipConversions(conditional.Operation);
            }
        }

        return null;
    }

    private static void Report(OperationAnalysisContext context, SyntaxNode syntax, string subject, string problem, string kind)
    {
        var properties = ImmutableDictionary<string, string?>.Empty.Add(SharedPoolClosedProperties.Kind, kind);
        context.ReportDiagnostic(Diagnostic.Create(Descriptors.SharedPoolClosed, syntax.GetLocation(), properties, subject, problem));
    }
}
