// 'Released' flags: a bool local that a branch tests and that is only ever assigned true or false
// ('var released = false; ... released = true;'). Its value on the path is part of the path state, so that
// 'if (!released) conn.Release();' is followed exactly. A method with more flags than the state holds keeps the first
// ones; a branch on one of the others would fork paths that cannot both happen, so the analysis gives up there
// (it says nothing rather than something wrong).
using System.Collections.Generic;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.FlowAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>The flags of one graph and their values in a <see cref="PathState"/>.</summary>
internal sealed class ReleaseFlags
{
    private const int MaxFlags = 16;

    private readonly ControlFlowGraph _graph;
    private Dictionary<ILocalSymbol, int>? _flagIndexes;
    private HashSet<ILocalSymbol>? _untracked;

    public ReleaseFlags(ControlFlowGraph graph)
    {
        _graph = graph;
    }

    /// <summary>The state after <paramref name="local"/> is assigned <paramref name="value"/>: known when a constant, unknown otherwise.</summary>
    public PathState Set(PathState state, ILocalSymbol local, IOperation value)
    {
        if (!FlagIndexes.TryGetValue(local, out var index))
        {
            return state;
        }

        var known = value.ConstantValue is { HasValue: true, Value: bool isTrue } ? (isTrue ? 1UL : 1UL << 32) << index : 0;
        var flags = (state.Flags & ~((1UL | 1UL << 32) << index)) | known;
        return flags != state.Flags ? new PathState(state.Status, state.Holders, state.ReleasedAt, flags) : state;
    }

    /// <summary>The value of a flag on the path of <paramref name="config"/>, when it is known.</summary>
    public bool? Value(PathState config, ILocalSymbol local)
    {
        if (config.Flags == 0 || !FlagIndexes.TryGetValue(local, out var index))
        {
            return null;
        }

        return (config.Flags & (1UL << index)) != 0 ? true : (config.Flags & (1UL << (32 + index))) != 0 ? false : null;
    }

    /// <summary>
    /// Does <paramref name="condition"/> test a flag that the state has no room for? Its value on the path is not known,
    /// so both branches would be followed, including the one that contradicts what the path did.
    /// </summary>
    public bool IsUntracked(IOperation condition)
    {
        _ = FlagIndexes;
        if (_untracked is null)
        {
            return false;
        }

        return TestedLocal(condition) is { } local && _untracked.Contains(local);
    }

    /// <summary>The local a condition tests: <c>released</c>, <c>!released</c>, <c>released == false</c>, ...</summary>
    private static ILocalSymbol? TestedLocal(IOperation? condition)
    {
        var tested = TrackedVariables.Unwrap(condition);
        while (true)
        {
            if (tested is IUnaryOperation { OperatorKind: UnaryOperatorKind.Not } not)
            {
                tested = TrackedVariables.Unwrap(not.Operand);
            }
            else if (ConditionFacts.ComparedToBool(tested) is var (operand, _))
            {
                tested = TrackedVariables.Unwrap(operand);
            }
            else
            {
                return (tested as ILocalReferenceOperation)?.Local;
            }
        }
    }

    /// <summary>
    /// Bool locals that a branch tests and that are written only by plain assignments of constants, never by reference or
    /// from a lambda; at most <see cref="MaxFlags"/>, so that flags cannot multiply the configurations without bound
    /// (the others are untracked: <see cref="IsUntracked"/>).
    /// </summary>
    private Dictionary<ILocalSymbol, int> FlagIndexes => _flagIndexes ??= FindFlags(_graph, out _untracked);

    private static Dictionary<ILocalSymbol, int> FindFlags(ControlFlowGraph graph, out HashSet<ILocalSymbol>? untracked)
    {
        untracked = null;
        var flags = new Dictionary<ILocalSymbol, int>(SymbolEqualityComparer.Default);
        HashSet<ILocalSymbol>? tested = null;
        foreach (var block in graph.Blocks)
        {
            if (block.ConditionalSuccessor is not null && TestedLocal(block.BranchValue) is { Type.SpecialType: SpecialType.System_Boolean } local)
            {
                (tested ??= new HashSet<ILocalSymbol>(SymbolEqualityComparer.Default)).Add(local);
            }
        }

        if (tested is null)
        {
            return flags;
        }

        var candidates = new Dictionary<ILocalSymbol, int>(SymbolEqualityComparer.Default);
        HashSet<ILocalSymbol>? excluded = null;
        List<SyntaxNode>? closures = null;
        foreach (var block in graph.Blocks)
        {
            foreach (var operation in block.Operations)
            {
                foreach (var node in operation.DescendantsAndSelf())
                {
                    switch (node)
                    {
                        case ISimpleAssignmentOperation { Target: ILocalReferenceOperation { Local: var local } } assignment when tested.Contains(local):
                            if (assignment.Value.ConstantValue is { HasValue: true, Value: bool } && !local.IsRef)
                            {
                                if (!candidates.ContainsKey(local))
                                {
                                    candidates.Add(local, candidates.Count);
                                }
                            }
                            else
                            {
                                (excluded ??= new HashSet<ILocalSymbol>(SymbolEqualityComparer.Default)).Add(local);
                            }

                            break;
                        case IAssignmentOperation { Target: var target } and not ISimpleAssignmentOperation:
                            foreach (var written in target.DescendantsAndSelf())
                            {
                                if (written is ILocalReferenceOperation { Local: var writtenLocal })
                                {
                                    (excluded ??= new HashSet<ILocalSymbol>(SymbolEqualityComparer.Default)).Add(writtenLocal);
                                }
                            }

                            break;
                        case IArgumentOperation { Parameter.RefKind: not RefKind.None and not RefKind.In, Value: ILocalReferenceOperation { Local: var byRef } }:
                            (excluded ??= new HashSet<ILocalSymbol>(SymbolEqualityComparer.Default)).Add(byRef);
                            break;
                        case IFlowAnonymousFunctionOperation lambda:
                            (closures ??= new List<SyntaxNode>()).Add(lambda.Syntax);
                            break;
                    }
                }
            }
        }

        foreach (var localFunction in graph.LocalFunctions)
        {
            foreach (var reference in localFunction.DeclaringSyntaxReferences)
            {
                (closures ??= new List<SyntaxNode>()).Add(reference.GetSyntax());
            }
        }

        // A lambda or local function that names the flag may change it behind the path's back.
        var captured = new HashSet<string>();
        if (closures is not null)
        {
            foreach (var closure in closures)
            {
                foreach (var identifier in closure.DescendantNodes())
                {
                    if (identifier is Microsoft.CodeAnalysis.CSharp.Syntax.IdentifierNameSyntax name)
                    {
                        captured.Add(name.Identifier.ValueText);
                    }
                }
            }
        }

        foreach (var candidate in candidates.Keys)
        {
            if (excluded?.Contains(candidate) == true || captured.Contains(candidate.Name))
            {
                continue;
            }

            if (flags.Count < MaxFlags)
            {
                flags.Add(candidate, flags.Count);
            }
            else
            {
                (untracked ??= new HashSet<ILocalSymbol>(SymbolEqualityComparer.Default)).Add(candidate);
            }
        }

        return flags;
    }
}
