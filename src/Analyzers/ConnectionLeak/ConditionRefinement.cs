// The refinement on conditions: what a branch's condition proves about the resource on each side. A condition that is
// a compile-time constant, or a pattern tested on one (ConstantConditions), has one side only. A variable proven null,
// or a connection proven not open, needs no release; after a release, a branch that contradicts the release (the
// connection tested open, the 'released' flag tested false) is not taken.
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.FlowAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>Refines the path state on the two sides of a conditional branch.</summary>
internal sealed class ConditionRefinement
{
    private readonly LeakFlowAnalysis _analysis;

    public ConditionRefinement(LeakFlowAnalysis analysis)
    {
        _analysis = analysis;
    }

    /// <summary>
    /// The constant the acquiring call always returns when <paramref name="operand"/> is that call, or a local written
    /// only with its value; null otherwise.
    /// </summary>
    private bool? SiteResult(IOperation operand)
    {
        if (_analysis.Site is not { Result: { } result, Invocation: { } call })
        {
            return null;
        }

        var value = TrackedVariables.Unwrap(operand);
        if (value is ILocalReferenceOperation { Local: { IsRef: false } local })
        {
            value = TrackedVariables.Unwrap(_analysis.Origins.SingleValue(local));
        }

        return ReferenceEquals(value, call) ? result : null;
    }

    /// <summary>The state on the branch where <paramref name="condition"/> is <paramref name="outcome"/>; null when that branch cannot be taken.</summary>
    public PathState? Refine(PathState config, IOperation condition, bool outcome)
    {
        if (ConstantConditions.Outcome(_analysis, condition) is { } always)
        {
            // 'if (false)', 'const bool Audit = false; ... if (Audit)', 'while (true)', 'if (Audit is true)', a 'switch' on
            // a constant: the other side never runs.
            return always == outcome ? config : null;
        }

        if (config.Status is ResourceStatus.Held or ResourceStatus.Released
            && (_analysis.Flags.IsUntracked(condition) || _analysis.Nulls.IsUntracked(config, condition)
                || _analysis.Flags.IsSetWhereTheResourceIsReleased(condition, config, _analysis.Variables, _analysis.Context)))
        {
            // Both branches would be followed, one of them against what the path did: no report rather than a false one.
            _analysis.GiveUp();
            return config;
        }

        if (config.Status is ResourceStatus.Held or ResourceStatus.Released && _analysis.Flags.IsSetByAnUnseenCall(config, condition))
        {
            // A flag a virtual or interface method was given by reference: either side may be against what the path did.
            return _analysis.LeavePath();
        }

        if (_analysis.Nulls.Contradicts(config, condition, outcome))
        {
            // '(primary ?? fallback)?.Release()' where the path never assigned 'primary' since setting it to null.
            return null;
        }

        if (config.Status == ResourceStatus.Released && config.ReleasedAt != 0)
        {
            return RefineReleased(config, condition, outcome);
        }

        if (config.Status != ResourceStatus.Held)
        {
            return config;
        }

        if (_analysis.OwnerFields && OwnerWalk.Refine(_analysis, config, condition, outcome) is (true, var guarded))
        {
            return guarded;
        }

        switch (condition)
        {
            case IUnaryOperation { OperatorKind: UnaryOperatorKind.Not } not:
                return Refine(config, not.Operand, !outcome);
            case IBinaryOperation binary when ConditionFacts.ComparedToBool(binary) is var (operand, same):
                return Refine(config, operand, same == outcome);
            case not null when SiteResult(condition) is { } result:
                // 'TryGet(out var lease)' whose every return is 'return true;' (also through 'var ok = TryGet(...)' and
                // 'is false'): the branch on the other value is not taken.
                return result == outcome ? config : null;
            case IIsPatternOperation { Value: var tested, Pattern: var pattern }
                when SiteResult(tested) is { } value && ConditionFacts.BoolPattern(pattern) is { } matches:
                return (value == matches) == outcome ? config : null;
            case IInvocationOperation invocation when _analysis.Site is { OnlyWhenTrue: true } site && ReferenceEquals(invocation, site.Invocation):
                // 'TryCheckout(out var lease)' returned false: it acquired nothing.
                return outcome ? config : new PathState(ResourceStatus.Released, HolderSet.Empty, 0, config.Flags);
            case ILocalReferenceOperation local when _analysis.Flags.Value(config, local.Local) is { } flag:
                return flag == outcome ? config : null;
            case IIsNullOperation isNull:
                return outcome && _analysis.Variables.HeldBy(config, isNull.Operand) ? null : config;
            case not null when ConditionFacts.ComparedOperands(condition) is var (left, right, whenEqual) && ComparesHeldWithNull(config, left, right):
                // 'conn != _external', 'ReferenceEquals(conn, _external)'.
                return whenEqual == outcome ? null : config;
            case not null when IdentityTests.OutcomeWhenIdentical(_analysis, config, condition) is { } identical:
                // 'conn != _existing', 'IsExistingConnection(conn)': the connection followed is in no member.
                return identical == outcome ? null : config;
            case IPropertyReferenceOperation { Property.Name: "IsCompletedSuccessfully", Instance: { } task } when _analysis.Variables.HeldBy(config, task):
                // 'if (t.IsCompletedSuccessfully) t.Result.Release();': a task that did not complete successfully handed out no connection.
                return outcome ? config : new PathState(ResourceStatus.Released, HolderSet.Empty, 0, config.Flags);
            case IBinaryOperation binary when binary.OperatorKind is BinaryOperatorKind.Equals or BinaryOperatorKind.NotEquals:
            {
                if (IsNull(binary.RightOperand) || IsNull(binary.LeftOperand))
                {
                    var equalWhen = binary.OperatorKind == BinaryOperatorKind.Equals ? outcome : !outcome;
                    var variable = IsNull(binary.RightOperand) ? binary.LeftOperand : binary.RightOperand;
                    return equalWhen && _analysis.Variables.HeldBy(config, variable) ? null : config;
                }

                return RefineOpen(config, binary, outcome);
            }

            case IIsPatternOperation isPattern:
            {
                var (pattern, matches) = isPattern.Pattern is INegatedPatternOperation negated
                    ? (negated.Pattern, !outcome)
                    : (isPattern.Pattern, outcome);
                if (MatchesEveryNonNull(pattern, isPattern.Value.Type)
                    || (MatchesEveryNonNull(pattern, AcquiredType()) && _analysis.Variables.HeldBy(config, isPattern.Value)))
                {
                    // 'is { }', 'is T x' with the variable's own type, 'is { Connection: var c }' on a holder: no match
                    // means null. The value may be the acquisition itself, held by the pattern's local
                    // ('if (pool.GetConnection() is { } conn)').
                    return !matches && (_analysis.Variables.HeldBy(config, isPattern.Value) || _analysis.Variables.HeldBy(config, OperationTransfer.PatternLocal(pattern))) ? null : config;
                }

                if (pattern is IConstantPatternOperation constant && IsNull(constant.Value))
                {
                    return matches && _analysis.Variables.HeldBy(config, isPattern.Value) ? null : config;
                }

                return RefineOpen(config, isPattern, outcome);
            }

            case IIsTypeOperation { IsNegated: false } isType when Covers(isType.TypeOperand, isType.ValueOperand.Type) || Covers(isType.TypeOperand, AcquiredType()):
                // 'conn is object', 'conn is MySqlConnection': false only when null. So is 'holder is IDisposable' on an
                // 'object' variable that holds the connection: the object is of the type the acquisition gave.
                return !outcome && _analysis.Variables.HeldBy(config, isType.ValueOperand) ? null : config;
            case not null when ConditionFacts.NullTest(condition) is var (tested, whenNull):
                // 'lease.HasValue' of a 'Lease?': a variable that holds the resource is not null.
                return outcome == whenNull && _analysis.Variables.HeldBy(config, tested) ? null : config;
            default:
                return config;
        }
    }

