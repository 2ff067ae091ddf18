using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;
using TenantDbGuard.Analyzers.ConnectionLeak;
using TenantDbGuard.Analyzers.PoolLifetime;

namespace TenantDbGuard.Analyzers;

/// <summary>
/// TDG002: a data source (<c>new MySqlDataSource(cs)</c>, <c>builder.Build()</c>, <c>DbDataSource.Create</c>) created in a
/// method body and not kept: left in a local, disposed by a <c>using</c>, discarded or used inline. Every call then
/// builds a new connection pool.
/// </summary>
/// <remarks>
/// A value is kept when it is stored in a field, a property, an indexer or an array, returned (a factory or a
/// cache's value factory: the caller decides), or passed to a method or constructor (a registration, a cache, an
/// owner). Start-up code (static constructors, service registration, <c>Main</c>) is never reported.
/// </remarks>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class DataSourcePerCallAnalyzer : DiagnosticAnalyzer
{
    /// <inheritdoc />
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } = ImmutableArray.Create(Descriptors.DataSourcePerCall);

    /// <inheritdoc />
    public override void Initialize(AnalysisContext context)
    {
        context.EnableConcurrentExecution();
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.RegisterCompilationStartAction(static compilationContext =>
        {
            if (compilationContext.Compilation.GetTypeByMetadataName("System.Data.Common.DbDataSource") is null)
            {
                return;
            }

            var rules = AcquisitionRules.Create(compilationContext.Compilation);

            compilationContext.RegisterOperationAction(
                operationContext =>
                {
                    var creation = (IObjectCreationOperation)operationContext.Operation;
                    if (rules.IsDataSource(creation.Type))
                    {
                        Analyze(operationContext, "new " + creation.Type!.Name + "(...)");
                    }
                },
                OperationKind.ObjectCreation);
            compilationContext.RegisterOperationAction(
                operationContext =>
                {
                    var method = ((IInvocationOperation)operationContext.Operation).TargetMethod;
                    if (IsCreatingMethod(method) && rules.IsDataSource(method.ReturnType))
                    {
                        Analyze(operationContext, method.ContainingType.Name + "." + method.Name + "()");
                    }
                },
                OperationKind.Invocation);
        });
    }

    /// <summary>
    /// Builders and factories by name, checked before the return type: <c>Build</c>, <c>BuildMultiHost</c>,
    /// a static <c>Create</c>, <c>DbProviderFactory.CreateDataSource</c>.
    /// </summary>
    private static bool IsCreatingMethod(IMethodSymbol method)
    {
        if (method.ReturnsVoid)
        {
            return false;
        }

        var name = method.Name;
        return name.StartsWith("Build", System.StringComparison.Ordinal)
            || name == "CreateDataSource"
            || method.IsStatic && name == "Create";
    }

    private static void Analyze(OperationAnalysisContext context, string subject)
    {
        var creation = context.Operation;
        if (IsKept(creation, context.ContainingSymbol) || LifetimePlaces.IsStartupCode(creation, context.ContainingSymbol))
        {
            return;
        }

        context.ReportDiagnostic(Diagnostic.Create(Descriptors.DataSourcePerCall, creation.Syntax.GetLocation(), subject));
    }

    /// <summary>Does the created data source outlive the call: stored, returned or handed on?</summary>
    private static bool IsKept(IOperation creation, ISymbol containingSymbol)
    {
        var consumer = ValueFlow.Consumer(creation, out var value);
        switch (consumer)
        {
            case IVariableInitializerOperation { Parent: IVariableDeclaratorOperation declarator }:
                return !IsUsingDeclarator(declarator) && IsLocalKept(declarator.Symbol, ValueFlow.Root(creation), containingSymbol);
            case IAssignmentOperation assignment when ReferenceEquals(assignment.Value, value):
                return assignment.Target switch
                {
                    ILocalReferenceOperation local => IsLocalKept(local.Local, ValueFlow.Root(creation), containingSymbol),
                    IDiscardOperation => false,
                    _ => true,
                };
            case IReturnOperation returned:
                return !IsPropertyGetterReturn(returned, containingSymbol);
            case IExpressionStatementOperation:
            case IUsingOperation:
            case IInvocationOperation:
            case IMemberReferenceOperation:
                // Discarded, disposed at once, or used inline: new MySqlDataSource(cs).OpenConnectionAsync().
                return false;
            default:
                // Arguments, initializers, tuples, collections: handed to something that may keep it.
                return true;
        }
    }

    private static bool IsUsingDeclarator(IVariableDeclaratorOperation declarator) =>
        declarator.Parent is IVariableDeclarationOperation { Parent: IVariableDeclarationGroupOperation group }
        && group.Parent is IUsingOperation or IUsingDeclarationOperation;

    /// <summary>Is a local holding the data source stored, returned or handed on anywhere in the body?</summary>
    private static bool IsLocalKept(ILocalSymbol local, IOperation root, ISymbol containingSymbol)
    {
        foreach (var operation in root.Descendants())
        {
            if (operation is not ILocalReferenceOperation reference || !SymbolEqualityComparer.Default.Equals(reference.Local, local))
            {
                continue;
            }

            var consumer = ValueFlow.Consumer(reference, out var value);
            switch (consumer)
            {
                case IAssignmentOperation assignment when ReferenceEquals(assignment.Value, value):
                    if (assignment.Target is not IDiscardOperation)
                    {
                        return true;
                    }

                    break;
                case IReturnOperation returned:
                    if (!IsPropertyGetterReturn(returned, containingSymbol))
                    {
                        return true;
                    }

                    break;
                case IArgumentOperation:
                case IVariableInitializerOperation:
                case ITupleOperation:
                case IArrayInitializerOperation:
                case IAnonymousObjectCreationOperation:
                    return true;
            }
        }

        return false;
    }

    /// <summary>A property getter that returns a new data source builds one on every read.</summary>
    private static bool IsPropertyGetterReturn(IReturnOperation returned, ISymbol containingSymbol) =>
        containingSymbol is IMethodSymbol { MethodKind: MethodKind.PropertyGet } && LifetimePlaces.EnclosingFunction(returned) is null;
}
