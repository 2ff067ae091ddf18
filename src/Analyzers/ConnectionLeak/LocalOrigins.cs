// Where the locals of one graph get their values, read once and flow-insensitively: every assignment and every
// pattern that declares the local. Used to tell a connection the method made from one it only looked at under
// another name, and which call a local of an iterator came from.
using System.Collections.Generic;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.FlowAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>The values assigned to each local of a graph.</summary>
internal sealed class LocalOrigins
{
    private readonly ControlFlowGraph _graph;
    private Dictionary<ILocalSymbol, List<IOperation>>? _values;
    private Dictionary<ILocalSymbol, List<IOperation>>? _connections;
    private HashSet<ILocalSymbol>? _opened;

    public LocalOrigins(ControlFlowGraph graph)
    {
        _graph = graph;
    }

    /// <summary>
    /// Is every value <paramref name="local"/> gets a field, property or parameter, or a service the container resolves
    /// (the connection is someone else's)?
    /// </summary>
    public bool IsBorrowed(ILocalSymbol local)
    {
        if (!Values.TryGetValue(local, out var values))
        {
            return false;
        }

        foreach (var value in values)
        {
            var unwrapped = TrackedVariables.Unwrap(value);
            var someoneElses = unwrapped is IFieldReferenceOperation or IPropertyReferenceOperation
                or IParameterReferenceOperation;
            if (!someoneElses && !IsResolvedService(unwrapped))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// <c>services.GetRequiredService&lt;MySqlConnection&gt;()</c>, <c>GetService(typeof(...))</c> and the keyed forms:
    /// the container made the object and disposes it with its scope.
    /// </summary>
    private static bool IsResolvedService(IOperation? value) =>
        value is IInvocationOperation { TargetMethod: var method }
        && method.Name is "GetService" or "GetRequiredService" or "GetKeyedService" or "GetRequiredKeyedService"
        && method.ContainingType?.ContainingNamespace?.ToDisplayString()
            is "System" or "Microsoft.Extensions.DependencyInjection";

    /// <summary>The one value <paramref name="local"/> is assigned; null when it is assigned none or several.</summary>
    public IOperation? SingleValue(ILocalSymbol local) =>
        Values.TryGetValue(local, out var values) && values.Count == 1 ? TrackedVariables.Unwrap(values[0]) : null;

    /// <summary>Every value <paramref name="local"/> is assigned (or matched from, for a pattern variable).</summary>
    public IReadOnlyList<IOperation> ValuesOf(ILocalSymbol local) =>
        Values.TryGetValue(local, out var values) ? values : (IReadOnlyList<IOperation>)System.Array.Empty<IOperation>();

    /// <summary>The values assigned to <c>local.Connection</c> (a command bound to a connection after it was made).</summary>
    public IReadOnlyList<IOperation> ConnectionsAssignedTo(ILocalSymbol local)
    {
        _ = Values;
        return _connections!.TryGetValue(local, out var values) ? values : (IReadOnlyList<IOperation>)System.Array.Empty<IOperation>();
    }

    /// <summary>Does the graph call <c>Open</c>/<c>OpenAsync</c> on <paramref name="local"/>?</summary>
    public bool IsOpened(ILocalSymbol local)
    {
        _ = Values;
        return _opened!.Contains(local);
    }

    private Dictionary<ILocalSymbol, List<IOperation>> Values => _values ??= Collect();

    private Dictionary<ILocalSymbol, List<IOperation>> Collect()
    {
        var values = new Dictionary<ILocalSymbol, List<IOperation>>(SymbolEqualityComparer.Default);
        var connections = new Dictionary<ILocalSymbol, List<IOperation>>(SymbolEqualityComparer.Default);
        var opened = new HashSet<ILocalSymbol>(SymbolEqualityComparer.Default);
        _connections = connections;
        _opened = opened;
        var captures = new Dictionary<CaptureId, IOperation>();
        foreach (var block in _graph.Blocks)
        {
            foreach (var operation in block.Operations)
            {
                Scan(operation);
            }

            if (block.BranchValue is not null)
            {
                Scan(block.BranchValue);
            }
        }

        return values;

        void Scan(IOperation root)
        {
            foreach (var node in root.DescendantsAndSelf())
            {
                switch (node)
                {
                    case IFlowCaptureOperation capture:
                        captures[capture.Id] = capture.Value;
                        break;
                    case ISimpleAssignmentOperation { Target: ILocalReferenceOperation target } assignment:
                        Add(values, target.Local, assignment.Value);
                        break;
                    case ISimpleAssignmentOperation { Target: IPropertyReferenceOperation { Property.Name: "Connection" } property } assignment
                        when TrackedVariables.Unwrap(property.Instance) is ILocalReferenceOperation command:
                        Add(connections, command.Local, assignment.Value);
                        break;
                    case IInvocationOperation { TargetMethod.Name: "Open" or "OpenAsync" } open when TrackedVariables.Unwrap(open.Instance) is ILocalReferenceOperation openedLocal:
                        opened.Add(openedLocal.Local);
                        break;
                    case IIsPatternOperation isPattern:
                        foreach (var part in isPattern.Pattern.DescendantsAndSelf())
                        {
                            var declared = part switch
                            {
                                IDeclarationPatternOperation declaration => declaration.DeclaredSymbol,
                                IRecursivePatternOperation recursive => recursive.DeclaredSymbol,
                                _ => null,
                            };
                            if (declared is ILocalSymbol local)
                            {
                                Add(values, local, isPattern.Value);
                            }
                        }

                        break;
                }
            }
        }

        void Add(Dictionary<ILocalSymbol, List<IOperation>> map, ILocalSymbol local, IOperation value)
        {
            // A capture stands for the value it captured ('x is T t' tests a captured 'x').
            if (TrackedVariables.Unwrap(value) is IFlowCaptureReferenceOperation reference && captures.TryGetValue(reference.Id, out var captured))
            {
                value = captured;
            }

            if (!map.TryGetValue(local, out var list))
            {
                map.Add(local, list = new List<IOperation>());
            }

            list.Add(value);
        }
    }
}