    /// <summary>
    /// The type of the object the acquisition gave (the call's value, awaited when it is a task; the receiver of an
    /// <c>Open</c>): every variable that holds the connection holds an object of that type, whatever its declared type.
    /// </summary>
    private ITypeSymbol? AcquiredType() => _analysis.Site switch
    {
        { Kind: AcquisitionKind.Returned, EffectPoint.Type: { } type } => type,
        { Kind: AcquisitionKind.Opened, Acquiring: IInvocationOperation { Instance.Type: { } type } } => type,
        _ => null,
    };

    /// <summary>
    /// Does the comparison of <paramref name="left"/> and <paramref name="right"/> compare a variable that holds the
    /// connection on this path with a field or parameter the path knows to be null (<c>var conn = _external ?? Open();
    /// ... if (conn != _external) conn.Dispose();</c> on the branch that opened)? The two are never the same then.
    /// </summary>
    private bool ComparesHeldWithNull(PathState config, IOperation left, IOperation right) =>
        (_analysis.Variables.HeldBy(config, left) && _analysis.Facts.IsKnownNull(config, right))
        || (_analysis.Variables.HeldBy(config, right) && _analysis.Facts.IsKnownNull(config, left));

    /// <summary>
    /// After a release: a released connection is not open, and a 'released' flag set on this path is true. A branch that
    /// contradicts either is not taken.
    /// </summary>
    private PathState? RefineReleased(PathState config, IOperation condition, bool outcome)
    {
        switch (TrackedVariables.Unwrap(condition))
        {
            case IUnaryOperation { OperatorKind: UnaryOperatorKind.Not } not:
                return RefineReleased(config, not.Operand, !outcome);
            case IBinaryOperation binary when ConditionFacts.ComparedToBool(binary) is var (operand, same):
                return RefineReleased(config, operand, same == outcome);
            case ILocalReferenceOperation local when _analysis.Flags.Value(config, local.Local) is { } flag:
                return flag == outcome ? config : null;
            case { } test when HoldsWhenStateIs(config, test, Closed) is { } holds:
                return holds == outcome ? config : null;
            case { } test when ConditionFacts.NullTest(test) is var (tested, whenNull) && _analysis.Variables.HeldBy(config, tested):
                // 'c.Close(); c?.EnsureOpen();', 'if (c != null) c.Open();': a variable that still holds the released
                // connection is not null, so the branch that skips the call is not taken.
                return outcome == whenNull ? null : config;
            default:
                return config;
        }
    }

