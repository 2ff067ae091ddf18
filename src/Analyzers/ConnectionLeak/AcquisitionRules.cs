// What counts as acquiring and releasing a connection in one compilation: the well-known types (DbConnection,
// DbDataSource, readers, tasks), how a call is classified (returned, opened, into an argument), what a resource, a
// connection or a pool is, and the names of the methods that carry the acquisition attribute.
using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>How an acquisition hands out its resource.</summary>
internal enum AcquisitionKind
{
    /// <summary>The call's value (awaited when it is a task) is the resource: <c>GetConnection</c>, <c>OpenConnection</c>.</summary>
    Returned,

    /// <summary>The receiver becomes the resource: <c>conn.Open()</c>, <c>conn.OpenAsync()</c>.</summary>
    Opened,

    /// <summary>An <c>out</c> or <c>ref</c> argument receives the resource: <c>TryCheckout(out var lease)</c>, <c>Setup(ref conn)</c>.</summary>
    IntoArgument,
}

/// <summary>
/// What counts as acquiring and releasing a connection in one compilation: the well-known types,
/// the acquisition attribute, and the method names configured in <c>.editorconfig</c>.
/// </summary>
internal sealed class AcquisitionRules
{
    public const string AcquireMethodsKey = "tenantdbguard.acquire_methods";
    public const string ReleaseMethodsKey = "tenantdbguard.release_methods";
    public const string AcquisitionAttributeName = "TenantDbGuard.AcquiresConnectionAttribute";

    internal static readonly ImmutableHashSet<string> BuiltInAcquireNames = ImmutableHashSet.Create(
        StringComparer.Ordinal,
        "GetConnection",
        "GetConnectionAsync",
        "OpenConnection",
        "OpenConnectionAsync",
        "Open",
        "OpenAsync",
        "ExecuteReader",
        "ExecuteReaderAsync");

    internal static readonly ImmutableHashSet<string> BuiltInReleaseNames = ImmutableHashSet.Create(
        StringComparer.Ordinal,
        "Dispose",
        "DisposeAsync",
        "Close",
        "CloseAsync",
        "Release");

    private readonly INamedTypeSymbol? _disposable;
    private readonly INamedTypeSymbol? _asyncDisposable;
    private readonly INamedTypeSymbol? _dbDataSource;
    private readonly INamedTypeSymbol? _dbConnection;
    private readonly INamedTypeSymbol? _idbConnection;
    private readonly INamedTypeSymbol? _task;
    private readonly INamedTypeSymbol? _valueTask;
    private readonly INamedTypeSymbol? _acquisitionAttribute;
    private readonly Lazy<ImmutableHashSet<string>> _attributedMethodNames;
    private readonly ConcurrentDictionary<(string Acquire, string Release), NameConfiguration> _configurations = new();

    private readonly IAssemblySymbol _assembly;

    private AcquisitionRules(Compilation compilation)
    {
        _assembly = compilation.Assembly;
        _disposable = compilation.GetSpecialType(SpecialType.System_IDisposable);
        _asyncDisposable = compilation.GetTypeByMetadataName("System.IAsyncDisposable");
        _dbDataSource = compilation.GetTypeByMetadataName("System.Data.Common.DbDataSource");
        _dbConnection = compilation.GetTypeByMetadataName("System.Data.Common.DbConnection");
        _idbConnection = compilation.GetTypeByMetadataName("System.Data.IDbConnection");
        _task = compilation.GetTypeByMetadataName("System.Threading.Tasks.Task`1");
        _valueTask = compilation.GetTypeByMetadataName("System.Threading.Tasks.ValueTask`1");
        ConnectionState = compilation.GetTypeByMetadataName("System.Data.ConnectionState");
        _acquisitionAttribute = compilation.GetTypeByMetadataName(AcquisitionAttributeName);
        _attributedMethodNames = new Lazy<ImmutableHashSet<string>>(() => CollectAttributedMethodNames(compilation));
        Collections = new CollectionHandOffs(compilation);
    }

    /// <summary>The collection types whose storing methods take a connection over.</summary>
    public CollectionHandOffs Collections { get; }

    /// <summary>The methods that never return (<c>[DoesNotReturn]</c>, <c>Environment.FailFast</c>), read once
    /// each.</summary>
    public NoReturnCalls NoReturn { get; } = new();

    /// <summary><c>System.Data.ConnectionState</c>, for the "proven not open" check.</summary>
    public INamedTypeSymbol? ConnectionState { get; }

    public static AcquisitionRules Create(Compilation compilation) => new(compilation);

    /// <summary>The built-in and attributed names, without any <c>.editorconfig</c> entry.</summary>
    public NameConfiguration DefaultNames => _configurations.GetOrAdd((string.Empty, string.Empty), key => new NameConfiguration(key.Acquire, key.Release, _attributedMethodNames.Value));

