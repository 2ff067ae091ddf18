using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;
using TenantDbGuard.Analyzers.ConnectionLeak;

namespace TenantDbGuard.Analyzers;

/// <summary>
/// TDG005: a type that acquires a connection into one of its fields (from an acquisition, a helper of the compilation
/// that returns one, or <c>Open</c> on the field) owns it, and must release it on every path of its <c>Dispose</c> /
/// <c>DisposeAsync</c>; a type that owns one and is not disposable at all is reported too.
/// </summary>
/// <remarks>
/// The fields are found per type (symbol start and end), from the stores and opens in its members; each owner's
/// Dispose methods are then walked by the same path-sensitive analysis as TDG001, the field holding the connection
/// (see <see cref="OwnerWalk"/>). Like CA2213 and IDISP006, but exceptional paths and conditions count.
/// </remarks>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class ConnectionOwnerAnalyzer : DiagnosticAnalyzer
{
    /// <inheritdoc />
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } = ImmutableArray.Create(Descriptors.OwnerDoesNotRelease);

    /// <inheritdoc />
    public override void Initialize(AnalysisContext context)
    {
        context.EnableConcurrentExecution();
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.RegisterCompilationStartAction(static compilationContext =>
        {
            var rules = AcquisitionRules.Create(compilationContext.Compilation);
            var summaries = new MethodSummaries(compilationContext.Compilation, rules, compilationContext.Options.AnalyzerConfigOptionsProvider);
            compilationContext.RegisterSymbolStartAction(
                symbolContext =>
                {
                    if (symbolContext.Symbol is not INamedTypeSymbol { TypeKind: TypeKind.Class or TypeKind.Struct, IsStatic: false } type)
                    {
                        return;
                    }

                    var owned = new ConcurrentDictionary<ISymbol, OwnedMember>(SymbolEqualityComparer.Default);
                    symbolContext.RegisterOperationAction(
                        operationContext => CollectOwnedField(operationContext, type, rules, summaries, owned),
                        OperationKind.SimpleAssignment,
                        OperationKind.CoalesceAssignment,
                        OperationKind.Invocation,
                        OperationKind.FieldInitializer,
                        OperationKind.PropertyInitializer);
                    symbolContext.RegisterSymbolEndAction(endContext => CheckOwner(endContext, type, owned, rules, summaries));
                },
                SymbolKind.NamedType);
        });
    }

    private static void CollectOwnedField(OperationAnalysisContext context, INamedTypeSymbol type, AcquisitionRules rules, MethodSummaries summaries, ConcurrentDictionary<ISymbol, OwnedMember> owned)
    {
        var names = rules.GetNames(context.Options.AnalyzerConfigOptionsProvider.GetOptions(context.Operation.Syntax.SyntaxTree));
        switch (context.Operation)
        {
            case IAssignmentOperation assignment
                when OwnMember(assignment.Target, type) is { } member && IsAcquisition(assignment.Value, rules, names, summaries, context.CancellationToken):
                owned.GetOrAdd(member, _ => new OwnedMember()).Stored();
                break;
            case ISymbolInitializerOperation initializer when IsAcquisition(initializer.Value, rules, names, summaries, context.CancellationToken):
                // 'private readonly MySqlConnection _connection = dataSource.OpenConnection();' stores it in every instance.
                foreach (var member in InitializedMembers(initializer, type))
                {
                    owned.GetOrAdd(member, _ => new OwnedMember()).Stored();
                }

                break;
            case IInvocationOperation invocation
                when rules.Classify(invocation, names) == AcquisitionKind.Opened && OwnMember(invocation.Instance, type) is { } opened:
                owned.GetOrAdd(opened, _ => new OwnedMember()).Opened();
                break;
            case IInvocationOperation invocation when rules.Collections.Stores(invocation.TargetMethod):
                // '_owned.Add(_connection)': a collection takes the member along (a list of things the Dispose releases, say);
                // which of them releases it is not followed.
                foreach (var argument in invocation.Arguments)
                {
                    if (OwnMember(argument.Value, type) is { } stored)
                    {
                        owned.GetOrAdd(stored, _ => new OwnedMember()).HandedToCollection();
                    }
                }

                break;
        }
    }

    /// <summary>The instance fields and auto-properties of <paramref name="type"/> that an initializer sets.</summary>
    private static IEnumerable<ISymbol> InitializedMembers(ISymbolInitializerOperation initializer, INamedTypeSymbol type)
    {
        IEnumerable<ISymbol> members = initializer switch
        {
            IFieldInitializerOperation field => field.InitializedFields.Where(f => !f.IsStatic && !f.IsImplicitlyDeclared),
            IPropertyInitializerOperation property => property.InitializedProperties.Where(p => !p.IsStatic && OwnerWalk.IsAutoProperty(p)),
            _ => Enumerable.Empty<ISymbol>(),
        };
        return members.Where(m => SymbolEqualityComparer.Default.Equals(m.ContainingType, type));
    }

    /// <summary>The field or auto-property of <c>this</c> that <paramref name="operation"/> refers to, when it is one of <paramref name="type"/>'s own.</summary>
    private static ISymbol? OwnMember(IOperation? operation, INamedTypeSymbol type)
    {
        ISymbol? member = TrackedVariables.Unwrap(operation) switch
        {
            IFieldReferenceOperation { Instance: IInstanceReferenceOperation, Field: { IsStatic: false, IsImplicitlyDeclared: false } field } => field,
            IPropertyReferenceOperation { Instance: IInstanceReferenceOperation, Property: var property } when OwnerWalk.IsAutoProperty(property) => property,
            // C# 14's 'field' in an accessor ('Connection => field ??= ...'): the property's own storage, owned like an auto-property's.
            IFieldReferenceOperation { Instance: IInstanceReferenceOperation, Field: { IsStatic: false, IsImplicitlyDeclared: true, AssociatedSymbol: IPropertySymbol backed } }
                when OwnerWalk.IsAutoProperty(backed) => backed,
            _ => null,
        };
        return member is not null && SymbolEqualityComparer.Default.Equals(member.ContainingType, type) ? member : null;
    }

    /// <summary>Is <paramref name="value"/> a fresh acquisition (directly, awaited, through a local, or wrapped by an owner)?</summary>
    private static bool IsAcquisition(IOperation value, AcquisitionRules rules, NameConfiguration names, MethodSummaries summaries, CancellationToken cancellationToken)
    {
        var current = TrackedVariables.Unwrap(value);
        while (true)
        {
            switch (current)
            {
                case IAwaitOperation awaited:
                    current = TrackedVariables.Unwrap(awaited.Operation);
                    continue;
                case IInvocationOperation { TargetMethod.Name: "ConfigureAwait" or "AsTask" } passThrough when passThrough.Instance is not null:
                    current = TrackedVariables.Unwrap(passThrough.Instance);
                    continue;
                case IInvocationOperation invocation:
                    return rules.Classify(invocation, names) == AcquisitionKind.Returned
                        || rules.IsInSource(invocation.TargetMethod) && summaries.Of(invocation.TargetMethod, cancellationToken).ReturnsAcquisition;
                case IObjectCreationOperation creation:
                    return HandOffRules.IsOwningWrapper(creation.Type, names)
                        && creation.Arguments.Any(argument => IsAcquisition(argument.Value, rules, names, summaries, cancellationToken));
                case ILocalReferenceOperation local:
                    return AssignedValues(local).Any(assigned => assigned is not ILocalReferenceOperation && IsAcquisition(assigned, rules, names, summaries, cancellationToken));
                default:
                    return false;
            }
        }
    }

    /// <summary>The values the local is initialized or assigned with in the body <paramref name="reference"/> is in.</summary>
    private static IEnumerable<IOperation> AssignedValues(ILocalReferenceOperation reference)
    {
        var root = (IOperation)reference;
        while (root.Parent is not null)
        {
            root = root.Parent;
        }

        foreach (var node in root.DescendantsAndSelf())
        {
            switch (node)
            {
                case IVariableDeclaratorOperation { Initializer: { } initializer } declarator when SymbolEqualityComparer.Default.Equals(declarator.Symbol, reference.Local):
                    yield return initializer.Value;
                    break;
                case ISimpleAssignmentOperation { Target: ILocalReferenceOperation target } assignment when SymbolEqualityComparer.Default.Equals(target.Local, reference.Local):
                    yield return assignment.Value;
                    break;
            }
        }
    }

    private static void CheckOwner(SymbolAnalysisContext context, INamedTypeSymbol type, ConcurrentDictionary<ISymbol, OwnedMember> members, AcquisitionRules rules, MethodSummaries summaries)
    {
        var owned = members.Keys.OrderBy(m => m.Name, System.StringComparer.Ordinal).ToList();
        if (owned.Count == 0)
        {
            return;
        }

        var entries = ReleaseEntryPoints(type, rules, context.CancellationToken);
        foreach (var member in owned)
        {
            var identifier = member.DeclaringSyntaxReferences.FirstOrDefault()?.GetSyntax(context.CancellationToken) switch
            {
                VariableDeclaratorSyntax declarator => declarator.Identifier,
                PropertyDeclarationSyntax property => property.Identifier,
                _ => default,
            };
            if (identifier == default)
            {
                continue;
            }

            // Opened only for the length of a call: every open of the member (lambdas and local functions counted) is in a
            // method that closes it again on every path, and nothing stores a connection in it. Between calls it holds
            // none, and there is nothing for the type to release. The methods are walked only where the answer is used:
            // here, or below for a type that is not disposable.
            var usage = members[member];
            if (usage.InCollection)
            {
                // Released, or not, with the collection's elements: which of them is this member is not followed.
                continue;
            }

            var releasedByOwnMethods = entries.Count == 0 && !Disposable(type);
            var (closingOpeners, closedOpens) = usage.Stores == 0 || releasedByOwnMethods
                ? OwnerWalk.OpenersThatClose(type, member, rules, summaries, context.CancellationToken)
                : (new List<IMethodSymbol>(), 0);
            if (usage.Stores == 0 && closedOpens > 0 && closedOpens == usage.Opens)
            {
                continue;
            }

            // A type that is not disposable may still give the member back in a method of its own, which something else calls
            // ('CloseUpgradeConnection()', called by the scope it hands out): that method is the one to walk. One that
            // opens the member itself and closes it again is not such a method.
            var memberEntries = releasedByOwnMethods
                ? MethodsReleasing(type, member, rules, summaries, context.CancellationToken).Where(m => !closingOpeners.Contains(m, SymbolEqualityComparer.Default)).ToList()
                : entries;
            if (memberEntries.Count == 0 && !Disposable(type) && LambdaReleases(type, member, context.CancellationToken))
            {
                // Released by a callback the type hands out ('return new DelegateDisposable(() => _connection.Dispose())').
                continue;
            }

            var (problem, kind, entry) = memberEntries.Count == 0
                ? (Disposable(type) ? "its Dispose, which it inherits, cannot release it" : "is not disposable, so nothing can release it",
                    Disposable(type) ? ConnectionOwnerProperties.InheritedDispose : ConnectionOwnerProperties.NotDisposable,
                    null)
                : WhyNotReleased(member, memberEntries, summaries, context.CancellationToken);
            if (problem is null && OwnerWalk.ConstructorLeak(type, member, rules, summaries, context.CancellationToken) is { } line)
            {
                (problem, kind) = ($"its constructor does not release it if an exception is thrown at line {line}", ConnectionOwnerProperties.Constructor);
            }

            if (problem is not null)
            {
                var properties = ImmutableDictionary<string, string?>.Empty
                    .Add(ConnectionOwnerProperties.Problem, kind)
                    .Add(ConnectionOwnerProperties.Method, entry?.Name);
                context.ReportDiagnostic(Diagnostic.Create(Descriptors.OwnerDoesNotRelease, identifier.GetLocation(), properties, type.Name, member.Name, problem));
            }
        }
    }

    /// <summary>
    /// The methods that must release: Dispose, DisposeAsync (or Dispose(bool)/DisposeAsyncCore the type overrides, or the
    /// hooks an inherited Dispose calls that it overrides), else Close/Release.
    /// </summary>
    private static List<IMethodSymbol> ReleaseEntryPoints(INamedTypeSymbol type, AcquisitionRules rules, CancellationToken cancellationToken)
    {
        var entries = new List<IMethodSymbol>();
        foreach (var member in type.GetMembers())
        {
            if (member is IMethodSymbol { IsStatic: false, IsAbstract: false, MethodKind: MethodKind.Ordinary or MethodKind.ExplicitInterfaceImplementation } method
                && rules.IsInSource(method)
                && (method.Name.EndsWith("Dispose", System.StringComparison.Ordinal) || method.Name.EndsWith("DisposeAsync", System.StringComparison.Ordinal))
                && method.Parameters.Length == 0)
            {
                entries.Add(PartialParts.WithBody(method));
            }
        }

        if (entries.Count == 0)
        {
            foreach (var member in type.GetMembers())
            {
                if (member is IMethodSymbol { IsStatic: false, IsAbstract: false, MethodKind: MethodKind.Ordinary, Parameters.Length: 0 } method && rules.IsInSource(method)
                    && (method.Name is "DisposeAsyncCore" || method.Name == "Dispose" || !Disposable(type) && method.Name is "Close" or "CloseAsync" or "Release"))
                {
                    entries.Add(PartialParts.WithBody(method));
                }

                if (member is IMethodSymbol { Name: "Dispose", IsOverride: true, Parameters.Length: 1 } disposing && disposing.Parameters[0].Type.SpecialType == SpecialType.System_Boolean && rules.IsInSource(disposing))
                {
                    entries.Add(PartialParts.WithBody(disposing));
                }
            }
        }

        if (entries.Count == 0 && Disposable(type))
        {
            entries.AddRange(HooksOfInheritedDispose(type, rules, cancellationToken));
        }

        return entries;
    }

    /// <summary>
    /// The overrides in <paramref name="type"/> of the virtual or abstract methods that a Dispose or DisposeAsync of a base
    /// type of the code calls on the object itself (<c>public void Dispose() { ReleaseResources(); }</c> with
    /// <c>protected abstract void ReleaseResources();</c>): the inherited Dispose runs them, so they are where the type
    /// releases what it owns. A method the inherited Dispose does not call is not one.
    /// </summary>
    private static IEnumerable<IMethodSymbol> HooksOfInheritedDispose(INamedTypeSymbol type, AcquisitionRules rules, CancellationToken cancellationToken)
    {
        var called = new HashSet<string>(System.StringComparer.Ordinal);
        for (var baseType = type.BaseType; baseType is not null; baseType = baseType.BaseType)
        {
            foreach (var member in baseType.GetMembers())
            {
                if (member is not IMethodSymbol { IsStatic: false, IsAbstract: false, MethodKind: MethodKind.Ordinary or MethodKind.ExplicitInterfaceImplementation } method
                    || !rules.IsInSource(method)
                    || !(method.Name.EndsWith("Dispose", System.StringComparison.Ordinal) || method.Name.EndsWith("DisposeAsync", System.StringComparison.Ordinal))
                    || method.Parameters.Length != 0)
                {
                    continue;
                }

                foreach (var reference in PartialParts.WithBody(method).DeclaringSyntaxReferences)
                {
                    foreach (var invocation in reference.GetSyntax(cancellationToken).DescendantNodes(node => node is not AnonymousFunctionExpressionSyntax).OfType<InvocationExpressionSyntax>())
                    {
                        switch (invocation.Expression)
                        {
                            case IdentifierNameSyntax { Identifier.ValueText: var name }:
                                called.Add(name);
                                break;
                            case MemberAccessExpressionSyntax { Expression: ThisExpressionSyntax, Name.Identifier.ValueText: var name }:
                                called.Add(name);
                                break;
                        }
                    }
                }
            }
        }

        foreach (var member in type.GetMembers())
        {
            if (member is IMethodSymbol { IsOverride: true, IsStatic: false, IsAbstract: false, MethodKind: MethodKind.Ordinary, Parameters.Length: 0 } hook
                && called.Contains(hook.Name)
                && rules.IsInSource(hook)
                && OverridesSourceMethod(hook, rules))
            {
                yield return PartialParts.WithBody(hook);
            }
        }
    }

    private static bool OverridesSourceMethod(IMethodSymbol method, AcquisitionRules rules)
    {
        for (var overridden = method.OverriddenMethod; overridden is not null; overridden = overridden.OverriddenMethod)
        {
            if (overridden.IsAbstract || overridden.IsVirtual)
            {
                return rules.IsInSource(overridden) || overridden.IsAbstract;
            }
        }

        return false;
    }

    /// <summary>
    /// The instance methods of <paramref name="type"/> that release <paramref name="member"/>, as the walk of a Dispose
    /// method understands a release: a call of a release on the member itself, or, in a method that names the member,
    /// one that the walk follows to a release on some path (through a copy in a local,
    /// <c>Interlocked.Exchange(ref _connection, null)</c>, a pattern variable). Whether every path of such a method
    /// releases it is told afterwards, by the same walk.
    /// </summary>
    private static List<IMethodSymbol> MethodsReleasing(INamedTypeSymbol type, ISymbol member, AcquisitionRules rules, MethodSummaries summaries, CancellationToken cancellationToken)
    {
        var methods = new List<IMethodSymbol>();
        foreach (var candidate in type.GetMembers())
        {
            if (candidate is not IMethodSymbol { IsStatic: false, IsAbstract: false, MethodKind: MethodKind.Ordinary } method || !rules.IsInSource(method)
                || !method.Parameters.All(IsCancellationToken))
            {
                continue;
            }

            var body = PartialParts.WithBody(method).DeclaringSyntaxReferences[0].GetSyntax(cancellationToken);
            var nodes = body.DescendantNodes(node => node is not AnonymousFunctionExpressionSyntax);
            if (nodes.Any(node => ConstructorReading.IsReleaseOf(node, member.Name))
                || (nodes.Any(node => node is IdentifierNameSyntax { Identifier.ValueText: var name } && name == member.Name)
                    && OwnerWalk.ReleasesOnSomePath(PartialParts.WithBody(method), member, summaries, cancellationToken)))
            {
                methods.Add(method);
            }
        }

        return methods;
    }

    /// <summary>
    /// A <c>CancellationToken</c> parameter: a method that takes nothing else (<c>StopAsync(CancellationToken)</c> of a hosted
    /// service, <c>CloseAsync(CancellationToken)</c>) can be called by whoever ends the object's life, as one without parameters can.
    /// </summary>
    private static bool IsCancellationToken(IParameterSymbol parameter) =>
        parameter.Type is { Name: "CancellationToken", ContainingNamespace: { Name: "Threading", ContainingNamespace.Name: "System" } };

    /// <summary>Does a lambda or anonymous method declared in <paramref name="type"/> release <paramref name="member"/>?</summary>
    private static bool LambdaReleases(INamedTypeSymbol type, ISymbol member, CancellationToken cancellationToken)
    {
        foreach (var reference in type.DeclaringSyntaxReferences)
        {
            foreach (var lambda in reference.GetSyntax(cancellationToken).DescendantNodes().OfType<AnonymousFunctionExpressionSyntax>())
            {
                if (lambda.DescendantNodes().Any(node => ConstructorReading.IsReleaseOf(node, member.Name)))
                {
                    return true;
                }
            }
        }

        return false;
    }

    private static bool Disposable(INamedTypeSymbol type) =>
        type.AllInterfaces.Any(i => i is { Name: "IDisposable" or "IAsyncDisposable", ContainingNamespace.Name: "System" });

    /// <summary>The first path, over the release methods, on which the member is not released, and the method; nulls when every path releases it.</summary>
    private static (string? Problem, string? Kind, IMethodSymbol? Entry) WhyNotReleased(ISymbol member, List<IMethodSymbol> entries, MethodSummaries summaries, CancellationToken cancellationToken)
    {
        foreach (var entry in entries)
        {
            if (summaries.GraphOf(entry, cancellationToken) is not var (graph, names))
            {
                continue;
            }

            Dictionary<IParameterSymbol, bool>? known = null;
            if (entry.Parameters.Length == 1 && entry.Parameters[0].Type.SpecialType == SpecialType.System_Boolean)
            {
                // Dispose(bool disposing) as Dispose() calls it.
                known = new Dictionary<IParameterSymbol, bool>(SymbolEqualityComparer.Default) { [entry.Parameters[0]] = true };
            }

            var context = new FlowContext(summaries.Rules, names, summaries, cancellationToken);
            var observations = OwnerWalk.Run(graph, member, context, known);
            if (observations is null || observations.Leaks.Count == 0)
            {
                continue;
            }

            var leak = observations.Leaks.OrderBy(l => l.Reason).ThenBy(l => l.At?.SpanStart ?? int.MaxValue).First();
            var line = (leak.At ?? graph.OriginalOperation.Syntax).GetLocation().GetLineSpan().StartLinePosition.Line + 1;
            var problem = leak.Reason switch
            {
                LeakReason.ExceptionThrown => $"{entry.Name} does not release it if an exception is thrown at line {line}",
                LeakReason.Overwritten => $"{entry.Name} overwrites it at line {line} without releasing it",
                _ => $"{entry.Name} does not release it on the path that leaves at line {line}",
            };
            return (problem, ConnectionOwnerProperties.ReleaseMethod, entry);
        }

        return (null, null, null);
    }

    /// <summary>What the type's code does with one of its members: stores acquisitions in it, opens it, puts it in a collection.</summary>
    private sealed class OwnedMember
    {
        private int _stores;
        private int _opens;
        private int _inCollection;

        public int Stores => Volatile.Read(ref _stores);

        public int Opens => Volatile.Read(ref _opens);

        public void Stored() => Interlocked.Increment(ref _stores);

        public void Opened() => Interlocked.Increment(ref _opens);

        /// <summary>Whether the type's code puts the member in a collection, which may release it as well.</summary>
        public bool InCollection => Volatile.Read(ref _inCollection) != 0;

        public void HandedToCollection() => Interlocked.Exchange(ref _inCollection, 1);
    }
}