    /// <summary>A State test on a held connection: on the branch where it does not hold for an open connection, the connection is not open.</summary>
    private PathState RefineOpen(PathState config, IOperation condition, bool outcome) =>
        HoldsWhenStateIs(config, condition, Open) is { } holds && holds != outcome ? new PathState(ResourceStatus.Released, HolderSet.Empty) : config;

    private const int Closed = 0;
    private const int Open = 1;

    /// <summary>
    /// Does <paramref name="condition"/> hold when the <c>State</c> of the connection the path holds is <paramref name="state"/>?
    /// Null when it tests something else: <c>conn.State == X</c> (either way round, also through <c>conn?.State</c>),
    /// <c>conn.State is X or not Y</c>, <c>conn is { State: X }</c>.
    /// </summary>
    private bool? HoldsWhenStateIs(PathState config, IOperation condition, int state)
    {
        switch (condition)
        {
            case IBinaryOperation { OperatorKind: BinaryOperatorKind.Equals or BinaryOperatorKind.NotEquals } binary:
            {
                var constant = IsStateOf(config, binary.LeftOperand) ? binary.RightOperand : IsStateOf(config, binary.RightOperand) ? binary.LeftOperand : null;
                return StateConstant(constant) is { } value ? (value == state) == (binary.OperatorKind == BinaryOperatorKind.Equals) : null;
            }

            case IIsPatternOperation isPattern when IsStateOf(config, isPattern.Value):
                return StateMatches(isPattern.Pattern, state);
            case IIsPatternOperation isPattern when _analysis.Variables.HeldBy(config, isPattern.Value):
                return ConnectionMatches(isPattern.Pattern, isPattern.Value.Type, state);
            default:
                return null;
        }
    }

    /// <summary>Does <paramref name="pattern"/>, applied to a connection's <c>State</c>, match <paramref name="state"/>?</summary>
    private static bool? StateMatches(IPatternOperation pattern, int state) => pattern switch
    {
        IConstantPatternOperation constant => StateConstant(constant.Value) is { } value ? value == state : null,
        INegatedPatternOperation negated => !StateMatches(negated.Pattern, state),
        IBinaryPatternOperation binary => Combine(binary.OperatorKind, StateMatches(binary.LeftPattern, state), StateMatches(binary.RightPattern, state)),
        _ => null,
    };

    /// <summary>Does <paramref name="pattern"/>, applied to the (non-null) connection the path holds, match when its <c>State</c> is <paramref name="state"/>?</summary>
    private bool? ConnectionMatches(IPatternOperation pattern, ITypeSymbol? inputType, int state)
    {
        switch (pattern)
        {
            case IConstantPatternOperation constant when IsNull(constant.Value):
                return false;
            case INegatedPatternOperation negated:
                return !ConnectionMatches(negated.Pattern, inputType, state);
            case IBinaryPatternOperation binary:
                return Combine(binary.OperatorKind, ConnectionMatches(binary.LeftPattern, inputType, state), ConnectionMatches(binary.RightPattern, inputType, state));
            case IRecursivePatternOperation { DeconstructionSubpatterns.Length: 0 } recursive when Covers(recursive.MatchedType, inputType):
            {
                bool? matches = true;
                foreach (var subpattern in recursive.PropertySubpatterns)
                {
                    var matchesPart = subpattern.Member is IPropertyReferenceOperation member && IsStateProperty(member) ? StateMatches(subpattern.Pattern, state) : null;
                    matches = Combine(BinaryOperatorKind.And, matches, matchesPart);
                }

                return matches;
            }

            default:
                return MatchesEveryNonNull(pattern, inputType) ? true : null;
        }
    }

