// Conditions whose outcome the compiler knows but does not fold: a pattern tested on a compile-time constant
// ('Audit is true', 'Level is > 2 and < 5', 'Mode is not Mode.Off', 'Level is int'), and the tests the graph makes of a
// 'switch' statement or expression on a constant (the switch value is captured, each case compares the capture). A
// value read at run time ('static readonly', a property, a parameter) is not a constant; a pattern whose answer is not
// certain (a type pattern the constant's type does not cover, a NaN, a value boxed to 'object') decides nothing.
using System;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.FlowAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>The outcome of a condition that reads only compile-time constants.</summary>
internal static class ConstantConditions
{
    /// <summary>
    /// The value <paramref name="condition"/> always has; null when it depends on something read at run time. Without
    /// <paramref name="analysis"/> (a 'released' flag assigned a constant test), the graph's captures are not read.
    /// </summary>
    public static bool? Outcome(LeakFlowAnalysis? analysis, IOperation? condition)
    {
        var test = TrackedVariables.Unwrap(condition);
        switch (test)
        {
            case null:
                return null;
            case { ConstantValue: { HasValue: true, Value: bool always } }:
                return always;
            case IUnaryOperation { OperatorKind: UnaryOperatorKind.Not, OperatorMethod: null } not:
                return !Outcome(analysis, not.Operand);
            case IIsPatternOperation { Pattern: IDiscardPatternOperation or IDeclarationPatternOperation { MatchesNull: true } }:
                // The '_' arm of a switch expression, 'is var x': every value matches.
                return true;
            case IIsPatternOperation isPattern when analysis is not null && IsLastArmOfAnExhaustiveSwitch(analysis, isPattern):
                // 'flag switch { true => ..., false => ... }': the arms before it did not match, so this one does.
                return true;
            case IIsPatternOperation isPattern when Constant(analysis, isPattern.Value) is (true, var value):
                return Matches(isPattern.Pattern, value, isPattern.Value.Type);
            case IIsTypeOperation isType when Constant(analysis, isType.ValueOperand) is (true, var value):
                // 'Level is int': true for a constant of that type, false for a null string.
                return value is null ? isType.IsNegated : IsOwnType(isType.TypeOperand, isType.ValueOperand.Type) ? !isType.IsNegated : null;
            case IBinaryOperation { OperatorMethod: null } binary
                when Constant(analysis, binary.LeftOperand) is (true, var left) && Constant(analysis, binary.RightOperand) is (true, var right):
                // 'switch (Settings.Level) { case 1: ... }': the graph compares the captured switch value with each case.
                return Compare(binary.OperatorKind, left, right);
            default:
                return null;
        }
    }

    /// <summary>
    /// Is <paramref name="test"/> the test of the last arm (without <c>when</c>) of a switch expression the compiler
    /// knows to be exhaustive? The graph tests the arms in order and throws after the last one; that throw never happens.
    /// </summary>
    private static bool IsLastArmOfAnExhaustiveSwitch(LeakFlowAnalysis analysis, IIsPatternOperation test) =>
        test.Pattern.Syntax.Parent is SwitchExpressionArmSyntax { WhenClause: null } arm
        && arm.Parent is SwitchExpressionSyntax { Arms: var arms } switchExpression
        && arms[arms.Count - 1] == arm
        && analysis.Graph.OriginalOperation.SemanticModel?.GetOperation(switchExpression, analysis.Context.CancellationToken) is ISwitchExpressionOperation { IsExhaustive: true };

    /// <summary>
    /// The value of <paramref name="operation"/> when it is a compile-time constant of a type whose values a pattern
    /// compares by value (a number, a char, a bool, a string, an enum), also through the graph's capture of a switch value.
    /// </summary>
    private static (bool Known, object? Value) Constant(LeakFlowAnalysis? analysis, IOperation operation)
    {
        if (!ComparedByValue(operation.Type))
        {
            return (false, null);
        }

        if (operation.ConstantValue.HasValue)
        {
            return (true, operation.ConstantValue.Value);
        }

        if (analysis is not null
            && operation is IFlowCaptureReferenceOperation capture
            && !analysis.Variables.AssignedCaptures.Contains(capture.Id)
            && analysis.Facts.CapturedValues(capture.Id) is { Count: 1 } values
            && values[0].ConstantValue.HasValue
            && ComparedByValue(values[0].Type))
        {
            return (true, values[0].ConstantValue.Value);
        }

        return (false, null);
    }

    private static bool ComparedByValue(ITypeSymbol? type) =>
        type is not null
        && (type.TypeKind == TypeKind.Enum
            || type.SpecialType is SpecialType.System_Boolean or SpecialType.System_Char or SpecialType.System_String
                or SpecialType.System_SByte or SpecialType.System_Byte or SpecialType.System_Int16 or SpecialType.System_UInt16
                or SpecialType.System_Int32 or SpecialType.System_UInt32 or SpecialType.System_Int64 or SpecialType.System_UInt64
                or SpecialType.System_Single or SpecialType.System_Double or SpecialType.System_Decimal);

