// Assertion helpers of the compilation ('Invariant.Require(condition)', 'Guard.IsTrue(ok, "...")'): a method whose
// body only throws when one of its bool parameters is false. Called with an argument that is true on the path (a
// constant, a parameter whose value is known from the call that led here, an '||' with such a side), it cannot throw,
// so it opens no exceptional path. Likewise a null check of the variable that holds the connection
// ('Debug.Assert(conn != null)', 'Trace.Assert(conn is not null)', 'ArgumentNullException.ThrowIfNull(conn)'): it
// fails only when the variable is null, and then it holds no connection.
using System.Collections.Generic;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.FlowAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>Calls of guard methods whose condition holds.</summary>
internal static class GuardCalls
{
    /// <summary>Is <paramref name="invocation"/> a guard of this compilation called with a condition known to be true?</summary>
    public static bool IsSatisfied(IInvocationOperation invocation, LeakFlowAnalysis analysis)
    {
        var method = invocation.TargetMethod;
        if (!method.ReturnsVoid || !analysis.Rules.IsInSource(method) || GuardedParameter(method) is not { } parameter)
        {
            return false;
        }

        foreach (var argument in invocation.Arguments)
        {
            if (argument.Parameter?.Ordinal == parameter)
            {
                // The graph rewrites '||' into branches: read the argument as written.
                var written = analysis.Graph.OriginalOperation.SemanticModel?.GetOperation(argument.Value.Syntax) ?? argument.Value;
                return KnownTrue(written, analysis.KnownParameters, depth: 0);
            }
        }

        return false;
    }

    /// <summary>
    /// Is <paramref name="invocation"/> a null check of the held resource (<c>Debug.Assert(conn != null)</c>,
    /// <c>ArgumentNullException.ThrowIfNull(conn)</c>), which can fail only where no connection is held?
    /// </summary>
    public static bool ChecksHeldNotNull(IInvocationOperation invocation, LeakFlowAnalysis analysis)
    {
        var method = invocation.TargetMethod;
        if (analysis.State.Status != ResourceStatus.Held || invocation.Arguments.Length == 0 || !method.IsStatic
            || method.ContainingType?.ContainingNamespace is not { } ns)
        {
            return false;
        }

        var first = invocation.Arguments[0];
        if (method.Name == "ThrowIfNull" && method.ContainingType.Name == "ArgumentNullException"
            && ns is { Name: "System", ContainingNamespace.IsGlobalNamespace: true })
        {
            return analysis.Variables.HeldBy(analysis.State, first.Value);
        }

        // The failing branch of the assertion (its condition false) cannot be taken while the connection is held.
        return method.Name == "Assert" && method.ContainingType.Name is "Debug" or "Trace"
               && ns is { Name: "Diagnostics", ContainingNamespace: { Name: "System", ContainingNamespace.IsGlobalNamespace: true } }
               && first.Parameter?.Type.SpecialType == SpecialType.System_Boolean
               && IsNullTest(first.Value)
               && analysis.Conditions.Refine(analysis.State, first.Value, outcome: false) is null;
    }

    /// <summary>A comparison with <c>null</c> or a pattern (<c>x != null</c>, <c>x is not null</c>, <c>!(x == null)</c>), never a flag: its false side is ruled out by the refinement alone.</summary>
    private static bool IsNullTest(IOperation operation) =>
        TrackedVariables.Unwrap(operation) switch
        {
            IUnaryOperation { OperatorKind: UnaryOperatorKind.Not } not => IsNullTest(not.Operand),
            IIsPatternOperation => true,
            var test => ConditionFacts.NullTest(test) is not null,
        };

    /// <summary>The ordinal of the bool parameter the body tests, when every statement is <c>if (!p) throw ...;</c>.</summary>
    private static int? GuardedParameter(IMethodSymbol method)
    {
        method = PartialParts.WithBody(method);
        if (method.DeclaringSyntaxReferences.Length != 1
            || method.DeclaringSyntaxReferences[0].GetSyntax() is not MethodDeclarationSyntax { Body: { Statements.Count: > 0 } body })
        {
            return null;
        }

        string? name = null;
        foreach (var statement in body.Statements)
        {
            if (statement is not IfStatementSyntax { Else: null, Condition: PrefixUnaryExpressionSyntax { Operand: IdentifierNameSyntax tested } not } guard
                || !not.IsKind(SyntaxKind.LogicalNotExpression)
                || !Throws(guard.Statement)
                || name is not null && name != tested.Identifier.ValueText)
            {
                return null;
            }

            name = tested.Identifier.ValueText;
        }

        foreach (var parameter in method.Parameters)
        {
            if (parameter.Name == name && parameter.Type.SpecialType == SpecialType.System_Boolean && parameter.RefKind == RefKind.None)
            {
                return parameter.Ordinal;
            }
        }

        return null;
    }

    private static bool Throws(StatementSyntax statement) =>
        statement is ThrowStatementSyntax || statement is BlockSyntax { Statements.Count: 1 } block && block.Statements[0] is ThrowStatementSyntax;

    private static bool KnownTrue(IOperation? operation, Dictionary<IParameterSymbol, bool>? known, int depth)
    {
        if (depth > 8)
        {
            return false;
        }

        switch (TrackedVariables.Unwrap(operation))
        {
            case { ConstantValue: { HasValue: true, Value: true } }:
                return true;
            case IParameterReferenceOperation parameter:
                return known is not null && known.TryGetValue(parameter.Parameter.OriginalDefinition, out var value) && value;
            case IBinaryOperation { OperatorKind: BinaryOperatorKind.ConditionalOr or BinaryOperatorKind.Or } or:
                return KnownTrue(or.LeftOperand, known, depth + 1) || KnownTrue(or.RightOperand, known, depth + 1);
            case IBinaryOperation { OperatorKind: BinaryOperatorKind.ConditionalAnd or BinaryOperatorKind.And } and:
                return KnownTrue(and.LeftOperand, known, depth + 1) && KnownTrue(and.RightOperand, known, depth + 1);
            default:
                return false;
        }
    }
}
