// TDG005's walk: a method of a type that owns a connection in a field (its Dispose, DisposeAsync, or a helper they
// call on 'this'), started with the field holding the connection. Conditions that only say "already disposed"
// (a disposed flag this method sets, an Interlocked guard) or "not ours" (a readonly ownership flag) end the
// duty to release; any other condition, and any call or other dispose before the release that can throw, is a path.
using System.Collections.Generic;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.FlowAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>Walks a method of an owning type with one of its fields holding the connection.</summary>
internal static class OwnerWalk
{
    public static FlowObservations? Run(ControlFlowGraph graph, IFieldSymbol field, FlowContext context, Dictionary<IParameterSymbol, bool>? knownParameters) =>
        LeakFlowAnalysis.Observe(graph, site: null, field, context, AcquisitionSites.OwnLocals(graph), ownerFields: true, knownParameters);

    /// <summary>
    /// When <paramref name="condition"/> is one of the owner's guards: the state on the branch where it is
    /// <paramref name="outcome"/> (null when that branch cannot be taken). Not handled: refine as usual.
    /// </summary>
    public static (bool Handled, PathState? State) Refine(LeakFlowAnalysis analysis, PathState state, IOperation condition, bool outcome)
    {
        var done = new PathState(ResourceStatus.Released, 0, 0, state.Flags);
        switch (TrackedVariables.Unwrap(condition))
        {
            case IParameterReferenceOperation parameter when analysis.KnownParameters is { } known && known.TryGetValue(parameter.Parameter.OriginalDefinition, out var value):
                return (true, value == outcome ? state : null);
            case IFieldReferenceOperation { Instance: IInstanceReferenceOperation, Field: { Type.SpecialType: SpecialType.System_Boolean } flag }:
                if (flag.IsReadOnly)
                {
                    // An ownership flag set by the constructor ('leaveOpen'): a release under it is the owner's choice.
                    return (true, new PathState(ResourceStatus.Escaped, 0, 0, state.Flags));
                }

                // 'if (_disposed) return;' with '_disposed = true' further on: the true branch was disposed before.
                return SetsTrue(analysis.Graph, flag) && outcome ? (true, done) : (false, null);
            case IInvocationOperation invocation when IsInterlockedGuard(invocation, out _):
                // 'if (Interlocked.Exchange(ref _disposed, true)) return;'
                return (true, outcome ? done : state);
            case IBinaryOperation { OperatorKind: BinaryOperatorKind.Equals or BinaryOperatorKind.NotEquals } binary:
            {
                var (call, constant) = TrackedVariables.Unwrap(binary.LeftOperand) is IInvocationOperation left
                    ? (left, binary.RightOperand)
                    : (TrackedVariables.Unwrap(binary.RightOperand) as IInvocationOperation, binary.LeftOperand);
                if (call is null || !IsInterlockedGuard(call, out _) || constant.ConstantValue is not { HasValue: true, Value: int compared })
                {
                    return (false, null);
                }

                // The old value is not zero: it had been disposed already.
                var equal = binary.OperatorKind == BinaryOperatorKind.Equals ? outcome : !outcome;
                var disposedBefore = compared == 0 ? !equal : equal;
                return (true, disposedBefore ? done : state);
            }

            default:
                return (false, null);
        }
    }

    private static bool IsInterlockedGuard(IInvocationOperation invocation, out IFieldSymbol? field)
    {
        field = null;
        if (!HandOffRules.IsInterlockedSwap(invocation.TargetMethod) || invocation.Arguments.Length < 2)
        {
            return false;
        }

        field = (TrackedVariables.Unwrap(invocation.Arguments[0].Value) as IFieldReferenceOperation)?.Field;
        return field is not null && invocation.Arguments[1].Value.ConstantValue.HasValue;
    }

    private static bool SetsTrue(ControlFlowGraph graph, IFieldSymbol flag)
    {
        foreach (var block in graph.Blocks)
        {
            foreach (var operation in block.Operations)
            {
                foreach (var node in operation.DescendantsAndSelf())
                {
                    if (node is ISimpleAssignmentOperation { Target: IFieldReferenceOperation target, Value.ConstantValue: { HasValue: true, Value: true } }
                        && SymbolEqualityComparer.Default.Equals(target.Field, flag))
                    {
                        return true;
                    }
                }
            }
        }

        return false;
    }
}
