// Conditions that a method tests more than once and that nothing in it changes: whether a field or auto-property of
// 'this', a parameter or a local written once (outside any loop, in a method without 'goto', and named by no lambda) is
// null ('var conn = _external ?? await OpenAsync()' ... 'finally { if (_external == null) conn.Dispose(); }'),
// a bool field or parameter, a bool local set once from one of those ('var owned = _external is null'), or whether such a
// field or parameter equals a constant ('mode switch { Mode.Own => Open(), _ => _shared }' ... 'if (mode == Mode.Own)').
// The outcome of the first test is remembered on the path (bits 16-23 of PathState.Flags when true, 48-55 when false),
// and a later test that contradicts it is not taken: an ownership flag that proves the method owns the connection is
// followed. Two constants of one symbol exclude each other: a path that found 'mode == A' does not find 'mode == B'.
using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.FlowAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>The conditions of one graph that are worth remembering along a path, and their values in a <see cref="PathState"/>.</summary>
internal sealed class ConditionFacts
{
    private const int FirstBit = 16;
    private const int MaxFacts = 8;

    private readonly LeakFlowAnalysis _analysis;
    private Dictionary<Fact, int>? _indexes;
    private List<Fact>? _tracked;
    private HashSet<Fact>? _untracked;
    private Dictionary<CaptureId, List<IOperation>>? _captures;
    private HashSet<ISymbol>? _assigned;
    private Dictionary<ILocalSymbol, LocalWrites>? _localWrites;
    private Dictionary<ILocalSymbol, List<ILocalSymbol>>? _copies;
    private Dictionary<ISymbol, List<SyntaxNode>>? _writes;
    private HashSet<string>? _namedInClosures;
    private bool? _jumps;

    public ConditionFacts(LeakFlowAnalysis analysis)
    {
        _analysis = analysis;
    }

    private Dictionary<Fact, int> Indexes => _indexes ??= FindFacts();

    /// <summary>
    /// The state on the branch where <paramref name="condition"/> is <paramref name="outcome"/>, with what the condition says
    /// remembered; null when an earlier test on the path said the opposite.
    /// </summary>
    public PathState? Assume(PathState state, IOperation condition, bool outcome)
    {
        if (Indexes.Count == 0 || Read(condition, depth: 0) is not var (tested, polarity))
        {
            return state;
        }

        if (!Indexes.TryGetValue(tested, out var index))
        {
            if (_untracked?.Contains(tested) == true)
            {
                // A fact the state has no room for: the walk would follow paths that contradict each other.
                _analysis.GiveUp();
            }

            return state;
        }

        var fact = outcome == polarity;
        var whenTrue = WhenTrue(index);
        var whenFalse = WhenFalse(index);
        if ((state.Flags & (fact ? whenFalse : whenTrue)) != 0 || ExcludedOnPath(state, index, fact))
        {
            return null;
        }

        var flags = state.Flags | (fact ? whenTrue : whenFalse);
        return flags == state.Flags ? state : new PathState(state.Status, state.Holders, state.ReleasedAt, flags);
    }