    /// <summary>Does <paramref name="pattern"/> match the constant <paramref name="value"/> of type <paramref name="type"/>? Null when not certain.</summary>
    internal static bool? Matches(IPatternOperation pattern, object? value, ITypeSymbol? type)
    {
        switch (pattern)
        {
            case IConstantPatternOperation constant when constant.Value.ConstantValue.HasValue:
                return Compare(BinaryOperatorKind.Equals, value, constant.Value.ConstantValue.Value);
            case IRelationalPatternOperation relational when relational.Value.ConstantValue.HasValue:
                return value is null ? false : Compare(relational.OperatorKind, value, relational.Value.ConstantValue.Value);
            case INegatedPatternOperation negated:
                return !Matches(negated.Pattern, value, type);
            case IBinaryPatternOperation binary:
            {
                var left = Matches(binary.LeftPattern, value, type);
                var right = Matches(binary.RightPattern, value, type);
                var decisive = binary.OperatorKind == BinaryOperatorKind.Or;
                return left == decisive || right == decisive ? decisive : left is null || right is null ? null : !decisive;
            }

            case IDiscardPatternOperation:
                return true;
            case IDeclarationPatternOperation { MatchesNull: true }:
                // 'var x'.
                return true;
            case ITypePatternOperation or IDeclarationPatternOperation or IRecursivePatternOperation { PropertySubpatterns.Length: 0, DeconstructionSubpatterns.Length: 0 }
                when value is null:
                // 'Name is string', 'Name is { }' on a null string constant.
                return false;
            case ITypePatternOperation typePattern when IsOwnType(typePattern.MatchedType, type):
                return true;
            case IDeclarationPatternOperation declaration when IsOwnType(declaration.MatchedType, type):
                return true;
            case IRecursivePatternOperation { PropertySubpatterns.Length: 0, DeconstructionSubpatterns.Length: 0 } recursive when IsOwnType(recursive.MatchedType, type):
                return true;
            default:
                return null;
        }
    }

    /// <summary>Is <paramref name="matched"/> the constant's own type (or <c>object</c>, or absent as in <c>{ }</c>)? Other types are left undecided.</summary>
    private static bool IsOwnType(ITypeSymbol? matched, ITypeSymbol? type) =>
        matched is null
        || matched.SpecialType == SpecialType.System_Object
        || (type is not null && SymbolEqualityComparer.Default.Equals(matched.WithNullableAnnotation(NullableAnnotation.NotAnnotated), type.WithNullableAnnotation(NullableAnnotation.NotAnnotated)));

    /// <summary><c>left op right</c> for two constants of one type; null when not certain (a NaN, mixed kinds, an operator other than a comparison).</summary>
    private static bool? Compare(BinaryOperatorKind kind, object? left, object? right)
    {
        int? order = (left, right) switch
        {
            (null, null) => 0,
            (null, _) or (_, null) => kind is BinaryOperatorKind.Equals or BinaryOperatorKind.NotEquals ? 1 : null,
            (string l, string r) => kind is BinaryOperatorKind.Equals or BinaryOperatorKind.NotEquals ? (string.Equals(l, r, StringComparison.Ordinal) ? 0 : 1) : null,
            (bool l, bool r) => kind is BinaryOperatorKind.Equals or BinaryOperatorKind.NotEquals ? (l == r ? 0 : 1) : null,
            _ => CompareNumbers(left, right),
        };

        return order is not { } o ? null : kind switch
        {
            BinaryOperatorKind.Equals => o == 0,
            BinaryOperatorKind.NotEquals => o != 0,
            BinaryOperatorKind.LessThan => o < 0,
            BinaryOperatorKind.LessThanOrEqual => o <= 0,
            BinaryOperatorKind.GreaterThan => o > 0,
            BinaryOperatorKind.GreaterThanOrEqual => o >= 0,
            _ => null,
        };
    }

    private static int? CompareNumbers(object left, object right)
    {
        if (left is float or double || right is float or double)
        {
            return AsDouble(left) is { } l && AsDouble(right) is { } r && !double.IsNaN(l) && !double.IsNaN(r) ? l.CompareTo(r) : null;
        }

        return AsDecimal(left) is { } x && AsDecimal(right) is { } y ? x.CompareTo(y) : null;
    }

    private static double? AsDouble(object value) => value switch
    {
        float f => f,
        double d => d,
        decimal => null,
        _ => AsDecimal(value) is { } exact ? (double)exact : null,
    };

    private static decimal? AsDecimal(object value) => value switch
    {
        sbyte v => v,
        byte v => v,
        short v => v,
        ushort v => v,
        int v => v,
        uint v => v,
        long v => v,
        ulong v => v,
        char v => v,
        decimal v => v,
        _ => null,
    };
}
