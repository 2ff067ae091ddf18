// The refinement on conditions: what a branch's condition proves about the resource on each side. A variable
// proven null, or a connection proven not open, needs no release; after a release, a branch that contradicts the
// release (the connection tested open, the 'released' flag tested false) is not taken.
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

    /// <summary>The state on the branch where <paramref name="condition"/> is <paramref name="outcome"/>; null when that branch cannot be taken.</summary>
    public PathState? Refine(PathState config, IOperation condition, bool outcome)
    {
        if (config.Status is ResourceStatus.Held or ResourceStatus.Released && _analysis.Flags.IsUntracked(condition))
        {
            // Both branches would be followed, one of them against what the path did: no report rather than a false one.
            _analysis.GiveUp();
            return config;
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
            case IInvocationOperation invocation when _analysis.Site is { OnlyWhenTrue: true } site && ReferenceEquals(invocation, site.Invocation):
                // 'TryCheckout(out var lease)' returned false: it acquired nothing.
                return outcome ? config : new PathState(ResourceStatus.Released, HolderSet.Empty, 0, config.Flags);
            case ILocalReferenceOperation local when _analysis.Flags.Value(config, local.Local) is { } flag:
                return flag == outcome ? config : null;
            case IIsNullOperation isNull:
                return outcome && _analysis.Variables.HeldBy(config, isNull.Operand) ? null : config;
            case IBinaryOperation binary when binary.OperatorKind is BinaryOperatorKind.Equals or BinaryOperatorKind.NotEquals:
            {
                var equalWhen = binary.OperatorKind == BinaryOperatorKind.Equals ? outcome : !outcome;
                if (IsNull(binary.RightOperand) || IsNull(binary.LeftOperand))
                {
                    var variable = IsNull(binary.RightOperand) ? binary.LeftOperand : binary.RightOperand;
                    return equalWhen && _analysis.Variables.HeldBy(config, variable) ? null : config;
                }

                if (StateComparison(config, binary.LeftOperand, binary.RightOperand) is { } state)
                {
                    return ProvenNotOpen(state, equalWhen) ? new PathState(ResourceStatus.Released, HolderSet.Empty) : config;
                }

                return config;
            }

            case IIsPatternOperation isPattern:
            {
                var (pattern, matches) = isPattern.Pattern is INegatedPatternOperation negated
                    ? (negated.Pattern, !outcome)
                    : (isPattern.Pattern, outcome);
                if (MatchesExactlyNonNull(pattern, isPattern.Value.Type))
                {
                    // 'is { }', 'is T x' with the variable's own type: no match means null.
                    return !matches && _analysis.Variables.HeldBy(config, isPattern.Value) ? null : config;
                }

                if (pattern is IConstantPatternOperation constant)
                {
                    if (IsNull(constant.Value))
                    {
                        return matches && _analysis.Variables.HeldBy(config, isPattern.Value) ? null : config;
                    }

                    if (StateComparison(config, isPattern.Value, constant.Value) is { } state)
                    {
                        return ProvenNotOpen(state, matches) ? new PathState(ResourceStatus.Released, HolderSet.Empty) : config;
                    }
                }

                return config;
            }

            default:
                return config;
        }
    }

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
            case ILocalReferenceOperation local when _analysis.Flags.Value(config, local.Local) is { } flag:
                return flag == outcome ? config : null;
            case IBinaryOperation binary when binary.OperatorKind is BinaryOperatorKind.Equals or BinaryOperatorKind.NotEquals:
            {
                var equalWhen = binary.OperatorKind == BinaryOperatorKind.Equals ? outcome : !outcome;
                return StateComparison(config, binary.LeftOperand, binary.RightOperand) is { } state && IsClosedState(state, equalWhen) is false ? null : config;
            }

            case IIsPatternOperation { Pattern: IConstantPatternOperation constant } isPattern:
                return StateComparison(config, isPattern.Value, constant.Value) is { } patternState && IsClosedState(patternState, outcome) is false ? null : config;
            default:
                return config;
        }
    }

    /// <summary>Can a connection whose <c>State</c> is <c>Closed</c> satisfy <c>State == value</c> (or <c>!=</c> when not <paramref name="equal"/>)?</summary>
    private static bool IsClosedState(int value, bool equal) => equal ? value == 0 : value != 0;

    private static bool MatchesExactlyNonNull(IPatternOperation pattern, ITypeSymbol? inputType)
    {
        var matchedType = pattern switch
        {
            IRecursivePatternOperation { PropertySubpatterns.Length: 0, DeconstructionSubpatterns.Length: 0 } recursive => recursive.MatchedType,
            IDeclarationPatternOperation declaration => declaration.MatchedType,
            ITypePatternOperation type => type.MatchedType,
            _ => null,
        };
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

    /// <summary>When <paramref name="equal"/> tells whether <c>State == value</c>: is the connection surely not open?</summary>
    private static bool ProvenNotOpen(int value, bool equal) =>
        equal ? value != 1 /* Open */ : value == 1;

    private int? StateComparison(PathState config, IOperation left, IOperation right)
    {
        if (_analysis.Rules.ConnectionState is null)
        {
            return null;
        }

        var (property, constant) = TrackedVariables.Unwrap(left) is IPropertyReferenceOperation p ? (p, TrackedVariables.Unwrap(right)) : (TrackedVariables.Unwrap(right) as IPropertyReferenceOperation, TrackedVariables.Unwrap(left));
        if (property is null || constant is null || property.Property.Name != "State"
            || !SymbolEqualityComparer.Default.Equals(property.Type, _analysis.Rules.ConnectionState)
            || !_analysis.Variables.HeldBy(config, property.Instance))
        {
            return null;
        }

        return constant.ConstantValue is { HasValue: true, Value: int value } ? value : null;
    }

    private static bool IsNull(IOperation operation)
    {
        var unwrapped = TrackedVariables.Unwrap(operation);
        return unwrapped is not null && unwrapped.ConstantValue is { HasValue: true, Value: null } && unwrapped.Type?.IsValueType != true;
    }
}