    /// <summary>The names in effect for one syntax tree, from its <c>.editorconfig</c>.</summary>
    public NameConfiguration GetNames(AnalyzerConfigOptions options)
    {
        options.TryGetValue(AcquireMethodsKey, out var acquire);
        options.TryGetValue(ReleaseMethodsKey, out var release);
        return _configurations.GetOrAdd((acquire ?? string.Empty, release ?? string.Empty), key => new NameConfiguration(key.Acquire, key.Release, _attributedMethodNames.Value));
    }

    /// <summary>Classifies a call: is it an acquisition, and of which kind?</summary>
    public AcquisitionKind? Classify(IInvocationOperation invocation, NameConfiguration names)
    {
        var method = invocation.TargetMethod;
        var name = method.Name;
        if (!names.AcquireNames.Contains(name))
        {
            return null;
        }

        switch (name)
        {
            case "GetConnection":
            case "GetConnectionAsync":
                // The name tells only for other assemblies: a method of this compilation is judged by its body (MethodSummaries).
                if (!IsInSource(method) && IsConnectionLike(UnwrapTask(method.ReturnType)))
                {
                    return AcquisitionKind.Returned;
                }

                break;
            case "OpenConnection":
            case "OpenConnectionAsync":
                if (!method.ReturnsVoid && DerivesFrom(method.ContainingType, _dbDataSource))
                {
                    return AcquisitionKind.Returned;
                }

                break;
            case "Open":
            case "OpenAsync":
                if (!method.IsStatic && invocation.Instance is not null && IsDbConnection(method.ContainingType))
                {
                    return AcquisitionKind.Opened;
                }

                break;
        }

        if (method.ReturnsVoid)
        {
            return null;
        }

        if (names.IsConfiguredAcquisition(method) || HasAcquisitionAttribute(method))
        {
            return AcquisitionKind.Returned;
        }

        return null;
    }

    /// <summary>Is <paramref name="method"/> declared in the compilation being analysed (so its body can be read)?</summary>
    public bool IsInSource(IMethodSymbol method) =>
        SymbolEqualityComparer.Default.Equals(method.ContainingAssembly, _assembly) && !method.DeclaringSyntaxReferences.IsEmpty;

    /// <summary>A resource that is a connection or a lease, not a pool: a data source or a type that hands out connections is never one.</summary>
    public bool IsConnectionLike(ITypeSymbol type) => IsResource(type) && !IsDataSource(type) && !IsPool(type);

    /// <summary>The type a call's value has once awaited: <c>T</c> for <c>Task&lt;T&gt;</c> and <c>ValueTask&lt;T&gt;</c>.</summary>
    public ITypeSymbol ValueType(ITypeSymbol type) => UnwrapTask(type);

    /// <summary>Does <paramref name="method"/> carry the acquisition attribute, on itself or on its return value?</summary>
    public bool HasAcquisitionAttribute(IMethodSymbol method)
    {
        if (_acquisitionAttribute is null)
        {
            return false;
        }

        var definition = method.OriginalDefinition;
        return HasAttribute(definition.GetAttributes()) || HasAttribute(definition.GetReturnTypeAttributes());

        bool HasAttribute(ImmutableArray<AttributeData> attributes)
        {
            foreach (var attribute in attributes)
            {
                if (SymbolEqualityComparer.Default.Equals(attribute.AttributeClass, _acquisitionAttribute))
                {
                    return true;
                }
            }

            return false;
        }
    }

    private ITypeSymbol UnwrapTask(ITypeSymbol type)
    {
        if (type is INamedTypeSymbol { IsGenericType: true, TypeArguments.Length: 1 } named)
        {
            var definition = named.OriginalDefinition;
            if (SymbolEqualityComparer.Default.Equals(definition, _task) || SymbolEqualityComparer.Default.Equals(definition, _valueTask))
            {
                return named.TypeArguments[0];
            }
        }

        return type;
    }

