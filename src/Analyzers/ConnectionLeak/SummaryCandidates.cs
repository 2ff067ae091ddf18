// The cheap first step of the summaries: which of the compilation's methods could acquire for their callers at all.
// A method qualifies when its shape allows it (it returns a connection-like type, has an out/ref parameter of one, or
// is an iterator) and its body calls an acquisition or another qualifying method, or reads a qualifying property
// ('PooledConnection Take() => Lease;'). Only syntax and declarations are read; the flow analysis runs later, and only
// for the methods a caller really calls.
using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>Finds the names of the methods worth a summary.</summary>
internal static class SummaryCandidates
{
    /// <summary>The names of enumerator calls, let through when some iterator of the compilation may hold a connection.</summary>
    public static readonly ImmutableArray<string> EnumeratorNames = ImmutableArray.Create("GetEnumerator", "GetAsyncEnumerator");

    public static ImmutableHashSet<string> Find(Compilation compilation, AcquisitionRules rules)
    {
        var shaped = new List<(string Name, HashSet<string> Calls, HashSet<string> Reads, bool Iterator)>();
        var stack = new Stack<INamespaceOrTypeSymbol>();
        stack.Push(compilation.Assembly.GlobalNamespace);
        while (stack.Count > 0)
        {
            foreach (var member in stack.Pop().GetMembers())
            {
                switch (member)
                {
                    case INamespaceOrTypeSymbol container:
                        stack.Push(container);
                        break;
                    case IMethodSymbol { MethodKind: MethodKind.Ordinary or MethodKind.PropertyGet, IsAbstract: false } method when HasAcquiringShape(method, rules):
                        foreach (var reference in PartialParts.WithBody(method).DeclaringSyntaxReferences)
                        {
                            var calls = new HashSet<string>(StringComparer.Ordinal);
                            var reads = new HashSet<string>(StringComparer.Ordinal);
                            var iterator = false;
                            foreach (var node in reference.GetSyntax().DescendantNodes())
                            {
                                if (node is InvocationExpressionSyntax invocation && InvokedName(invocation.Expression) is { } name)
                                {
                                    calls.Add(name);
                                }
                                else if (node is IdentifierNameSyntax identifier)
                                {
                                    // Every name the body reads: those of properties whose getters acquire are
                                    // looked for below.
                                    reads.Add(identifier.Identifier.ValueText);
                                }
                                else if (node is YieldStatementSyntax)
                                {
                                    iterator = true;
                                }
                            }

                            shaped.Add((method.Name, calls, reads, iterator));
                        }

                        break;
                }
            }
        }

        var acquiring = new HashSet<string>(StringComparer.Ordinal);
        var builtInNames = rules.DefaultNames.AcquireNames;
        var known = new HashSet<string>(builtInNames, StringComparer.Ordinal);
        var knownProperties = new HashSet<string>(StringComparer.Ordinal);
        var anyIterator = false;
        bool changed;
        do
        {
            changed = false;
            foreach (var (name, calls, reads, iterator) in shaped)
            {
                // A method named like an acquisition (a pool's own GetConnection) is read even when it only builds or dequeues.
                if (!acquiring.Contains(name) && (calls.Overlaps(known) || knownProperties.Count > 0 && reads.Overlaps(knownProperties) || builtInNames.Contains(name)))
                {
                    acquiring.Add(name);
                    known.Add(name);
                    if (name.StartsWith("get_", StringComparison.Ordinal) && name.Length > 4)
                    {
                        knownProperties.Add(name.Substring(4));
                    }

                    anyIterator |= iterator;
                    changed = true;
                }
            }
        }
        while (changed);

        if (anyIterator)
        {
            acquiring.UnionWith(EnumeratorNames);
        }

        return acquiring.ToImmutableHashSet(StringComparer.Ordinal);
    }

    /// <summary>The names of the properties whose getters are among <paramref name="candidates"/> (<c>get_Connection</c>: <c>Connection</c>).</summary>
    public static ImmutableHashSet<string> PropertyNames(ImmutableHashSet<string> candidates)
    {
        var names = ImmutableHashSet.CreateBuilder<string>(StringComparer.Ordinal);
        foreach (var candidate in candidates)
        {
            if (candidate.StartsWith("get_", StringComparison.Ordinal) && candidate.Length > 4)
            {
                names.Add(candidate.Substring(4));
            }
        }

        return names.ToImmutable();
    }

    /// <summary>Can <paramref name="method"/> hand a connection to its caller: by its value, an out/ref parameter, or as an iterator?</summary>
    private static bool HasAcquiringShape(IMethodSymbol method, AcquisitionRules rules)
    {
        if (!method.ReturnsVoid && IsConnectionLike(rules.ValueType(method.ReturnType), rules))
        {
            return true;
        }

        if (method.ReturnType is INamedTypeSymbol { IsGenericType: true, Name: "IEnumerable" or "IAsyncEnumerable" })
        {
            return true;
        }

        return method.Parameters.Any(p => p.RefKind is RefKind.Out or RefKind.Ref && IsConnectionLike(p.Type, rules));
    }

    private static bool IsConnectionLike(ITypeSymbol type, AcquisitionRules rules) =>
        rules.IsConnectionLike(type) || rules.IsDbConnection(type as INamedTypeSymbol);

    public static string? InvokedName(ExpressionSyntax expression) => expression switch
    {
        SimpleNameSyntax simple => simple.Identifier.ValueText,
        MemberAccessExpressionSyntax memberAccess => memberAccess.Name.Identifier.ValueText,
        MemberBindingExpressionSyntax memberBinding => memberBinding.Name.Identifier.ValueText,
        _ => null,
    };
}
