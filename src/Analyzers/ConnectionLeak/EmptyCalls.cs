// Calls that do nothing, and so cannot throw: a method of the compilation that no override can replace whose body is
// empty (or only 'return;', or only 'return this;'), a partial method without a body, and a '[Conditional]' method
// whose symbol is not defined where it is called (the compiler removes those two calls). The call is made on 'this',
// on an object it has just created, on a struct, or is static: a call on another object throws when that object is
// null. Its arguments are operations of their own, each judged where it is evaluated.
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;

namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>Calls that do nothing.</summary>
internal static class EmptyCalls
{
    /// <summary>Does <paramref name="invocation"/> do nothing (and so cannot throw)?</summary>
    public static bool DoNothing(IInvocationOperation invocation, LeakFlowAnalysis analysis) =>
        IsRemoved(invocation)
        || CannotBeNull(invocation.Instance)
           && analysis.Context.Summaries.DoesNothing(invocation.TargetMethod, analysis.Context.CancellationToken);

    /// <summary>
    /// Is <paramref name="receiver"/> absent (a static call), <c>this</c>, a new object, or a struct: never null?
    /// </summary>
    private static bool CannotBeNull(IOperation? receiver) =>
        TrackedVariables.Unwrap(receiver) is null or IInstanceReferenceOperation or IObjectCreationOperation
        || receiver!.Type is { IsValueType: true } type
           && type.OriginalDefinition.SpecialType != SpecialType.System_Nullable_T;

    /// <summary>
    /// Is <paramref name="method"/> (of the compilation, not overridable) empty: a body of no statement but
    /// <c>return;</c>, one that only returns the object it is called on (<c>Scope Touched() =&gt; this;</c>), or a
    /// partial method that has no body? The summaries read it once per method.
    /// </summary>
    public static bool HasEmptyBody(IMethodSymbol method, CancellationToken cancellationToken)
    {
        if (method.IsPartialDefinition)
        {
            if (method.PartialImplementationPart is not { } implementation)
            {
                // 'partial void OnOpened();' without a body: the compiler removes its calls.
                return true;
            }

            method = implementation;
        }

        if (method.DeclaringSyntaxReferences.Length != 1)
        {
            return false;
        }

        var declaration = method.DeclaringSyntaxReferences[0].GetSyntax(cancellationToken);
        if (declaration is MethodDeclarationSyntax { ExpressionBody.Expression: var arrow })
        {
            return !method.IsStatic && IsThis(arrow);
        }

        var body = declaration switch
        {
            MethodDeclarationSyntax { ExpressionBody: null } member => member.Body,
            LocalFunctionStatementSyntax { ExpressionBody: null } local => local.Body,
            _ => null,
        };
        if (body is null)
        {
            return false;
        }

        foreach (var statement in body.Statements)
        {
            if (statement is not (ReturnStatementSyntax { Expression: null } or EmptyStatementSyntax)
                && !(statement is ReturnStatementSyntax { Expression: { } returned } && !method.IsStatic && IsThis(returned)))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// A call of a <c>[Conditional("X")]</c> method (of any assembly: <c>Debug.WriteLine</c>) where none of its symbols is
    /// defined, neither by the project nor by a <c>#define</c> of the file: the compiler removes it, arguments included.
    /// </summary>
    private static bool IsRemoved(IInvocationOperation invocation)
    {
        var method = invocation.TargetMethod;
        if (!method.ReturnsVoid || method.IsOverride)
        {
            return false;
        }

        var conditional = false;
        var tree = invocation.Syntax.SyntaxTree;
        foreach (var attribute in method.GetAttributes())
        {
            if (attribute.AttributeClass is not { Name: "ConditionalAttribute", ContainingNamespace: { Name: "Diagnostics", ContainingNamespace: { Name: "System", ContainingNamespace.IsGlobalNamespace: true } } })
            {
                continue;
            }

            if (attribute.ConstructorArguments.Length != 1 || attribute.ConstructorArguments[0].Value is not string symbol || IsDefined(tree, symbol))
            {
                return false;
            }

            conditional = true;
        }

        return conditional;
    }

    /// <summary>Is <paramref name="symbol"/> defined for <paramref name="tree"/>, or named by a <c>#define</c> or <c>#undef</c> in it (then taken as defined)?</summary>
    private static bool IsDefined(SyntaxTree tree, string symbol)
    {
        foreach (var name in tree.Options.PreprocessorSymbolNames)
        {
            if (name == symbol)
            {
                return true;
            }
        }

        if (tree.GetRoot() is not CSharpSyntaxNode { ContainsDirectives: true } root)
        {
            return false;
        }

        for (var directive = root.GetFirstDirective(); directive is not null; directive = directive.GetNextDirective())
        {
            if (directive is DefineDirectiveTriviaSyntax { Name.ValueText: var defined } && defined == symbol
                || directive is UndefDirectiveTriviaSyntax { Name.ValueText: var undefined } && undefined == symbol)
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsThis(ExpressionSyntax expression)
    {
        while (expression is ParenthesizedExpressionSyntax parenthesized)
        {
            expression = parenthesized.Expression;
        }

        return expression is ThisExpressionSyntax;
    }
}
