// Conditions that a method tests more than once and that nothing in it changes: whether a field of 'this' or a
// parameter is null ('var conn = _external ?? await OpenAsync()' ... 'finally { if (_external == null) conn.Dispose(); }'),
// a bool field or parameter, or a bool local set once from one of those ('var owned = _external is null'). The outcome
// of the first test is remembered on the path (bits 16-23 of PathState.Flags when true, 48-55 when false), and a later
// test that contradicts it is not taken: an ownership flag that proves the method owns the connection is followed.
using System.Collections.Generic;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.FlowAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>The conditions of one graph that are worth remembering along a path, and their values in a <see cref="PathState"/>.</summary>
internal sealed class ConditionFacts
{
    private const int FirstBit = 16;
    private const int MaxFacts = 8;

    private readonly LeakFlowAnalysis _analysis;
    private Dictionary<ISymbol, int>? _indexes;
    private HashSet<ISymbol>? _untracked;
    private Dictionary<CaptureId, List<IOperation>>? _captures;
    private HashSet<ISymbol>? _assigned;

    public ConditionFacts(LeakFlowAnalysis analysis)
    {
        _analysis = analysis;
    }

    private Dictionary<ISymbol, int> Indexes => _indexes ??= FindFacts();

    /// <summary>
    /// The state on the branch where <paramref name="condition"/> is <paramref name="outcome"/>, with what the condition says
    /// remembered; null when an earlier test on the path said the opposite.
    /// </summary>
    public PathState? Assume(PathState state, IOperation condition, bool outcome)
    {
        if (Indexes.Count == 0 || Read(condition, depth: 0) is not var (symbol, polarity))
        {
            return state;
        }

        if (!Indexes.TryGetValue(symbol, out var index))
        {
            if (_untracked?.Contains(symbol) == true)
            {
                // A fact the state has no room for: the walk would follow paths that contradict each other.
                _analysis.GiveUp();
            }

            return state;
        }

        var fact = outcome == polarity;
        var whenTrue = WhenTrue(index);
        var whenFalse = WhenFalse(index);
        if ((state.Flags & (fact ? whenFalse : whenTrue)) != 0)
        {
            return null;
        }

        var flags = state.Flags | (fact ? whenTrue : whenFalse);
        return flags == state.Flags ? state : new PathState(state.Status, state.Holders, state.ReleasedAt, flags);
    }

    /// <summary>
    /// What <paramref name="condition"/> tests: a symbol, and the outcome that means "it is null" (for a reference) or
    /// "it is true" (for a bool); null when it tests something else.
    /// </summary>
    private (ISymbol Symbol, bool Polarity)? Read(IOperation? condition, int depth)
    {
        if (depth > 4)
        {
            return null;
        }

        switch (TrackedVariables.Unwrap(condition))
        {
            case IUnaryOperation { OperatorKind: UnaryOperatorKind.Not } not:
                return Read(not.Operand, depth + 1) is var (negated, polarity) ? (negated, !polarity) : null;
            case IBinaryOperation binary when ComparedToBool(binary) is var (operand, same):
                return Read(operand, depth + 1) is var (boolTested, boolPolarity) ? (boolTested, boolPolarity == same) : null;
            case IIsPatternOperation { Value: var tested, Pattern: var pattern } when BoolPattern(pattern) is { } matches:
                // 'owned is true', 'owned is not false', a switch's 'true =>' arm.
                return Read(tested, depth + 1) is var (patternTested, patternPolarity) ? (patternTested, patternPolarity == matches) : null;
            case { } test when NullTest(test) is var (operand, whenNull):
                return Stable(operand, depth) is { } nullTested ? (nullTested, whenNull) : null;
            case ILocalReferenceOperation { Local: { Type.SpecialType: SpecialType.System_Boolean } local } when !local.IsRef:
                // 'var owned = _external is null; ... if (owned)': a local assigned once from a remembered condition.
                return Read(_analysis.Origins.SingleValue(local), depth + 1);
            case { Type.SpecialType: SpecialType.System_Boolean } flag when Stable(flag, depth) is { } boolean:
                return (boolean, true);
            default:
                return null;
        }
    }

