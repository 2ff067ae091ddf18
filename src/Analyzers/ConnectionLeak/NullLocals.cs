// Locals known to be null on a path: a local that a null test reads ('a ?? b', 'a?.Release()', 'a == null') and that
// the method sets to null ('Connection? primary = null, fallback = null;'). Its "null since the last assignment" is part
// of the path state, so that '(primary ?? fallback)?.Release()' on the path that opened 'fallback' is known to release
// it: 'primary' was never assigned there. Only locals that plain assignments alone write are kept (not one written by
// reference, by a deconstruction, by a pattern or from a lambda or local function); at most MaxLocals of them. A test
// of one of the others, on a path that holds the resource in another variable, makes the analysis give up: both
// outcomes would be followed, one of them perhaps against what the path did (no report rather than a false one).
using System.Collections.Generic;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.FlowAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>The null-tested locals of one graph, and whether each is known null in a <see cref="PathState"/>.</summary>
internal sealed class NullLocals
{
    // The bits of PathState.Flags that neither ReleaseFlags (0-15, 32-47), ConditionFacts (16-23, 48-55) nor
    // ThrownAfterRelease (31) use: 24-30 and 56-63.
    private const int MaxLocals = 15;

    private readonly LeakFlowAnalysis _analysis;
    private Dictionary<ILocalSymbol, int>? _indexes;
    private HashSet<ILocalSymbol>? _untracked;

    public NullLocals(LeakFlowAnalysis analysis)
    {
        _analysis = analysis;
    }

    private Dictionary<ILocalSymbol, int> Indexes => _indexes ??= Load();

    private Dictionary<ILocalSymbol, int> Load()
    {
        var known = _analysis.Context.NullLocals;
        if (!known.TryGetValue(_analysis.Graph, out var found))
        {
            found = (FindLocals(), _untracked);
            known.Add(_analysis.Graph, found);
        }

        _untracked = found.Untracked;
        return found.Indexes;
    }

    /// <summary>The state after <paramref name="local"/> is assigned <paramref name="value"/>: known null when it is the constant null, not known otherwise.</summary>
    public PathState Set(PathState state, ILocalSymbol local, IOperation value)
    {
        if (local.Type.IsValueType || !Indexes.TryGetValue(local, out var index))
        {
            return state;
        }

        var bit = Bit(index);
        var flags = ConditionFacts.IsNull(value) ? state.Flags | bit : state.Flags & ~bit;
        return flags != state.Flags ? new PathState(state.Status, state.Holders, state.ReleasedAt, flags) : state;
    }

    /// <summary>
    /// Does <paramref name="condition"/> turning out <paramref name="outcome"/> say that a local known null on this path is
    /// not null? That branch cannot be taken.
    /// </summary>
    public bool Contradicts(PathState state, IOperation condition, bool outcome) =>
        Indexes.Count > 0
        && NullTest(condition, depth: 0) is var (local, whenNull)
        && outcome != whenNull
        && Indexes.TryGetValue(local, out var index)
        && (state.Flags & Bit(index)) != 0;

    /// <summary>
    /// Does <paramref name="condition"/> test a local that the state has no room for, while the followed resource is held
    /// by other variables? Whether the local is still null on the path is not known.
    /// </summary>
    public bool IsUntracked(PathState state, IOperation condition)
    {
        _ = Indexes;
        return _untracked is not null
            && NullTest(condition, depth: 0) is var (local, _)
            && _untracked.Contains(local)
            && !_analysis.Variables.Holds(state, local);
    }

    private static ulong Bit(int index) => 1UL << (index < 7 ? 24 + index : 56 + index - 7);

    /// <summary>The local a null test reads (directly or through the flow capture of 'a ?? b', 'a?.M()'), and the outcome that means null.</summary>
    private (ILocalSymbol Local, bool WhenNull)? NullTest(IOperation? condition, int depth)
    {
        if (depth > 4)
        {
            return null;
        }

        if (TrackedVariables.Unwrap(condition) is IUnaryOperation { OperatorKind: UnaryOperatorKind.Not } not)
        {
            return NullTest(not.Operand, depth + 1) is var (negated, whenNull) ? (negated, !whenNull) : null;
        }

        return ConditionFacts.NullTest(condition) is var (operand, isNullWhen) && Read(operand) is { } tested ? (tested, isNullWhen) : null;
    }

