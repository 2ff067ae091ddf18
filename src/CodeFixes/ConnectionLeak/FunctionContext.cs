using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace TenantDbGuard.CodeFixes.ConnectionLeak;

/// <summary>The function (method, lambda, local function, accessor, top-level code) that holds an acquisition.</summary>
internal sealed class FunctionContext
{
    private FunctionContext(SyntaxNode function, bool isAsync)
    {
        Node = function;
        IsAsync = isAsync;
        UsesConfigureAwaitFalse = function.DescendantNodes()
            .OfType<InvocationExpressionSyntax>()
            .Any(i => i.Expression is MemberAccessExpressionSyntax { Name.Identifier.ValueText: "ConfigureAwait" }
                      && i.ArgumentList.Arguments.Count == 1
                      && i.ArgumentList.Arguments[0].Expression.IsKind(SyntaxKind.FalseLiteralExpression));
        IsIterator = function.DescendantNodes(n => n == function || !IsFunction(n)).Any(n => n is YieldStatementSyntax);
    }

    /// <summary>The function's syntax: its declaration, lambda, or the compilation unit for top-level code.</summary>
    public SyntaxNode Node { get; }

    public bool IsAsync { get; }

    public bool IsIterator { get; }

    public bool UsesConfigureAwaitFalse { get; }

    public static FunctionContext? Of(SyntaxNode node)
    {
        foreach (var ancestor in node.Ancestors())
        {
            switch (ancestor)
            {
                case AnonymousFunctionExpressionSyntax lambda:
                    return new FunctionContext(lambda, lambda.AsyncKeyword.IsKind(SyntaxKind.AsyncKeyword));
                case LocalFunctionStatementSyntax localFunction:
                    return new FunctionContext(localFunction, localFunction.Modifiers.Any(SyntaxKind.AsyncKeyword));
                case MethodDeclarationSyntax method:
                    return new FunctionContext(method, method.Modifiers.Any(SyntaxKind.AsyncKeyword));
                case BaseMethodDeclarationSyntax or AccessorDeclarationSyntax or BasePropertyDeclarationSyntax:
                    return new FunctionContext(ancestor, isAsync: false);
                case CompilationUnitSyntax unit:
                    return new FunctionContext(unit, unit.DescendantNodes(n => n is not (BaseTypeDeclarationSyntax or AnonymousFunctionExpressionSyntax or LocalFunctionStatementSyntax)).OfType<AwaitExpressionSyntax>().Any());
            }
        }

        return null;
    }

    /// <summary>Lambdas, anonymous methods and local functions: code that may run at another time.</summary>
    public static bool IsFunction(SyntaxNode node) => node is AnonymousFunctionExpressionSyntax or LocalFunctionStatementSyntax;

    public bool IsInLock(SyntaxNode node) =>
        node.Ancestors().TakeWhile(a => a != Node).Any(a => a is LockStatementSyntax);
}