    /// <summary>
    /// The one value a bool must have to match <paramref name="pattern"/> (<c>true</c>, <c>not false</c>); null for a pattern
    /// that either value matches, or neither, or that is not on a bool.
    /// </summary>
    private static bool? BoolPattern(IPatternOperation pattern)
    {
        if (pattern.InputType.SpecialType != SpecialType.System_Boolean)
        {
            return null;
        }

        var whenTrue = ConstantConditions.Matches(pattern, true, pattern.InputType);
        var whenFalse = ConstantConditions.Matches(pattern, false, pattern.InputType);
        return whenTrue is { } matchesTrue && whenFalse == !matchesTrue ? matchesTrue : null;
    }

    /// <summary>
    /// Has an earlier test on the path said that <paramref name="operand"/>, a field or parameter that the method tests
    /// more than once, is null?
    /// </summary>
    public bool IsKnownNull(PathState state, IOperation operand) =>
        Indexes.Count > 0
        && Stable(operand, depth: 0) is { } symbol
        && Indexes.TryGetValue(symbol, out var index)
        && (state.Flags & WhenTrue(index)) != 0;

    /// <summary>The bit of <see cref="PathState.Flags"/> set when fact <paramref name="index"/> was true on the path ("is null" for a reference).</summary>
    private static ulong WhenTrue(int index) => 1UL << (FirstBit + index);

    /// <summary>The bit set when fact <paramref name="index"/> was false on the path.</summary>
    private static ulong WhenFalse(int index) => 1UL << (32 + FirstBit + index);

    /// <summary>
    /// The two operands of a comparison (<c>a == b</c>, <c>a != b</c>, <c>ReferenceEquals(a, b)</c>, <c>Equals(a, b)</c>
    /// on types that keep <see cref="object.Equals(object)"/>), and whether it is true when they are equal; null for any
    /// other condition. A comparison with a constant is read as such before this is asked.
    /// </summary>
    public static (IOperation Left, IOperation Right, bool WhenEqual)? ComparedOperands(IOperation? condition)
    {
        switch (TrackedVariables.Unwrap(condition))
        {
            case IBinaryOperation { OperatorKind: BinaryOperatorKind.Equals or BinaryOperatorKind.NotEquals, OperatorMethod: null } binary:
                // A reference comparison: a user-defined '==' may say anything.
                return (binary.LeftOperand, binary.RightOperand, binary.OperatorKind == BinaryOperatorKind.Equals);
            case IInvocationOperation { Arguments.Length: 2 } call when ComparesReferences(call):
                return (call.Arguments[0].Value, call.Arguments[1].Value, true);
            default:
                return null;
        }
    }

    /// <summary>
    /// A call that only compares two references, and so cannot throw: <c>object.ReferenceEquals(a, b)</c>, or
    /// <c>object.Equals(a, b)</c> where neither operand's type overrides <see cref="object.Equals(object)"/> (an override
    /// may say anything).
    /// </summary>
    public static bool ComparesReferences(IInvocationOperation call) =>
        call is { TargetMethod: { IsStatic: true, Parameters.Length: 2, ContainingType.SpecialType: SpecialType.System_Object } method, Arguments.Length: 2 }
        && (method.Name == nameof(ReferenceEquals)
            || method.Name == nameof(Equals)
               && KeepsObjectEquals(TrackedVariables.Unwrap(call.Arguments[0].Value)?.Type)
               && KeepsObjectEquals(TrackedVariables.Unwrap(call.Arguments[1].Value)?.Type));

    /// <summary>Whether a value of <paramref name="type"/> compares by reference: a class or interface whose <c>Equals(object)</c> is <see cref="object"/>'s.</summary>
    private static bool KeepsObjectEquals(ITypeSymbol? type)
    {
        if (type is not INamedTypeSymbol { TypeKind: TypeKind.Class or TypeKind.Interface })
        {
            return false;
        }

        for (var current = type; current is not null && current.SpecialType != SpecialType.System_Object; current = current.BaseType)
        {
            foreach (var member in current.GetMembers(nameof(Equals)))
            {
                if (member is IMethodSymbol { IsOverride: true, Parameters.Length: 1 } equals && equals.Parameters[0].Type.SpecialType == SpecialType.System_Object)
                {
                    return false;
                }
            }
        }

        return true;
    }