    /// <summary>Is <paramref name="type"/> released by Dispose/DisposeAsync or a public parameterless <c>Release()</c>?</summary>
    public bool IsResource(ITypeSymbol type)
    {
        if (type.SpecialType == SpecialType.System_IDisposable || SymbolEqualityComparer.Default.Equals(type, _asyncDisposable))
        {
            return true;
        }

        foreach (var implemented in type.AllInterfaces)
        {
            if (SymbolEqualityComparer.Default.Equals(implemented, _disposable) || SymbolEqualityComparer.Default.Equals(implemented, _asyncDisposable))
            {
                return true;
            }
        }

        for (var current = type; current is not null; current = current.BaseType)
        {
            foreach (var member in current.GetMembers("Release"))
            {
                if (member is IMethodSymbol { IsStatic: false, Parameters.Length: 0, DeclaredAccessibility: Accessibility.Public })
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>Is <paramref name="type"/> a <c>DbConnection</c> or an <c>IDbConnection</c>: closed, it may be opened again.</summary>
    public bool IsDbConnection(INamedTypeSymbol? type)
    {
        if (type is null)
        {
            return false;
        }

        if (DerivesFrom(type, _dbConnection) || SymbolEqualityComparer.Default.Equals(type, _idbConnection))
        {
            return true;
        }

        return _idbConnection is not null && type.AllInterfaces.Contains(_idbConnection, SymbolEqualityComparer.Default);
    }

    /// <summary>Is <paramref name="type"/> <paramref name="baseType"/> or a class derived from it?</summary>
    internal static bool DerivesFrom(INamedTypeSymbol? type, INamedTypeSymbol? baseType)
    {
        if (baseType is null)
        {
            return false;
        }

        for (var current = type; current is not null; current = current.BaseType)
        {
            if (SymbolEqualityComparer.Default.Equals(current, baseType))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Is <paramref name="type"/> a data reader (<c>DbDataReader</c>, <c>IDataReader</c>)? Closing one closes only the connection it owns.</summary>
    public bool IsDataReader(INamedTypeSymbol? type)
    {
        for (var current = type; current is not null; current = current.BaseType)
        {
            if (current is { Name: "DbDataReader", ContainingNamespace.Name: "Common" })
            {
                return true;
            }
        }

        return type is not null && (type is { Name: "IDataReader", ContainingNamespace.Name: "Data" } || type.AllInterfaces.Any(i => i is { Name: "IDataReader", ContainingNamespace.Name: "Data" }));
    }

    /// <summary>Is <paramref name="type"/> a <c>DbDataSource</c> (so <c>MySqlDataSource</c>), which owns a connection pool?</summary>
    public bool IsDataSource(ITypeSymbol? type) => DerivesFrom(type as INamedTypeSymbol, _dbDataSource);

    /// <summary>Is <paramref name="type"/> a <c>DbConnection</c>, whose static <c>ClearPool</c>/<c>ClearAllPools</c> empty pools?</summary>
    public bool IsDbConnectionType(ITypeSymbol? type) => DerivesFrom(type as INamedTypeSymbol, _dbConnection);

    /// <summary>
    /// Is <paramref name="type"/> a pool as TDG001 sees one: a type with an instance <c>GetConnection</c> or
    /// <c>GetConnectionAsync</c> whose value is a connection (the same test as <see cref="Classify"/>)?
    /// </summary>
    public bool IsPool(ITypeSymbol? type)
    {
        if (type is null)
        {
            return false;
        }

        for (var current = type; current is not null; current = current.BaseType)
        {
            if (HasConnectionGetter(current))
            {
                return true;
            }
        }

        if (type.TypeKind == TypeKind.Interface)
        {
            foreach (var inherited in type.AllInterfaces)
            {
                if (HasConnectionGetter(inherited))
                {
                    return true;
                }
            }
        }

        return false;

        bool HasConnectionGetter(ITypeSymbol candidate) =>
            HasConnectionMethod(candidate, "GetConnectionAsync") || HasConnectionMethod(candidate, "GetConnection");

        bool HasConnectionMethod(ITypeSymbol candidate, string name)
        {
            foreach (var member in candidate.GetMembers(name))
            {
                if (member is IMethodSymbol { IsStatic: false, ReturnsVoid: false } method && IsResource(UnwrapTask(method.ReturnType)))
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>
    /// The names of methods that carry the acquisition attribute, in this compilation and in the assemblies
    /// that can see the attribute, so that the syntax pre-filter lets calls to them through.
    /// </summary>
    private ImmutableHashSet<string> CollectAttributedMethodNames(Compilation compilation)
    {
        if (_acquisitionAttribute is null)
        {
            return ImmutableHashSet<string>.Empty;
        }

        var attributeAssembly = _acquisitionAttribute.ContainingAssembly;
        var names = ImmutableHashSet.CreateBuilder<string>(StringComparer.Ordinal);
        var assemblies = new List<IAssemblySymbol> { compilation.Assembly };
        foreach (var referenced in compilation.SourceModule.ReferencedAssemblySymbols)
        {
            if (SymbolEqualityComparer.Default.Equals(referenced, attributeAssembly)
                || referenced.Modules.Any(module => module.ReferencedAssemblies.Any(identity => identity.Name == attributeAssembly.Name)))
            {
                assemblies.Add(referenced);
            }
        }

        var stack = new Stack<INamespaceOrTypeSymbol>();
        foreach (var assembly in assemblies)
        {
            stack.Push(assembly.GlobalNamespace);
            while (stack.Count > 0)
            {
                var current = stack.Pop();
                foreach (var member in current.GetMembers())
                {
                    switch (member)
                    {
                        case INamespaceOrTypeSymbol container:
                            stack.Push(container);
                            break;
                        case IMethodSymbol method when HasAcquisitionAttribute(method):
                            names.Add(method.Name);
                            break;
                    }
                }
            }
        }

        return names.ToImmutable();
    }
}
