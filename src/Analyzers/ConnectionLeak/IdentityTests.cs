// Identity tests against a member: 'conn != _existing', 'ReferenceEquals(conn, _existing)', or a bool helper of the
// compilation that returns such a test ('IsExistingConnection(conn) => conn != null && ReferenceEquals(conn,
// _existing)'). The connection the walk follows is its own (an acquisition of the method, or the caller's
// acquisition given to a parameter) and is kept in no member the test reads, so it is never the member's object: the
// branch where it would be cannot be taken.
using System.Collections.Concurrent;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;

namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>Reads identity tests of the followed connection against a field or property.</summary>
internal static class IdentityTests
{
    /// <summary>
    /// The outcome of <paramref name="condition"/> that would mean the held connection is the object of a field or
    /// property that does not hold it on this path; null when the condition is no such test.
    /// </summary>
    public static bool? OutcomeWhenIdentical(LeakFlowAnalysis analysis, PathState state, IOperation condition)
    {
        if (ConditionFacts.ComparedOperands(condition) is var (left, right, whenEqual))
        {
            return ComparesHeldWithMember(analysis, state, left, right) ? whenEqual : null;
        }

        if (TrackedVariables.Unwrap(condition) is IInvocationOperation { TargetMethod: var method } call
            && call.Arguments.Length > 0
            && analysis.Context.Summaries.ParametersTestedForIdentity(method, analysis.Context.CancellationToken) is var tested and not 0 and not OnlyComparesReferences)
        {
            foreach (var argument in call.Arguments)
            {
                if (argument.Parameter is { Ordinal: < 63 and var ordinal } && (tested & (1UL << ordinal)) != 0
                    && analysis.Variables.HeldBy(state, argument.Value))
                {
                    return true;
                }
            }
        }

        return null;
    }

    /// <summary>
    /// The parameters (one bit per ordinal) that <paramref name="method"/>, a bool method of the compilation whose body
    /// is one returned expression, returns true for only when they are the object of a field or property: the
    /// expression is a chain of '&amp;&amp;' with one conjunct 'p == member' or 'ReferenceEquals(p, member)'; with
    /// <see cref="OnlyComparesReferences"/> when every conjunct compares parameters, fields and null.
    /// </summary>
    public static ulong ParametersTestedForIdentity(Compilation compilation, IMethodSymbol method, CancellationToken cancellationToken)
    {
        if (method.ReturnType.SpecialType != SpecialType.System_Boolean || method.IsAbstract || method.IsVirtual || method.IsOverride
            || method.IsExtern || method.Parameters.Length == 0 || method.DeclaringSyntaxReferences.Length != 1)
        {
            return 0;
        }

        var syntax = method.DeclaringSyntaxReferences[0].GetSyntax(cancellationToken);
        var (arrow, body) = syntax switch
        {
            MethodDeclarationSyntax declaration => (declaration.ExpressionBody, declaration.Body),
            LocalFunctionStatementSyntax local => (local.ExpressionBody, local.Body),
            _ => (null, null),
        };
        var returned = arrow?.Expression
            ?? (body is { Statements.Count: 1 } && body.Statements[0] is ReturnStatementSyntax { Expression: { } value } ? value : null);
        if (returned is null)
        {
            return 0;
        }

#pragma warning disable RS1030 // The summaries read other methods' bodies: the model comes from the compilation (the driver caches it).
        var operation = compilation.GetSemanticModel(returned.SyntaxTree).GetOperation(returned, cancellationToken);
#pragma warning restore RS1030
        return Conjuncts(operation, method);
    }

    /// <summary>The bit of <see cref="ParametersTestedForIdentity"/> that says the method only compares references, and so cannot throw.</summary>
    public const ulong OnlyComparesReferences = 1UL << 63;

    /// <summary>
    /// Does <paramref name="call"/> only compare references (a helper read by <see cref="ParametersTestedForIdentity"/>
    /// whose conjuncts are all comparisons of parameters, fields and null), and so cannot throw?
    /// </summary>
    public static bool NeverThrows(LeakFlowAnalysis analysis, IInvocationOperation call) =>
        call.Arguments.Length > 0
        && (call.Instance is null or IInstanceReferenceOperation)
        && (analysis.Context.Summaries.ParametersTestedForIdentity(call.TargetMethod, analysis.Context.CancellationToken) & OnlyComparesReferences) != 0;

    private static ulong Conjuncts(IOperation? operation, IMethodSymbol method)
    {
        switch (TrackedVariables.Unwrap(operation))
        {
            case IBinaryOperation { OperatorKind: BinaryOperatorKind.ConditionalAnd } and:
                var first = Conjuncts(and.LeftOperand, method);
                var second = Conjuncts(and.RightOperand, method);
                return ((first | second) & ~OnlyComparesReferences) | (first & second & OnlyComparesReferences);
            case { } test when ConditionFacts.ComparedOperands(test) is var (left, right, whenEqual):
                var pure = IsPlainValue(left) && IsPlainValue(right) ? OnlyComparesReferences : 0;
                return whenEqual
                    ? ParameterComparedWithMember(left, right, method) | ParameterComparedWithMember(right, left, method) | pure
                    : pure;
            case IIsPatternOperation { Value: var value, Pattern: IConstantPatternOperation or INegatedPatternOperation { Pattern: IConstantPatternOperation } } when IsPlainValue(value):
                return OnlyComparesReferences;
            default:
                return 0;
        }
    }

    /// <summary>A parameter, a field or a constant: reading it cannot throw.</summary>
    private static bool IsPlainValue(IOperation operand) =>
        TrackedVariables.Unwrap(operand) is IParameterReferenceOperation or IFieldReferenceOperation { Instance: null or IInstanceReferenceOperation } or ILiteralOperation or IDefaultValueOperation
        || operand.ConstantValue.HasValue;

    private static ulong ParameterComparedWithMember(IOperation parameter, IOperation member, IMethodSymbol method) =>
        TrackedVariables.Unwrap(parameter) is IParameterReferenceOperation { Parameter: { Ordinal: < 63 and var ordinal } symbol }
        && SymbolEqualityComparer.Default.Equals(symbol.ContainingSymbol, method)
        && IsMember(member)
            ? 1UL << ordinal
            : 0;

    private static bool ComparesHeldWithMember(LeakFlowAnalysis analysis, PathState state, IOperation left, IOperation right) =>
        (analysis.Variables.HeldBy(state, left) && IsMember(right) && !analysis.Variables.HeldBy(state, right))
        || (analysis.Variables.HeldBy(state, right) && IsMember(left) && !analysis.Variables.HeldBy(state, left));

    /// <summary>A field, or a property without arguments, of any instance.</summary>
    private static bool IsMember(IOperation operand) =>
        TrackedVariables.Unwrap(operand) is IFieldReferenceOperation or IPropertyReferenceOperation { Arguments.Length: 0 };
}
