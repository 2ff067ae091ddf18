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
    }

    /// <summary>The function's syntax: its declaration, lambda, or the compilation unit for top-level code.</summary>
    public SyntaxNode Node { get; }

    public bool IsAsync { get; }

    public bool UsesConfigureAwaitFalse { get; }

    public static FunctionContext? Of(SyntaxNode node)
    {
        foreach (var ancestor in node.Ancestors())
        {
            switch (ancestor)
            {
                case AnonymousFunctionExpressionSyntax or LocalFunctionStatementSyntax or MethodDeclarationSyntax:
                    return new FunctionContext(ancestor, IsDeclaredAsync(ancestor));
                case BaseMethodDeclarationSyntax or AccessorDeclarationSyntax or BasePropertyDeclarationSyntax:
                    return new FunctionContext(ancestor, isAsync: false);
                case CompilationUnitSyntax unit:
                    return new FunctionContext(unit, unit.DescendantNodes(n => n is not (BaseTypeDeclarationSyntax or AnonymousFunctionExpressionSyntax or LocalFunctionStatementSyntax)).OfType<AwaitExpressionSyntax>().Any());
            }
        }

        return null;
    }

    /// <summary>
    /// Does <paramref name="owner"/> (a method, a local function, a lambda, an accessor) return no value: <c>void</c>, or
    /// <c>async</c> with a plain <c>Task</c> or <c>ValueTask</c>? A getter returns one.
    /// </summary>
    public static bool ReturnsNothing(SemanticModel model, SyntaxNode owner)
    {
        var symbol = owner is AnonymousFunctionExpressionSyntax ? model.GetSymbolInfo(owner).Symbol : model.GetDeclaredSymbol(owner);
        return symbol switch
        {
            IMethodSymbol { MethodKind: MethodKind.PropertyGet } => false,
            IMethodSymbol method => method.ReturnsVoid
                                    || (method.IsAsync && method.ReturnType is INamedTypeSymbol { IsGenericType: false, Name: "Task" or "ValueTask" }),
            _ => false,
        };
    }

    /// <summary>Lambdas, anonymous methods and local functions: code that may run at another time.</summary>
    public static bool IsFunction(SyntaxNode node) => node is AnonymousFunctionExpressionSyntax or LocalFunctionStatementSyntax;

    /// <summary>Is the lambda, local function or method declared <c>async</c>?</summary>
    private static bool IsDeclaredAsync(SyntaxNode function) => function switch
    {
        AnonymousFunctionExpressionSyntax lambda => lambda.AsyncKeyword.IsKind(SyntaxKind.AsyncKeyword),
        LocalFunctionStatementSyntax localFunction => localFunction.Modifiers.Any(SyntaxKind.AsyncKeyword),
        _ => ((MethodDeclarationSyntax)function).Modifiers.Any(SyntaxKind.AsyncKeyword),
    };

    /// <summary>
    /// Is <paramref name="node"/> where no <c>await</c> may stand even in async code: in a <c>lock</c> of this function,
    /// or in an unsafe context (an <c>unsafe</c> block, member or type, which an async method may hold since C# 13).
    /// </summary>
    public bool CannotAwaitAt(SyntaxNode node) =>
        node.Ancestors().TakeWhile(a => a != Node).Any(a => a is LockStatementSyntax)
        || node.Ancestors().Any(a => a is UnsafeStatementSyntax
                                     || (a is MemberDeclarationSyntax member && member.Modifiers.Any(SyntaxKind.UnsafeKeyword))
                                     || (a is LocalFunctionStatementSyntax local && local.Modifiers.Any(SyntaxKind.UnsafeKeyword)));
}