    /// <summary>A read-only field or a parameter (also through a flow capture) that the graph never assigns; null for anything else.</summary>
    public ISymbol? Unchanging(IOperation? operation) =>
        Stable(operation, depth: 0) is { } symbol && symbol is not IFieldSymbol { IsReadOnly: false } ? symbol : null;

    /// <summary>A field of <c>this</c> or a parameter (also through a flow capture) that the graph never assigns.</summary>
    private ISymbol? Stable(IOperation? operation, int depth)
    {
        var symbol = TrackedVariables.Unwrap(operation) switch
        {
            IFlowCaptureReferenceOperation capture when depth < 4 && CapturedValues(capture.Id) is { Count: 1 } values => Stable(values[0], depth + 1),
            IFieldReferenceOperation { Instance: null or IInstanceReferenceOperation } field => field.Field,
            IParameterReferenceOperation { Parameter.RefKind: RefKind.None } parameter => parameter.Parameter,
            _ => null,
        };
        return symbol is not null && !Assigned.Contains(symbol) ? symbol : null;
    }

    /// <summary>
    /// <c>x == true</c>, <c>false != x</c>, ...: the bool operand, and whether the comparison is true exactly when the
    /// operand is; null for any other condition.
    /// </summary>
    public static (IOperation Operand, bool Same)? ComparedToBool(IOperation? condition)
    {
        if (TrackedVariables.Unwrap(condition) is not IBinaryOperation { OperatorKind: BinaryOperatorKind.Equals or BinaryOperatorKind.NotEquals } binary)
        {
            return null;
        }

        var (operand, constant) = BoolConstant(binary.RightOperand) is { } right ? (binary.LeftOperand, right)
            : BoolConstant(binary.LeftOperand) is { } left ? (binary.RightOperand, left)
            : (null, false);
        return operand is null ? null : (operand, constant == (binary.OperatorKind == BinaryOperatorKind.Equals));
    }

    private static bool? BoolConstant(IOperation operation) =>
        TrackedVariables.Unwrap(operation)?.ConstantValue is { HasValue: true, Value: bool value } ? value : null;

    /// <summary>
    /// The operand a null test reads, and the outcome that means it is null: <c>x == null</c>, <c>null != x</c>,
    /// <c>x is null</c>, <c>x is not null</c>, and the graph's own test of <c>x ?? y</c> and <c>x?.M()</c>; null for any
    /// other condition (a negation is the caller's to undo).
    /// </summary>
    public static (IOperation Operand, bool WhenNull)? NullTest(IOperation? condition)
    {
        switch (TrackedVariables.Unwrap(condition))
        {
            case IIsNullOperation isNull:
                return (isNull.Operand, true);
            case IBinaryOperation { OperatorKind: BinaryOperatorKind.Equals or BinaryOperatorKind.NotEquals } binary:
            {
                var other = IsNull(binary.RightOperand) ? binary.LeftOperand : IsNull(binary.LeftOperand) ? binary.RightOperand : null;
                return other is not null ? (other, binary.OperatorKind == BinaryOperatorKind.Equals) : null;
            }

            case IIsPatternOperation { Pattern: IConstantPatternOperation constant } isPattern when IsNull(constant.Value):
                return (isPattern.Value, true);
            case IIsPatternOperation { Pattern: INegatedPatternOperation { Pattern: IConstantPatternOperation constant } } isPattern when IsNull(constant.Value):
                return (isPattern.Value, false);
            default:
                return null;
        }
    }

    /// <summary>Is <paramref name="operation"/> the constant <c>null</c> (of a reference or nullable type)?</summary>
    public static bool IsNull(IOperation operation) =>
        TrackedVariables.Unwrap(operation) is { ConstantValue: { HasValue: true, Value: null } } constant && constant.Type?.IsValueType != true;