    /// <summary><c>and</c> / <c>or</c> over what is known: an unknown side decides nothing unless the other side decides alone.</summary>
    private static bool? Combine(BinaryOperatorKind kind, bool? left, bool? right)
    {
        var decisive = kind == BinaryOperatorKind.Or;
        return left == decisive || right == decisive ? decisive : left is null || right is null ? null : !decisive;
    }

    /// <summary>
    /// Does <paramref name="pattern"/> match every non-null value of <paramref name="inputType"/>, so that it fails
    /// exactly when the value is null? <c>{ }</c>, <c>T</c> and <c>T x</c> of a type that covers it, and a property or
    /// positional pattern of such a type whose subpatterns are all <c>var</c> or discards
    /// (<c>{ Connection: var c }</c>, <c>(var c, _)</c> through a <c>Deconstruct</c> method or on a tuple): they read a
    /// member, and cannot fail on it. A subpattern that tests the member (<c>{ Connection: not null }</c>,
    /// <c>{ Tenant: "a" }</c>, <c>{ A.B: var x }</c>, which needs <c>A</c> not null) can fail on an object that is
    /// there, and is not one.
    /// </summary>
    internal static bool MatchesEveryNonNull(IPatternOperation pattern, ITypeSymbol? inputType) => pattern switch
    {
        IRecursivePatternOperation recursive => Covers(recursive.MatchedType, inputType)
            && (recursive.DeconstructionSubpatterns.Length == 0
                || (recursive.DeconstructSymbol is IMethodSymbol || recursive.DeconstructSymbol is null && recursive.MatchedType is { IsTupleType: true })
                    && recursive.DeconstructionSubpatterns.All(CannotFail))
            && recursive.PropertySubpatterns.All(property => property.Member is IMemberReferenceOperation { Instance: null or IInstanceReferenceOperation }
                && CannotFail(property.Pattern)),
        IDeclarationPatternOperation declaration => Covers(declaration.MatchedType, inputType),
        ITypePatternOperation type => Covers(type.MatchedType, inputType),
        _ => false,
    };

    /// <summary><c>var x</c> or <c>_</c>: a pattern that matches any value, null included.</summary>
    private static bool CannotFail(IPatternOperation pattern) => pattern is IDiscardPatternOperation or IDeclarationPatternOperation { MatchesNull: true };

    /// <summary>Is every non-null value of <paramref name="inputType"/> a <paramref name="matchedType"/> (its own type, a base type, an interface)?</summary>
    private static bool Covers(ITypeSymbol? matchedType, ITypeSymbol? inputType)
    {
        if (matchedType is null || inputType is null)
        {
            return false;
        }

        if (inputType is INamedTypeSymbol { OriginalDefinition.SpecialType: SpecialType.System_Nullable_T } nullable)
        {
            inputType = nullable.TypeArguments[0];
        }

        // 'conn is IDisposable d' on a connection: every non-null value matches, so no match means null.
        var matched = matchedType.WithNullableAnnotation(NullableAnnotation.NotAnnotated);
        for (var current = inputType.WithNullableAnnotation(NullableAnnotation.NotAnnotated); current is not null; current = current.BaseType)
        {
            if (SymbolEqualityComparer.Default.Equals(matched, current))
            {
                return true;
            }
        }

        foreach (var implemented in inputType.AllInterfaces)
        {
            if (SymbolEqualityComparer.Default.Equals(matched, implemented))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Is <paramref name="operation"/> the <c>State</c> of a connection the path holds (also read through <c>conn?.State</c>)?</summary>
    private bool IsStateOf(PathState config, IOperation operation)
    {
        var read = TrackedVariables.Unwrap(operation);
        if (read is IFlowCaptureReferenceOperation capture)
        {
            // 'conn?.State': the capture is the State on the branch where the connection is not null, and null on the
            // other, which a held connection does not take.
            read = null;
            foreach (var value in _analysis.Facts.CapturedValues(capture.Id))
            {
                if (TrackedVariables.Unwrap(value) is not { ConstantValue: { HasValue: true, Value: null } } and not IDefaultValueOperation)
                {
                    if (read is not null)
                    {
                        return false;
                    }

                    read = TrackedVariables.Unwrap(value);
                }
            }
        }

        return read is IPropertyReferenceOperation property && IsStateProperty(property) && _analysis.Variables.HeldBy(config, property.Instance);
    }

    private bool IsStateProperty(IPropertyReferenceOperation property) =>
        property.Property.Name == "State" && _analysis.Rules.ConnectionState is { } connectionState && SymbolEqualityComparer.Default.Equals(property.Type, connectionState);

    private static int? StateConstant(IOperation? operation) =>
        TrackedVariables.Unwrap(operation)?.ConstantValue is { HasValue: true, Value: int value } ? value : null;

    private static bool IsNull(IOperation operation) => ConditionFacts.IsNull(operation);
}
