// The variables of one analysis: each local, parameter or flow capture that ever holds the followed resource gets
// one index in PathState.Holders (a HolderSet, which grows past 64). Also the flow captures that stand for a variable ('x = a ?? b' captures x first).
using System.Collections.Generic;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.FlowAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>The bit of each variable that may hold the resource, and the variables behind flow captures.</summary>
internal sealed class TrackedVariables
{
    private readonly ControlFlowGraph _graph;
    private readonly Dictionary<object, int> _indexes = new();
    private readonly Dictionary<CaptureId, IOperation> _capturedLocations = new();
    private HashSet<CaptureId>? _assignedCaptures;

    public TrackedVariables(ControlFlowGraph graph)
    {
        _graph = graph;
    }

    /// <summary>Flow captures that are assigned to: they stand for a variable, not for a value.</summary>
    public HashSet<CaptureId> AssignedCaptures => _assignedCaptures ??= FindAssignedCaptures(_graph);

    /// <summary>The variable's bit, taking a new one the first time.</summary>
    public HolderSet Bit(object variable)
    {
        if (!_indexes.TryGetValue(variable, out var index))
        {
            index = _indexes.Count;
            _indexes.Add(variable, index);
        }

        return HolderSet.Of(index);
    }

    /// <summary>The variable's bit when it has one; 0 (without taking a new index) when it has none.</summary>
    public HolderSet KnownBit(object variable) =>
        _indexes.TryGetValue(variable, out var index) ? HolderSet.Of(index) : HolderSet.Empty;

    /// <summary>Does <paramref name="variable"/> hold the resource on the path of <paramref name="state"/>?</summary>
    public bool Holds(PathState state, object variable)
    {
        if (state.Status == ResourceStatus.Escaped || state.Holders.IsEmpty)
        {
            return false;
        }

        return _indexes.TryGetValue(variable, out var index) && state.Holders.Contains(index);
    }

    /// <summary>Is <paramref name="operation"/> a read of a variable that holds the resource?</summary>
    public bool HeldBy(PathState state, IOperation? operation)
    {
        var variable = VariableOf(operation);
        return variable is not null && _indexes.TryGetValue(variable, out var index) && state.Holders.Contains(index);
    }

    /// <summary>Does the local hold the resource on the path of <paramref name="state"/>?</summary>
    public bool HeldBy(PathState state, ILocalSymbol? local) =>
        local is not null && _indexes.TryGetValue(local, out var index) && state.Holders.Contains(index);

    /// <summary>
    /// The bit of the variable <paramref name="valueOperation"/> reads, so that the assigned variable aliases it; none when
    /// a user-defined conversion stands between them (it makes another object).
    /// </summary>
    public HolderSet AliasOf(IOperation? valueOperation) =>
        WithoutReferenceConversions(valueOperation) is not IConversionOperation && VariableOf(valueOperation) is { } variable ? Bit(variable) : HolderSet.Empty;

    /// <summary><paramref name="operation"/> without the conversions that pass the same object on (all but user-defined ones).</summary>
    public static IOperation? WithoutReferenceConversions(IOperation? operation)
    {
        while (operation is IConversionOperation { OperatorMethod: null } conversion)
        {
            operation = conversion.Operand;
        }

        return operation;
    }

    /// <summary>The variables that hold the resource on the path of <paramref name="state"/>.</summary>
    public IEnumerable<object> HoldersOf(PathState state)
    {
        foreach (var entry in _indexes)
        {
            if (state.Holders.Contains(entry.Value))
            {
                yield return entry.Key;
            }
        }
    }

    /// <summary>The local or parameter that was first seen holding the resource on the path of <paramref name="state"/>.</summary>
    public string? FirstHolderName(PathState state)
    {
        string? name = null;
        var lowest = int.MaxValue;
        foreach (var entry in _indexes)
        {
            if (entry.Value < lowest && state.Holders.Contains(entry.Value) && entry.Key is ILocalSymbol or IParameterSymbol)
            {
                lowest = entry.Value;
                name = ((ISymbol)entry.Key).Name;
            }
        }

        return name;
    }

    /// <summary>
    /// Records that the graph captured a variable or a location itself (a local, a field, a property: the reference
    /// <paramref name="location"/>) in <paramref name="capture"/> before assigning it (<c>x ??= y</c>, <c>x = a ?? b</c>).
    /// </summary>
    public void CaptureLocation(CaptureId capture, IOperation location) => _capturedLocations[capture] = location;

    /// <summary>The variable or location a flow capture stands for, when the graph captured one that is assigned later.</summary>
    public bool TryGetCapturedLocation(CaptureId capture, out IOperation location) => _capturedLocations.TryGetValue(capture, out location!);

    /// <summary>The operation without the conversions around it.</summary>
    public static IOperation? Unwrap(IOperation? operation)
    {
        while (true)
        {
            switch (operation)
            {
                case IConversionOperation conversion:
                    operation = conversion.Operand;
                    continue;
                case IDeclarationExpressionOperation declaration:
                    // 'out var x': the variable itself.
                    operation = declaration.Expression;
                    continue;
                default:
                    return operation;
            }
        }
    }

    private static object? VariableOf(IOperation? operation) => Unwrap(operation) switch
    {
        ILocalReferenceOperation local => local.Local,
        IParameterReferenceOperation parameter => parameter.Parameter,
        IFlowCaptureReferenceOperation capture => capture.Id,
        IFieldReferenceOperation { Instance: IInstanceReferenceOperation } field => field.Field,
        IPropertyReferenceOperation { Instance: IInstanceReferenceOperation, Arguments.Length: 0 } property => property.Property,
        _ => null,
    };

    private static HashSet<CaptureId> FindAssignedCaptures(ControlFlowGraph graph)
    {
        var found = new HashSet<CaptureId>();
        foreach (var block in graph.Blocks)
        {
            foreach (var operation in block.Operations)
            {
                foreach (var node in operation.DescendantsAndSelf())
                {
                    if (node is IAssignmentOperation { Target: IFlowCaptureReferenceOperation target })
                    {
                        found.Add(target.Id);
                    }
                }
            }
        }

        return found;
    }
}