    /// <summary>The values a flow capture of the graph captures (several for 'a ?? b', 'c ? a : b', 'x?.P').</summary>
    public IReadOnlyList<IOperation> CapturedValues(CaptureId id) =>
        (_captures ??= FindCaptures()).TryGetValue(id, out var values) ? values : (IReadOnlyList<IOperation>)System.Array.Empty<IOperation>();

    private HashSet<ISymbol> Assigned => _assigned ??= FindAssigned();

    private Dictionary<CaptureId, List<IOperation>> FindCaptures()
    {
        var captures = new Dictionary<CaptureId, List<IOperation>>();
        foreach (var node in AllOperations())
        {
            if (node is IFlowCaptureOperation capture)
            {
                if (!captures.TryGetValue(capture.Id, out var values))
                {
                    captures.Add(capture.Id, values = new List<IOperation>());
                }

                values.Add(capture.Value);
            }
        }

        return captures;
    }

    private HashSet<ISymbol> FindAssigned()
    {
        var assigned = new HashSet<ISymbol>(SymbolEqualityComparer.Default);
        foreach (var node in AllOperations())
        {
            var target = node switch
            {
                IAssignmentOperation assignment => assignment.Target,
                IIncrementOrDecrementOperation increment => increment.Target,
                IArgumentOperation { Parameter.RefKind: RefKind.Ref or RefKind.Out } byRef => byRef.Value,
                IFlowCaptureOperation capture when _analysis.Variables.AssignedCaptures.Contains(capture.Id) => capture.Value,
                _ => null,
            };
            switch (TrackedVariables.Unwrap(target))
            {
                case IFieldReferenceOperation field:
                    assigned.Add(field.Field);
                    break;
                case IParameterReferenceOperation parameter:
                    assigned.Add(parameter.Parameter);
                    break;
            }
        }

        return assigned;
    }

    /// <summary>
    /// The symbols tested by at least two branches: only a second test can use what the first one said. At most
    /// <see cref="MaxFacts"/>; the walk gives up on a path that tests one of the others.
    /// </summary>
    private Dictionary<ISymbol, int> FindFacts()
    {
        var tests = new Dictionary<ISymbol, int>(SymbolEqualityComparer.Default);
        foreach (var block in _analysis.Graph.Blocks)
        {
            if (block.ConditionalSuccessor is null)
            {
                continue;
            }

            if (Read(block.BranchValue, depth: 0) is var (symbol, _))
            {
                Count(tests, symbol);
            }
            else if (ComparedOperands(block.BranchValue) is var (left, right, _))
            {
                // 'if (conn != _external) conn.Dispose();': a test of what '_external ?? Open()' chose, which the
                // refinement reads once the path knows whether '_external' is null.
                CountStable(tests, left);
                CountStable(tests, right);
            }
        }

        var indexes = new Dictionary<ISymbol, int>(SymbolEqualityComparer.Default);
        foreach (var entry in tests)
        {
            if (entry.Value < 2)
            {
                continue;
            }

            if (indexes.Count < MaxFacts)
            {
                indexes.Add(entry.Key, indexes.Count);
            }
            else
            {
                (_untracked ??= new HashSet<ISymbol>(SymbolEqualityComparer.Default)).Add(entry.Key);
            }
        }

        return indexes;
    }

    private static void Count(Dictionary<ISymbol, int> tests, ISymbol symbol) =>
        tests[symbol] = tests.TryGetValue(symbol, out var count) ? count + 1 : 1;

    private void CountStable(Dictionary<ISymbol, int> tests, IOperation operand)
    {
        if (Stable(operand, depth: 0) is { } symbol)
        {
            Count(tests, symbol);
        }
    }

    private IEnumerable<IOperation> AllOperations()
    {
        foreach (var block in _analysis.Graph.Blocks)
        {
            foreach (var operation in block.Operations)
            {
                foreach (var node in operation.DescendantsAndSelf())
                {
                    yield return node;
                }
            }

            if (block.BranchValue is not null)
            {
                foreach (var node in block.BranchValue.DescendantsAndSelf())
                {
                    yield return node;
                }
            }
        }
    }
}
