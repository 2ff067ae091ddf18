// Hand-offs into collections, by symbol: a connection passed to a method counts as stored only when the method is one
// of the storing methods of a collection type (the framework's collection interfaces, the concurrent collections,
// a channel writer, a ConditionalWeakTable). A method that merely has such a name ('audit.Set("last", conn)',
// 'Console.Out.Write(conn)') takes nothing over. docs/rules/TDG001.md lists the same set.
using System.Collections.Generic;
using System.Collections.Immutable;
using Microsoft.CodeAnalysis;

namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>The collection types of one compilation and the methods that store an argument in them.</summary>
internal sealed class CollectionHandOffs
{
    /// <summary>The methods that store their argument: on a collection type (or one implementing these interfaces) only.</summary>
    private static readonly ImmutableHashSet<string> StoringMethods = ImmutableHashSet.Create(
        "Add", "AddFirst", "AddLast", "AddOrUpdate", "AddRange", "GetOrAdd", "Insert", "Enqueue", "Push", "TryAdd", "TryUpdate", "TryWrite", "WriteAsync");

    // Interfaces whose implementers are collections, and classes (with their subclasses) that are collections
    // without implementing one of them.
    private readonly List<INamedTypeSymbol> _interfaces = new();
    private readonly List<INamedTypeSymbol> _classes = new();

    public CollectionHandOffs(Compilation compilation)
    {
        Add(_interfaces, compilation, "System.Collections.Generic.ICollection`1");
        Add(_interfaces, compilation, "System.Collections.Generic.IDictionary`2");
        Add(_interfaces, compilation, "System.Collections.ICollection");
        Add(_interfaces, compilation, "System.Collections.Concurrent.IProducerConsumerCollection`1");
        Add(_classes, compilation, "System.Collections.Generic.PriorityQueue`2");
        Add(_classes, compilation, "System.Threading.Channels.ChannelWriter`1");
        Add(_classes, compilation, "System.Runtime.CompilerServices.ConditionalWeakTable`2");
    }

    /// <summary>Does a call of <paramref name="method"/> store the resource passed to it in a collection?</summary>
    public bool Stores(IMethodSymbol method)
    {
        if (!StoringMethods.Contains(method.Name))
        {
            return false;
        }

        // 'dictionary.TryAdd(key, conn)' as an extension (CollectionExtensions.TryAdd) is judged by the type it extends.
        var receiver = method.ReducedFrom is not null ? method.ReceiverType : method.IsStatic ? null : method.ContainingType;
        return receiver is not null && IsCollection(receiver);
    }

    /// <summary>Is <paramref name="type"/> a collection (or a type parameter constrained to one)?</summary>
    public bool IsCollection(ITypeSymbol type)
    {
        if (type is ITypeParameterSymbol parameter)
        {
            foreach (var constraint in parameter.ConstraintTypes)
            {
                if (IsCollection(constraint))
                {
                    return true;
                }
            }

            return false;
        }

        if (type.TypeKind == TypeKind.Interface && Contains(_interfaces, type))
        {
            return true;
        }

        foreach (var implemented in type.AllInterfaces)
        {
            if (Contains(_interfaces, implemented))
            {
                return true;
            }
        }

        for (var current = type as INamedTypeSymbol; current is not null; current = current.BaseType)
        {
            if (Contains(_classes, current))
            {
                return true;
            }
        }

        return false;
    }

    private static bool Contains(List<INamedTypeSymbol> types, ITypeSymbol type)
    {
        foreach (var known in types)
        {
            if (SymbolEqualityComparer.Default.Equals(known, type.OriginalDefinition))
            {
                return true;
            }
        }

        return false;
    }

    private static void Add(List<INamedTypeSymbol> types, Compilation compilation, string metadataName)
    {
        if (compilation.GetTypeByMetadataName(metadataName) is { } type)
        {
            types.Add(type);
        }
    }
}
