using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace TenantDbGuard.CodeFixes.ConnectionLeak;

/// <summary>
/// What runs before an expression within a statement or an expression body, for a fix that moves the expression in
/// front of them (into a local declared first). C# evaluates operands left to right, so what precedes an expression in
/// the text of the expressions around it runs first: a receiver before its arguments, an argument before the next, a
/// left operand before the right one, a declarator before the next, and a constructor before its initializer.
/// </summary>
internal static class EvaluationOrder
{
    /// <summary>
    /// Whether something that runs before <paramref name="expression"/> within <paramref name="container"/> could do
    /// work of its own: a call, a constructor the code wrote, an <c>await</c>, an assignment or an increment. Moving the
    /// expression first would then change the order in which that work and the expression run. Names, literals, member
    /// and element reads, operators on them, lambdas (their bodies do not run there) and objects built by a compiler's
    /// constructor do no such work; nor does what is done with connections of the same type, taking one or using one
    /// (<c>pool.GetConnection().Execute("select 1") + pool.GetConnection().Execute("select 2")</c>: the second may be
    /// taken before the first runs its query, as Fix All does for both).
    /// </summary>
    public static bool WorkRunsBefore(SemanticModel model, SyntaxNode expression, SyntaxNode container, ITypeSymbol connectionType)
    {
        for (var child = expression; child != container && child.Parent is { } parent; child = parent)
        {
            if (parent is BaseObjectCreationExpressionSyntax creation && creation.Initializer == child && !BuiltByCompiler(model, creation))
            {
                return true;
            }

            foreach (var earlier in parent.ChildNodes())
            {
                if (earlier == child)
                {
                    break;
                }

                if (DoesWork(model, earlier, connectionType))
                {
                    return true;
                }
            }
        }

        return false;
    }

    private static bool DoesWork(SemanticModel model, SyntaxNode node, ITypeSymbol connectionType)
    {
        foreach (var part in node.DescendantNodesAndSelf(descendIntoChildren: n => n is not AnonymousFunctionExpressionSyntax))
        {
            var works = part switch
            {
                InvocationExpressionSyntax invocation => !model.GetConstantValue(invocation).HasValue && !IsConnectionWork(model, invocation, connectionType),
                BaseObjectCreationExpressionSyntax creation => !BuiltByCompiler(model, creation),
                AwaitExpressionSyntax awaited => !IsConnection(model.GetTypeInfo(awaited).Type, connectionType)
                                                 && !(awaited.Expression is InvocationExpressionSyntax operation && IsConnectionWork(model, operation, connectionType)),

                // A member set in an object initializer belongs to the new object; any other assignment changes state.
                AssignmentExpressionSyntax assignment => assignment.Parent is not InitializerExpressionSyntax,
                PrefixUnaryExpressionSyntax unary => unary.Kind() is SyntaxKind.PreIncrementExpression or SyntaxKind.PreDecrementExpression,
                PostfixUnaryExpressionSyntax unary => unary.Kind() is SyntaxKind.PostIncrementExpression or SyntaxKind.PostDecrementExpression,
                _ => false,
            };
            if (works)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// A call that takes a connection of <paramref name="connectionType"/> or runs on one (its receiver, or the receiver of
    /// the task it configures with <c>ConfigureAwait</c>); its arguments are looked at on their own.
    /// </summary>
    private static bool IsConnectionWork(SemanticModel model, InvocationExpressionSyntax invocation, ITypeSymbol connectionType)
    {
        if (IsConnection(model.GetTypeInfo(invocation).Type, connectionType))
        {
            return true;
        }

        if (invocation.Expression is not MemberAccessExpressionSyntax access)
        {
            return false;
        }

        if (access.Name.Identifier.ValueText == "ConfigureAwait" && access.Expression is InvocationExpressionSyntax configured)
        {
            return IsConnectionWork(model, configured, connectionType);
        }

        return SymbolEqualityComparer.Default.Equals(model.GetTypeInfo(access.Expression).Type, connectionType);
    }

    /// <summary>The connection type, or a task of it.</summary>
    private static bool IsConnection(ITypeSymbol? type, ITypeSymbol connectionType) =>
        SymbolEqualityComparer.Default.Equals(type, connectionType)
        || (type is INamedTypeSymbol { Name: "Task" or "ValueTask", TypeArguments.Length: 1 } task && SymbolEqualityComparer.Default.Equals(task.TypeArguments[0], connectionType));

    /// <summary>An object whose constructor the compiler wrote (a class or struct without one of its own).</summary>
    private static bool BuiltByCompiler(SemanticModel model, BaseObjectCreationExpressionSyntax creation) =>
        model.GetSymbolInfo(creation).Symbol is IMethodSymbol { IsImplicitlyDeclared: true };
}