    /// <summary>
    /// Does what the path found of the same symbol rule out fact <paramref name="index"/> being <paramref name="holds"/>? A
    /// fact says the symbol is one of its values (null counting as a value of its own): two facts whose values do not
    /// meet cannot both hold, a fact cannot hold when one with more values does not, and cannot fail when one with fewer
    /// values holds. A bool's one fact, "it is true", has no sibling.
    /// </summary>
    private bool ExcludedOnPath(PathState state, int index, bool holds)
    {
        var tracked = _tracked!;
        var fact = tracked[index];
        for (var other = 0; other < tracked.Count; other++)
        {
            if (other == index || !SymbolEqualityComparer.Default.Equals(tracked[other].Symbol, fact.Symbol))
            {
                continue;
            }

            var otherHolds = (state.Flags & WhenTrue(other)) != 0;
            var otherFails = (state.Flags & WhenFalse(other)) != 0;
            if (holds ? (otherHolds && !fact.Meets(tracked[other])) || (otherFails && fact.Within(tracked[other])) : otherHolds && tracked[other].Within(fact))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// What <paramref name="condition"/> tests: a fact of a symbol, and the outcome that means the fact holds; null when it
    /// tests something else.
    /// </summary>
    private (Fact Fact, bool Polarity)? Read(IOperation? condition, int depth)
    {
        if (depth > 4)
        {
            return null;
        }

        switch (TrackedVariables.Unwrap(condition))
        {
            case IUnaryOperation { OperatorKind: UnaryOperatorKind.Not } not:
                return Read(not.Operand, depth + 1) is var (negated, polarity) ? (negated, !polarity) : null;
            case { } test when ConstantTest(test, depth) is { } constantTest:
                // 'mode == Mode.Own', 'mode is not 2', a switch's 'Mode.Own =>' arm, 'owned is true' on a 'bool?'.
                return constantTest;
            case IBinaryOperation binary when ComparedToBool(binary) is var (operand, same):
                return Read(operand, depth + 1) is var (boolTested, boolPolarity) ? (boolTested, boolPolarity == same) : null;
            case IIsPatternOperation { Value: var tested, Pattern: var pattern } when BoolPattern(pattern) is { } matches:
                // 'owned is true', 'owned is not false', a switch's 'true =>' arm.
                return Read(tested, depth + 1) is var (patternTested, patternPolarity) ? (patternTested, patternPolarity == matches) : null;
            case { } test when NullTest(test) is var (operand, whenNull):
                return Stable(operand, depth) is { } nullTested ? (new Fact(nullTested, Fact.Itself), whenNull) : Mirror(test, operand, whenNull);
            case ILocalReferenceOperation { Local: { Type.SpecialType: SpecialType.System_Boolean } local }
                when !local.IsRef && Read(_analysis.Origins.SingleValue(local), depth + 1) is { } derived:
                // 'var owned = _external is null; ... if (owned)': a local assigned once from a remembered condition. A local
                // written once from anything else ('var fromCache = _cache.TryGetValue(key, out conn)') is a fact itself.
                return derived;
            case { Type.SpecialType: SpecialType.System_Boolean } flag when Stable(flag, depth) is { } boolean:
                return (new Fact(boolean, Fact.Itself), true);
            default:
                return null;
        }
    }

    /// <summary>
    /// The one value a bool must have to match <paramref name="pattern"/> (<c>true</c>, <c>not false</c>); null for a pattern
    /// that either value matches, or neither, or that is not on a bool.
    /// </summary>
    internal static bool? BoolPattern(IPatternOperation pattern)
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
    /// A comparison of a stable field or parameter with a constant (<c>mode == Mode.Own</c>, <c>2 != level</c>,
    /// <c>kind is "own"</c>, <c>owned is not true</c> on a <c>bool?</c>): the fact that it equals the constant, and the
    /// outcome that means it does. Null for a plain bool (read as a flag), a floating-point value (<c>is double.NaN</c>
    /// and <c>== double.NaN</c> disagree), a user-defined <c>==</c>, or a conversion that can change the value.
    /// </summary>
    private (Fact Fact, bool Polarity)? ConstantTest(IOperation test, int depth)
    {
        IOperation operand;
        object? value;
        bool polarity;
        switch (test)
        {
            case IIsPatternOperation { Pattern: INegatedPatternOperation { Pattern: var negated } } isPattern:
                (operand, value, polarity) = (isPattern.Value, PatternValue(negated), false);
                break;
            case IIsPatternOperation isPattern:
                // 'mode is Mode.Own', 'mode is Mode.Own or Mode.Lease', 'level is >= 1 and <= 3'.
                (operand, value, polarity) = (isPattern.Value, PatternValue(isPattern.Pattern), true);
                break;
            case IBinaryOperation { OperatorKind: BinaryOperatorKind.LessThan or BinaryOperatorKind.LessThanOrEqual or BinaryOperatorKind.GreaterThan or BinaryOperatorKind.GreaterThanOrEqual } binary
                when binary.OperatorMethod is null or { ContainingType.SpecialType: SpecialType.System_Decimal }:
                // 'level > 2', '2 < level': the fact that it lies in the range.
                (operand, value) = ConstantOf(binary.RightOperand) is { } bound
                    ? (binary.LeftOperand, Range.Of(binary.OperatorKind, bound))
                    : (binary.RightOperand, Range.Of(Range.Flip(binary.OperatorKind), ConstantOf(binary.LeftOperand)));
                polarity = true;
                break;
            case IBinaryOperation { OperatorKind: BinaryOperatorKind.Equals or BinaryOperatorKind.NotEquals } binary
                when binary.OperatorMethod is null or { ContainingType.SpecialType: SpecialType.System_String or SpecialType.System_Decimal }:
                (operand, value) = ConstantOf(binary.RightOperand) is { } right ? (binary.LeftOperand, right) : (binary.RightOperand, ConstantOf(binary.LeftOperand));
                polarity = binary.OperatorKind == BinaryOperatorKind.Equals;
                break;
            case IInvocationOperation { TargetMethod: { Name: "GetValueOrDefault", Parameters.Length: 0 } method, Instance: { } instance }
                when IsNullable(method.ContainingType) && method.ReturnType.SpecialType == SpecialType.System_Boolean:
                // 'own.GetValueOrDefault()' on a 'bool?' is 'own is true'; so is 'own.Value' (where it does not throw).
                (operand, value, polarity) = (instance, true, true);
                break;
            case IPropertyReferenceOperation { Property: { Name: "Value" } property, Instance: { } instance }
                when IsNullable(property.ContainingType) && property.Type.SpecialType == SpecialType.System_Boolean:
                (operand, value, polarity) = (instance, true, true);
                break;
            default:
                return null;
        }

        // The symbol's own type: '(bool?)flag == true' reads a plain bool, whose fact is the flag itself.
        if (value is null || StableValue(operand, depth) is not { } symbol || TypeOf(symbol) is not { } type || !HasConstantFacts(type))
        {
            return null;
        }

        // On a whole number, 'level > 0' and 'level >= 1' say the same: its ranges take the whole numbers they hold as bounds.
        return (new Fact(symbol, value is Range range && IsWholeNumber(type) ? range.OnWholeNumbers() : value), polarity);
    }

    /// <summary>An integer, a <c>char</c>, an enum, or one of them made nullable: values a range holds whole numbers of.</summary>
    private static bool IsWholeNumber(ITypeSymbol type)
    {
        type = WithoutNullable(type);
        return type.TypeKind == TypeKind.Enum
            || type.SpecialType is SpecialType.System_Char or SpecialType.System_SByte or SpecialType.System_Byte or SpecialType.System_Int16
                or SpecialType.System_UInt16 or SpecialType.System_Int32 or SpecialType.System_UInt32 or SpecialType.System_Int64 or SpecialType.System_UInt64;
    }

    /// <summary>The <c>T</c> of a <c>T?</c> value type; <paramref name="type"/> itself otherwise.</summary>
    private static ITypeSymbol WithoutNullable(ITypeSymbol type) =>
        type is INamedTypeSymbol { OriginalDefinition.SpecialType: SpecialType.System_Nullable_T, TypeArguments.Length: 1 } nullable ? nullable.TypeArguments[0] : type;

    /// <summary>
    /// What a value must be to match <paramref name="pattern"/>: a constant, one of several (<see cref="ValueSet"/>), or a
    /// range (<see cref="Range"/>); null for a pattern that says something else (a type, <c>null</c>, a property).
    /// </summary>
    private static object? PatternValue(IPatternOperation pattern) => pattern switch
    {
        IConstantPatternOperation constant => ConstantOf(constant.Value),
        IBinaryPatternOperation { OperatorKind: BinaryOperatorKind.Or } either => ValueSet.Of(either),
        IRelationalPatternOperation relational => Range.Of(relational.OperatorKind, ConstantOf(relational.Value)),
        IBinaryPatternOperation { OperatorKind: BinaryOperatorKind.And } both
            when PatternValue(both.LeftPattern) is Range left && PatternValue(both.RightPattern) is Range right => left.And(right),
        _ => null,
    };

    /// <summary>
    /// The non-null value of a constant that a fact can name: a string, a bool, or a number (integers, chars and enums as
    /// the <see cref="decimal"/> they equal, so <c>2</c> and <c>2L</c> name one fact); null for anything else.
    /// </summary>
    private static object? ConstantOf(IOperation operation)
    {
        var constant = operation.ConstantValue.HasValue ? operation : WithoutWidening(operation);
        return constant.ConstantValue is { HasValue: true, Value: { } value } ? value switch
        {
            string or bool or decimal => value,
            char character => (decimal)character,
            sbyte or byte or short or ushort or int or uint or long or ulong => System.Convert.ToDecimal(value, System.Globalization.CultureInfo.InvariantCulture),
            _ => null,
        } : null;
    }

    /// <summary>The types whose comparisons with a constant are facts: enums, integers, chars, strings, decimals, and their nullable forms, and <c>bool?</c>.</summary>
    private static bool HasConstantFacts(ITypeSymbol? type)
    {
        if (type is null)
        {
            return false;
        }

        var value = WithoutNullable(type);
        return IsWholeNumber(value)
            || value.SpecialType is SpecialType.System_String or SpecialType.System_Decimal
            || (value.SpecialType == SpecialType.System_Boolean && !ReferenceEquals(value, type));
    }

    /// <summary>
    /// The field or parameter <paramref name="operation"/> reads with its value unchanged (through widening and nullable
    /// conversions and the graph's capture of a switch value); null when a conversion could change it (<c>(byte)level</c>).
    /// </summary>
    private ISymbol? StableValue(IOperation operation, int depth)
    {
        var read = WithoutWidening(operation);
        if (read is IFlowCaptureReferenceOperation capture)
        {
            return depth < 4 && CapturedValues(capture.Id) is { Count: 1 } values ? StableValue(values[0], depth + 1) : null;
        }

        return read is IFieldReferenceOperation or IParameterReferenceOperation or ILocalReferenceOperation or IPropertyReferenceOperation ? Stable(read, depth) : null;
    }

    private static ITypeSymbol? TypeOf(ISymbol symbol) => symbol switch
    {
        IFieldSymbol field => field.Type,
        IParameterSymbol parameter => parameter.Type,
        ILocalSymbol local => local.Type,
        IPropertySymbol property => property.Type,
        _ => null,
    };

    /// <summary><paramref name="operation"/> without the implicit conversions that keep its value (identity, numeric widening, to a nullable type).</summary>
    private static IOperation WithoutWidening(IOperation operation)
    {
        while (operation is IConversionOperation { Conversion: var conversion } converted
               && (conversion.IsIdentity || (conversion.IsImplicit && (conversion.IsNumeric || conversion.IsNullable))))
        {
            operation = converted.Operand;
        }

        return operation;
    }

    /// <summary>
    /// Has an earlier test on the path said that <paramref name="operand"/>, a field or parameter that the method tests
    /// more than once, is null?
    /// </summary>
    public bool IsKnownNull(PathState state, IOperation operand) =>
        Indexes.Count > 0
        && Stable(operand, depth: 0) is { } symbol
        && Indexes.TryGetValue(new Fact(symbol, Fact.Itself), out var index)
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

    /// <summary>
    /// A read-only field, a get-only (or init-only) auto-property, a parameter or a local written once (also through a flow
    /// capture) that the graph never assigns; null for anything else.
    /// </summary>
    public ISymbol? Unchanging(IOperation? operation) =>
        Stable(operation, depth: 0) is { } symbol
        && symbol is not (IFieldSymbol { IsReadOnly: false } or IPropertySymbol { SetMethod.IsInitOnly: false })
        && (symbol is not ILocalSymbol local || SingleWrite(local) is not null)
            ? symbol
            : null;

    /// <summary>
    /// A field or plain auto-property of <c>this</c>, a parameter, or a local written once (also through a flow capture)
    /// that the graph never assigns.
    /// </summary>
    private ISymbol? Stable(IOperation? operation, int depth)
    {
        var symbol = TrackedVariables.Unwrap(operation) switch
        {
            IFlowCaptureReferenceOperation capture when depth < 4 && CapturedValues(capture.Id) is { Count: 1 } values => Stable(values[0], depth + 1),
            IPropertyReferenceOperation { Instance: IInstanceReferenceOperation, Property: var property } when IsPlainAutoProperty(property) => property,
            ILocalReferenceOperation { Local: var local } when SingleWrite(local) is null && !IsForgottenAtItsWrite(local) => null,
            var read => Variable(read, depth),
        };
        return symbol is not null && !Assigned.Contains(symbol) ? symbol : null;
    }

    /// <summary>
    /// A null test of a variable the method writes only later (<c>connection ??= await OpenAsync()</c> after
    /// <c>var owned = connection is null;</c>): it says what a <c>bool</c> local written once from a null test of the same
    /// variable said, when that local was written before it and every write of the variable comes at or after it (no loop,
    /// no <c>goto</c>, no lambda naming either). The fact is the local's. Null otherwise.
    /// </summary>
    private (Fact Fact, bool Polarity)? Mirror(IOperation test, IOperation operand, bool whenNull)
    {
        if (Variable(operand, depth: 0) is not { } tested)
        {
            return null;
        }

        var writes = _writes ??= FindWrites();
        if (Jumps || NamedInClosures.Contains(tested.Name) || InLoop(test.Syntax)
            || (writes.TryGetValue(tested, out var written) && written.Any(write => write.Span.End < test.Syntax.Span.End)))
        {
            return null;
        }

        foreach (var local in _analysis.OwnLocals)
        {
            if (local.Type.SpecialType == SpecialType.System_Boolean
                && SingleWrite(local) is { } localWrite
                && localWrite.Syntax.Span.End <= test.Syntax.SpanStart
                && _analysis.Origins.SingleValue(local) is { } value
                && NullTest(value) is var (mirrored, localWhenNull)
                && SymbolEqualityComparer.Default.Equals(Variable(mirrored, depth: 0), tested))
            {
                // The test is true when 'tested' is null == whenNull; the local is true when it is null == localWhenNull.
                return (new Fact(local, Fact.Itself), whenNull == localWhenNull);
            }
        }

        return null;
    }

    /// <summary>The parameter, field of <c>this</c> or local <paramref name="operation"/> reads (also through a capture).</summary>
    private ISymbol? Variable(IOperation? operation, int depth) => TrackedVariables.Unwrap(operation) switch
    {
        IFlowCaptureReferenceOperation capture when depth < 4 && CapturedValues(capture.Id) is { Count: 1 } values => Variable(values[0], depth + 1),
        IFieldReferenceOperation { Instance: null or IInstanceReferenceOperation } field => field.Field,
        IParameterReferenceOperation { Parameter.RefKind: RefKind.None } parameter => parameter.Parameter,
        ILocalReferenceOperation { Local.IsRef: false } local => local.Local,
        _ => null,
    };

    /// <summary>
    /// Every write of a parameter, field of <c>this</c> or local in the graph, by the variable written: the syntax that
    /// ends when the write is done (a whole assignment for a target the graph captures before computing the value).
    /// </summary>
    private Dictionary<ISymbol, List<SyntaxNode>> FindWrites()
    {
        var writes = new Dictionary<ISymbol, List<SyntaxNode>>(SymbolEqualityComparer.Default);
        foreach (var node in AllOperations())
        {
            var target = WriteTarget(node);
            if (target is not null && Variable(target, depth: 4) is { } variable)
            {
                if (!writes.TryGetValue(variable, out var list))
                {
                    writes.Add(variable, list = new List<SyntaxNode>());
                }

                list.Add(node is IFlowCaptureOperation ? node.Syntax.FirstAncestorOrSelf<AssignmentExpressionSyntax>() ?? node.Syntax : node.Syntax);
            }
        }

        return writes;
    }

    /// <summary>
    /// An auto-property of the type whose getter only reads its backing field (<c>public bool OwnsConnection { get; }</c>)
    /// and that no derived type can override: read like that field.
    /// </summary>
    private static bool IsPlainAutoProperty(IPropertySymbol property) =>
        property is { IsIndexer: false, GetMethod: { } getter }
        && (!(property.IsVirtual || property.IsAbstract || property.IsOverride) || property.IsSealed || property.ContainingType.IsSealed)
        && OwnerWalk.IsAutoProperty(property)
        && getter.DeclaringSyntaxReferences.All(reference => reference.GetSyntax() is AccessorDeclarationSyntax { Body: null, ExpressionBody: null });

    /// <summary>
    /// The one write of <paramref name="local"/>, a local of this graph, when it is written exactly once, by a write that
    /// runs at most once (in no loop, in a graph without <c>goto</c>), and named by no lambda or local function (which
    /// could write it at any time): its value then never changes once a test can read it. Null otherwise.
    /// </summary>
    private IOperation? SingleWrite(ILocalSymbol local) =>
        WritesOf(local) is { Single: { } write }
            && !Jumps
            && !InLoop(write.Syntax)
            && !local.DeclaringSyntaxReferences.Any(reference => InLoop(reference.GetSyntax()))
            ? write
            : null;

    /// <summary>
    /// The other locals that hold what <paramref name="value"/>, a read of a local, holds wherever either is read: locals
    /// written once (see <see cref="SingleWrite"/>), each by a copy of another of them (<c>var copy = conn; var opened =
    /// copy;</c>, through conversions that keep the object). Empty when <paramref name="value"/> reads no local written once.
    /// </summary>
    public IEnumerable<ILocalSymbol> CopiesOf(IOperation? value)
    {
        var links = _copies ??= FindCopies();
        if (CopiedLocal(value) is not { } local || !links.ContainsKey(local))
        {
            yield break;
        }

        var seen = new HashSet<ILocalSymbol>(SymbolEqualityComparer.Default) { local };
        var pending = new Stack<ILocalSymbol>();
        pending.Push(local);
        while (pending.Count > 0)
        {
            foreach (var next in links[pending.Pop()])
            {
                if (seen.Add(next))
                {
                    yield return next;
                    pending.Push(next);
                }
            }
        }
    }

    /// <summary>The copies between locals written once, both ways: <c>var copy = conn;</c> links <c>copy</c> and <c>conn</c>.</summary>
    private Dictionary<ILocalSymbol, List<ILocalSymbol>> FindCopies()
    {
        var links = new Dictionary<ILocalSymbol, List<ILocalSymbol>>(SymbolEqualityComparer.Default);
        foreach (var local in _analysis.OwnLocals)
        {
            if (SingleWrite(local) is ISimpleAssignmentOperation { IsRef: false, Value: var value }
                && CopiedLocal(value) is { } source
                && !SymbolEqualityComparer.Default.Equals(source, local)
                && SingleWrite(source) is not null)
            {
                Link(local, source);
                Link(source, local);
            }
        }

        return links;

        void Link(ILocalSymbol from, ILocalSymbol to)
        {
            if (!links.TryGetValue(from, out var list))
            {
                links.Add(from, list = new List<ILocalSymbol>());
            }

            list.Add(to);
        }
    }

    /// <summary>The local <paramref name="value"/> reads, through conversions that keep the object; null otherwise.</summary>
    private static ILocalSymbol? CopiedLocal(IOperation? value) =>
        TrackedVariables.WithoutReferenceConversions(value) is ILocalReferenceOperation { Local: var copied } ? copied : null;

    /// <summary>
    /// The writes of <paramref name="local"/>, when it is a local of this graph (not a <c>ref</c> alias) that no lambda or
    /// local function names (which could write it at any time); null otherwise.
    /// </summary>
    private LocalWrites? WritesOf(ILocalSymbol local) =>
        !local.IsRef
        && _analysis.OwnLocals.Contains(local)
        && (_localWrites ??= FindLocalWrites()).TryGetValue(local, out var writes)
        && !NamedInClosures.Contains(local.Name)
            ? writes
            : null;

    /// <summary>
    /// Is <paramref name="local"/>, a local of this graph named by no lambda or local function, written by plain assignments
    /// alone: one (<c>var own = item.Own;</c>), or several when it is a value compared with constants (<c>var mode =
    /// Mode.Borrow; if (x) mode = options.Mode;</c>)? Then every write is one the walk sees, and <see cref="Forget"/> drops
    /// what the path knew of the local's old value each time one runs: a local of a loop's body is remembered within an
    /// iteration. A plain <c>bool</c> written more than once is a 'released' flag (<see cref="ReleaseFlags"/>), and a
    /// reference other than a string written more than once is mostly the connection's own variable: neither has
    /// constant facts.
    /// </summary>
    private bool IsForgottenAtItsWrite(ILocalSymbol local) =>
        WritesOf(local) is { Plain: true } writes && (writes.Count == 1 || HasConstantFacts(local.Type));

    /// <summary>
    /// The state after <paramref name="local"/> is assigned: nothing the path's tests said of its old value holds any more.
    /// </summary>
    public PathState Forget(PathState state, ILocalSymbol local)
    {
        // No bit is set before the first test computes the facts.
        if (_indexes is not { Count: > 0 })
        {
            return state;
        }

        var mask = 0UL;
        for (var index = 0; index < _tracked!.Count; index++)
        {
            if (SymbolEqualityComparer.Default.Equals(_tracked[index].Symbol, local))
            {
                mask |= WhenTrue(index) | WhenFalse(index);
            }
        }

        var flags = state.Flags & ~mask;
        return flags == state.Flags ? state : new PathState(state.Status, state.Holders, state.ReleasedAt, flags);
    }

    /// <summary>The names the graph's lambdas and local functions use: a local among them may change behind the path's back.</summary>
    private HashSet<string> NamedInClosures => _namedInClosures ??= FindNamesInClosures();

    /// <summary>Does the graph's code have a <c>goto</c> (which may run a write again)?</summary>
    private bool Jumps => _jumps ??= _analysis.Graph.OriginalOperation.Syntax.DescendantNodes().OfType<GotoStatementSyntax>().Any();

    private HashSet<string> FindNamesInClosures()
    {
        var closures = AllOperations().OfType<IFlowAnonymousFunctionOperation>().Select(lambda => lambda.Syntax)
            .Concat(_analysis.Graph.LocalFunctions.SelectMany(localFunction => localFunction.DeclaringSyntaxReferences).Select(reference => reference.GetSyntax()));
        return new HashSet<string>(closures.SelectMany(closure => closure.DescendantNodes().OfType<IdentifierNameSyntax>()).Select(name => name.Identifier.ValueText));
    }

    /// <summary>Is <paramref name="node"/> in a loop of this graph's own code (a loop around a lambda runs new walks)?</summary>
    private bool InLoop(SyntaxNode node)
    {
        var root = _analysis.Graph.OriginalOperation.Syntax;
        for (var current = node; current is not null && current != root; current = current.Parent)
        {
            if (current is WhileStatementSyntax or DoStatementSyntax or ForStatementSyntax or CommonForEachStatementSyntax)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Each local of the graph with its writes: how many, the one write when there is exactly one, and whether all are plain
    /// assignments. A write that may run again unseen (by <c>ref</c>, a compound assignment, <c>++</c>, a <c>ref</c> local
    /// bound to it) leaves no single write and none plain.
    /// </summary>
    private Dictionary<ILocalSymbol, LocalWrites> FindLocalWrites()
    {
        var writes = new Dictionary<ILocalSymbol, LocalWrites>(SymbolEqualityComparer.Default);
        foreach (var node in AllOperations())
        {
            switch (node)
            {
                case ISimpleAssignmentOperation { IsRef: true } refAssignment:
                    Write(refAssignment.Target, refAssignment, plain: false);
                    Again(refAssignment.Value);
                    break;
                case ISimpleAssignmentOperation assignment:
                    Write(assignment.Target, assignment, plain: true);
                    break;
                case IDeconstructionAssignmentOperation deconstruction:
                    foreach (var target in deconstruction.Target.DescendantsAndSelf())
                    {
                        Write(target, deconstruction, plain: false);
                    }

                    break;
                case IAssignmentOperation other:
                    Again(other.Target);
                    break;
                case IIncrementOrDecrementOperation increment:
                    Again(increment.Target);
                    break;
                case IAddressOfOperation addressOf:
                    Again(addressOf.Reference);
                    break;
                case IArgumentOperation { Parameter.RefKind: RefKind.Out } output:
                    Write(output.Value, output, plain: false);
                    break;
                case IArgumentOperation { Parameter.RefKind: RefKind.Ref } byReference:
                    Again(byReference.Value);
                    break;
                case IDeclarationPatternOperation { DeclaredSymbol: ILocalSymbol declared } pattern:
                    Add(declared, pattern, plain: false);
                    break;
                case IRecursivePatternOperation { DeclaredSymbol: ILocalSymbol declared } pattern:
                    Add(declared, pattern, plain: false);
                    break;
                case IFlowCaptureOperation capture when _analysis.Variables.AssignedCaptures.Contains(capture.Id):
                    // 'own = own && check': the graph captures the target before it computes the value, and assigns the
                    // capture (the walk sees that assignment as one to the local).
                    Write(capture.Value, capture, plain: true);
                    break;
            }
        }

        return writes;

        void Write(IOperation target, IOperation write, bool plain)
        {
            if (TrackedVariables.Unwrap(target) is ILocalReferenceOperation { Local: var local })
            {
                Add(local, write, plain);
            }
        }

        void Again(IOperation target)
        {
            if (TrackedVariables.Unwrap(target) is ILocalReferenceOperation { Local: var local })
            {
                writes[local] = new LocalWrites(null, int.MaxValue, plain: false);
            }
        }

        void Add(ILocalSymbol local, IOperation write, bool plain) =>
            writes[local] = writes.TryGetValue(local, out var before)
                ? new LocalWrites(null, before.Count == int.MaxValue ? int.MaxValue : before.Count + 1, before.Plain && plain)
                : new LocalWrites(write, 1, plain);
    }

    /// <summary>What <see cref="FindLocalWrites"/> found of one local.</summary>
    private readonly struct LocalWrites
    {
        public LocalWrites(IOperation? single, int count, bool plain)
        {
            Single = single;
            Count = count;
            Plain = plain;
        }

        /// <summary>The one write, when there is exactly one and none that may run again unseen.</summary>
        public IOperation? Single { get; }

        public int Count { get; }

        /// <summary>Are all the writes plain assignments, which the walk sees?</summary>
        public bool Plain { get; }
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
    /// <c>x is null</c>, <c>x is not null</c>, a pattern that fails only on null (<c>x is { Connection: var c }</c>,
    /// see <see cref="ConditionRefinement.MatchesEveryNonNull"/>), and the graph's own test of <c>x ?? y</c> and
    /// <c>x?.M()</c>; null for any other condition (a negation is the caller's to undo).
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
            case IIsPatternOperation { Pattern: INegatedPatternOperation { Pattern: var negated } } isPattern
                when ConditionRefinement.MatchesEveryNonNull(negated, isPattern.Value.Type):
                return (isPattern.Value, true);
            case IIsPatternOperation isPattern when ConditionRefinement.MatchesEveryNonNull(isPattern.Pattern, isPattern.Value.Type):
                // 'x is { }', 'x is T t' of its own type, 'x is { Connection: var c }', 'x is (var c, _)': false only
                // when null.
                return (isPattern.Value, false);
            case IPropertyReferenceOperation { Property.Name: "HasValue", Instance: { } instance } hasValue when IsNullable(hasValue.Property.ContainingType):
                // 'x.HasValue' is 'x != null'.
                return (instance, false);
            default:
                return null;
        }
    }

    private static bool IsNullable(ITypeSymbol type) => type.OriginalDefinition.SpecialType == SpecialType.System_Nullable_T;

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

    /// <summary>What <paramref name="node"/> writes: an assignment's target, a <c>ref</c>/<c>out</c> argument, a captured target; null otherwise.</summary>
    private IOperation? WriteTarget(IOperation node) => node switch
    {
        IAssignmentOperation assignment => assignment.Target,
        IIncrementOrDecrementOperation increment => increment.Target,
        IArgumentOperation { Parameter.RefKind: RefKind.Ref or RefKind.Out } byRef => byRef.Value,
        IFlowCaptureOperation capture when _analysis.Variables.AssignedCaptures.Contains(capture.Id) => capture.Value,
        _ => null,
    };

    private HashSet<ISymbol> FindAssigned()
    {
        var assigned = new HashSet<ISymbol>(SymbolEqualityComparer.Default);
        foreach (var node in AllOperations())
        {
            var target = WriteTarget(node);
            switch (TrackedVariables.Unwrap(target))
            {
                case IFieldReferenceOperation field:
                    assigned.Add(field.Field);
                    break;
                case IParameterReferenceOperation parameter:
                    assigned.Add(parameter.Parameter);
                    break;
                case IPropertyReferenceOperation { Instance: IInstanceReferenceOperation } property:
                    assigned.Add(property.Property);
                    break;
            }
        }

        return assigned;
    }

    /// <summary>
    /// The facts tested by at least two branches (only a second test can use what the first one said), and those tested
    /// once whose symbol another branch tests for another fact. At most <see cref="MaxFacts"/>, null tests and bools first, then
    /// constants tested twice. The walk gives up on a path that tests a fact tested twice and left out; a comparison
    /// tested once that found no room is not remembered (a switch's many cases do not stop the walk).
    /// </summary>
    private Dictionary<Fact, int> FindFacts()
    {
        var tests = new Dictionary<Fact, int>();
        foreach (var block in _analysis.Graph.Blocks)
        {
            if (block.ConditionalSuccessor is null)
            {
                continue;
            }

            if (Read(block.BranchValue, depth: 0) is var (fact, _))
            {
                Count(tests, fact);
            }
            else if (ComparedOperands(block.BranchValue) is var (left, right, _))
            {
                // 'if (conn != _external) conn.Dispose();': a test of what '_external ?? Open()' chose, which the
                // refinement reads once the path knows whether '_external' is null.
                CountStable(tests, left);
                CountStable(tests, right);
            }
        }

        // A fact tested once still tells something when its symbol is tested again for another fact ('mode switch
        // { Mode.Own => Open(), ... }' then 'if (mode != Mode.Borrow)', or 'if (kind != null)'): any two facts of one symbol
        // exclude each other. Only a symbol compared with a constant has two facts.
        var symbolTests = new Dictionary<ISymbol, int>(SymbolEqualityComparer.Default);
        foreach (var entry in tests)
        {
            symbolTests[entry.Key.Symbol] = (symbolTests.TryGetValue(entry.Key.Symbol, out var count) ? count : 0) + entry.Value;
        }

        var indexes = new Dictionary<Fact, int>();
        _tracked = new List<Fact>();
        for (var round = 0; round < 3; round++)
        {
            foreach (var entry in tests)
            {
                var wanted = round switch
                {
                    0 => !entry.Key.IsConstant && entry.Value >= 2,
                    1 => entry.Key.IsConstant && entry.Value >= 2,
                    _ => entry.Value < 2 && symbolTests[entry.Key.Symbol] >= 2,
                };
                if (!wanted)
                {
                    continue;
                }

                if (indexes.Count < MaxFacts)
                {
                    indexes.Add(entry.Key, indexes.Count);
                    _tracked.Add(entry.Key);
                }
                else if (round < 2)
                {
                    (_untracked ??= new HashSet<Fact>()).Add(entry.Key);
                }
            }
        }

        return indexes;
    }

    private static void Count(Dictionary<Fact, int> tests, Fact fact) =>
        tests[fact] = tests.TryGetValue(fact, out var count) ? count + 1 : 1;

    private void CountStable(Dictionary<Fact, int> tests, IOperation operand)
    {
        if (Stable(operand, depth: 0) is { } symbol)
        {
            Count(tests, new Fact(symbol, Fact.Itself));
        }
    }

    /// <summary>
    /// What one remembered fact says of its symbol: that it is null or true (<see cref="Itself"/>), that it equals
    /// <see cref="Value"/>, that it equals one of the constants of a <see cref="ValueSet"/>, or that it lies in a
    /// <see cref="Range"/>.
    /// </summary>
    private readonly struct Fact : System.IEquatable<Fact>
    {
        /// <summary>The value of a null test or a bool flag: the fact is the symbol itself ("is null", "is true").</summary>
        public static readonly object Itself = new();

        public Fact(ISymbol symbol, object value)
        {
            Symbol = symbol;
            Value = value;
        }

        public ISymbol Symbol { get; }

        public object Value { get; }

        public bool IsConstant => !ReferenceEquals(Value, Itself);

        /// <summary>
        /// Can this fact and <paramref name="other"/>, of the same symbol, hold together (do their values meet)? True when
        /// not known otherwise.
        /// </summary>
        public bool Meets(Fact other) => (Value, other.Value) switch
        {
            (Range range, Range otherRange) => range.Meets(otherRange),
            (Range range, var values) => Points(values).Any(range.Contains),
            (var values, Range range) => Points(values).Any(range.Contains),
            var (values, otherValues) => Points(values).Any(Points(otherValues).Contains),
        };

        /// <summary>
        /// Is every value of this fact one of <paramref name="other"/>'s (does this fact holding make it hold)? False when
        /// not known.
        /// </summary>
        public bool Within(Fact other) => (Value, other.Value) switch
        {
            (Range range, Range otherRange) => range.Within(otherRange),
            (Range, _) => false,
            (var values, Range range) => Points(values).All(range.Contains),
            var (values, otherValues) => Points(values).All(Points(otherValues).Contains),
        };

        private static IReadOnlyCollection<object> Points(object value) => value is ValueSet set ? set.Values : new[] { value };

        public bool Equals(Fact other) => SymbolEqualityComparer.Default.Equals(Symbol, other.Symbol) && object.Equals(Value, other.Value);

        public override bool Equals(object? obj) => obj is Fact other && Equals(other);

        public override int GetHashCode() => unchecked((SymbolEqualityComparer.Default.GetHashCode(Symbol) * 31) + Value.GetHashCode());
    }

    /// <summary>The constants of an <c>or</c> pattern (<c>Mode.Own or Mode.Lease</c>), as one fact's value; equal when they hold the same constants.</summary>
    private sealed class ValueSet : System.IEquatable<ValueSet>
    {
        private ValueSet(HashSet<object> values)
        {
            Values = values;
        }

        public HashSet<object> Values { get; }

        /// <summary>
        /// The constants <paramref name="pattern"/> matches when it is made of constant patterns and <c>or</c> alone; a single
        /// constant when they are all the same one; null otherwise (<c>null or Mode.Own</c>, a relational pattern, a type).
        /// </summary>
        public static object? Of(IBinaryPatternOperation pattern)
        {
            var values = new HashSet<object>();
            if (!Collect(pattern, values, depth: 0))
            {
                return null;
            }

            return values.Count == 1 ? values.First() : new ValueSet(values);
        }

        public bool Equals(ValueSet? other) => other is not null && Values.SetEquals(other.Values);

        public override bool Equals(object? obj) => obj is ValueSet other && Equals(other);

        public override int GetHashCode() => Values.Aggregate(Values.Count, (hash, value) => hash ^ value.GetHashCode());

        private static bool Collect(IPatternOperation pattern, HashSet<object> values, int depth)
        {
            // 'A or B or C ...' nests to the left: that spine is walked whatever its length; a parenthesized right side
            // ('A or (B or C)') is followed a few levels deep.
            while (pattern is IBinaryPatternOperation { OperatorKind: BinaryOperatorKind.Or } either)
            {
                if (depth >= 16 || !Collect(either.RightPattern, values, depth + 1))
                {
                    return false;
                }

                pattern = either.LeftPattern;
            }

            return pattern is IConstantPatternOperation constant && ConstantOf(constant.Value) is { } value && (values.Add(value) || true);
        }
    }

    /// <summary>
    /// The numbers between two bounds, either of them open, included or absent (<c>level &gt; 2</c>, <c>is &gt;= 1 and
    /// &lt;= 3</c>), compared as real numbers: ranges that do not meet as reals hold no common integer either, and one within
    /// another as reals is within it as integers.
    /// </summary>
    private sealed class Range : System.IEquatable<Range>
    {
        private readonly decimal? _low;
        private readonly bool _lowIncluded;
        private readonly decimal? _high;
        private readonly bool _highIncluded;

        private Range(decimal? low, bool lowIncluded, decimal? high, bool highIncluded)
        {
            (_low, _lowIncluded, _high, _highIncluded) = (low, lowIncluded, high, highIncluded);
        }

        /// <summary>The values <c>value &lt;op&gt; bound</c> holds for; null when the bound is not a number.</summary>
        public static Range? Of(BinaryOperatorKind kind, object? bound) => bound is decimal number ? kind switch
        {
            BinaryOperatorKind.GreaterThan => new Range(number, false, null, false),
            BinaryOperatorKind.GreaterThanOrEqual => new Range(number, true, null, false),
            BinaryOperatorKind.LessThan => new Range(null, false, number, false),
            BinaryOperatorKind.LessThanOrEqual => new Range(null, false, number, true),
            _ => null,
        } : null;

        /// <summary>The operator that says the same with its operands swapped (<c>2 &lt; level</c> is <c>level &gt; 2</c>).</summary>
        public static BinaryOperatorKind Flip(BinaryOperatorKind kind) => kind switch
        {
            BinaryOperatorKind.GreaterThan => BinaryOperatorKind.LessThan,
            BinaryOperatorKind.GreaterThanOrEqual => BinaryOperatorKind.LessThanOrEqual,
            BinaryOperatorKind.LessThan => BinaryOperatorKind.GreaterThan,
            _ => BinaryOperatorKind.GreaterThanOrEqual,
        };

        /// <summary>The same range with included whole-number bounds (<c>&gt; 0</c> becomes <c>&gt;= 1</c>, <c>&lt; 2.5</c> becomes <c>&lt;= 2</c>).</summary>
        public Range OnWholeNumbers() =>
            _low == decimal.MaxValue || _high == decimal.MinValue
                ? this // a bound at the edge of decimal ('level > decimal.MaxValue'): no whole number lies past it to move it to
                : new(
                    _low is { } low ? (_lowIncluded ? decimal.Ceiling(low) : decimal.Floor(low) + 1) : null,
                    _low is not null,
                    _high is { } high ? (_highIncluded ? decimal.Floor(high) : decimal.Ceiling(high) - 1) : null,
                    _high is not null);

        public Range And(Range other)
        {
            var (low, lowIncluded) = Tighter(_low, _lowIncluded, other._low, other._lowIncluded, higher: true);
            var (high, highIncluded) = Tighter(_high, _highIncluded, other._high, other._highIncluded, higher: false);
            return new Range(low, lowIncluded, high, highIncluded);
        }

        public bool Contains(object value) =>
            value is decimal number
            && (_low is not { } low || number > low || (number == low && _lowIncluded))
            && (_high is not { } high || number < high || (number == high && _highIncluded));

        public bool Meets(Range other)
        {
            var both = And(other);
            return both._low is not { } low || both._high is not { } high || low < high || (low == high && both._lowIncluded && both._highIncluded);
        }

        public bool Within(Range other) =>
            (other._low is not { } otherLow || (_low is { } low && (low > otherLow || (low == otherLow && (other._lowIncluded || !_lowIncluded)))))
            && (other._high is not { } otherHigh || (_high is { } high && (high < otherHigh || (high == otherHigh && (other._highIncluded || !_highIncluded)))));

        public bool Equals(Range? other) =>
            other is not null && _low == other._low && _lowIncluded == other._lowIncluded && _high == other._high && _highIncluded == other._highIncluded;

        public override bool Equals(object? obj) => obj is Range other && Equals(other);

        public override int GetHashCode() => ((_low?.GetHashCode() ?? 0) * 31) ^ (_high?.GetHashCode() ?? 0) ^ (_lowIncluded ? 1 : 0) ^ (_highIncluded ? 2 : 0);

        /// <summary>Of two lower (or upper) bounds, the one that admits fewer values.</summary>
        private static (decimal? Bound, bool Included) Tighter(decimal? first, bool firstIncluded, decimal? second, bool secondIncluded, bool higher)
        {
            if (first is not { } a)
            {
                return (second, secondIncluded);
            }

            if (second is not { } b)
            {
                return (first, firstIncluded);
            }

            return a == b ? (a, firstIncluded && secondIncluded) : (higher ? a > b : a < b) ? (a, firstIncluded) : (b, secondIncluded);
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