    /// <summary>The local <paramref name="operand"/> reads, also through a flow capture that captures only it.</summary>
    private ILocalSymbol? Read(IOperation operand) => TrackedVariables.Unwrap(operand) switch
    {
        ILocalReferenceOperation { Local: { IsRef: false } local } => local,
        IFlowCaptureReferenceOperation capture when !_analysis.Variables.AssignedCaptures.Contains(capture.Id)
            && _analysis.Facts.CapturedValues(capture.Id) is { Count: 1 } values
            && TrackedVariables.Unwrap(values[0]) is ILocalReferenceOperation { Local: { IsRef: false } captured } => captured,
        _ => null,
    };

    private Dictionary<ILocalSymbol, int> FindLocals()
    {
        var indexes = new Dictionary<ILocalSymbol, int>(SymbolEqualityComparer.Default);
        HashSet<ILocalSymbol>? tested = null;
        foreach (var block in _analysis.Graph.Blocks)
        {
            if (block.ConditionalSuccessor is not null && NullTest(block.BranchValue, depth: 0) is var (local, _) && !local.Type.IsValueType)
            {
                (tested ??= new HashSet<ILocalSymbol>(SymbolEqualityComparer.Default)).Add(local);
            }
        }

        if (tested is null)
        {
            return indexes;
        }

        var setToNull = new List<ILocalSymbol>();
        var excluded = new HashSet<ILocalSymbol>(SymbolEqualityComparer.Default);
        List<SyntaxNode>? closures = null;
        foreach (var block in _analysis.Graph.Blocks)
        {
            foreach (var operation in block.Operations)
            {
                foreach (var node in operation.DescendantsAndSelf())
                {
                    switch (node)
                    {
                        case ISimpleAssignmentOperation { IsRef: false, Target: ILocalReferenceOperation { Local: var local } } assignment when tested.Contains(local):
                            if (ConditionFacts.IsNull(assignment.Value) && !setToNull.Contains(local))
                            {
                                setToNull.Add(local);
                            }

                            break;
                        case ISimpleAssignmentOperation { IsRef: true } refAssignment:
                            // 'ref var alias = ref conn;': writes through the alias are not assignments of the local.
                            Exclude(excluded, refAssignment.Value);
                            Exclude(excluded, refAssignment.Target);
                            break;
                        case IAssignmentOperation { Target: var target } and not ISimpleAssignmentOperation:
                            foreach (var written in target.DescendantsAndSelf())
                            {
                                Exclude(excluded, written);
                            }

                            break;
                        case IArgumentOperation { Parameter.RefKind: not RefKind.None and not RefKind.In } byRef:
                            Exclude(excluded, byRef.Value);
                            break;
                        case IDeclarationPatternOperation { DeclaredSymbol: ILocalSymbol declared }:
                            excluded.Add(declared);
                            break;
                        case IAddressOfOperation addressOf:
                            Exclude(excluded, addressOf.Reference);
                            break;
                        case IFlowAnonymousFunctionOperation lambda:
                            (closures ??= new List<SyntaxNode>()).Add(lambda.Syntax);
                            break;
                    }
                }
            }
        }

        if (setToNull.Count == 0)
        {
            return indexes;
        }

        foreach (var localFunction in _analysis.Graph.LocalFunctions)
        {
            foreach (var reference in localFunction.DeclaringSyntaxReferences)
            {
                (closures ??= new List<SyntaxNode>()).Add(reference.GetSyntax());
            }
        }

        // A lambda or local function that names the local may assign it behind the path's back (by name, as the flags).
        var captured = new HashSet<string>();
        foreach (var closure in closures ?? new List<SyntaxNode>())
        {
            foreach (var node in closure.DescendantNodes())
            {
                if (node is IdentifierNameSyntax name)
                {
                    captured.Add(name.Identifier.ValueText);
                }
            }
        }

        foreach (var local in setToNull)
        {
            // A local of an enclosing method, read in a lambda, may be assigned by that method at any time.
            if (excluded.Contains(local) || captured.Contains(local.Name) || !_analysis.OwnLocals.Contains(local))
            {
                continue;
            }

            if (indexes.Count < MaxLocals)
            {
                indexes.Add(local, indexes.Count);
            }
            else
            {
                (_untracked ??= new HashSet<ILocalSymbol>(SymbolEqualityComparer.Default)).Add(local);
            }
        }

        return indexes;
    }

    private static void Exclude(HashSet<ILocalSymbol> excluded, IOperation? operation)
    {
        if (TrackedVariables.Unwrap(operation) is ILocalReferenceOperation { Local: var local })
        {
            excluded.Add(local);
        }
    }
}
