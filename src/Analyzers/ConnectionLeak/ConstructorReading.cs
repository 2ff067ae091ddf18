// What a type of the compilation does with what its constructor is given, read from its declarations: a constructor
// that only stores its arguments cannot throw, a disposable type whose release methods never mention what it stored
// takes nothing over; and the allocations of the base library that cannot throw either.
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;

namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>Reads constructors and release methods of the compilation's own types.</summary>
internal static class ConstructorReading
{
    /// <summary>
    /// A constructor of the application's own whose body only stores its parameters (or constants) in fields and
    /// properties, or the parameterless one the compiler writes for a type whose member initializers are plain: it cannot
    /// throw, so a connection given to it (or to the object it builds) is not lost in between.
    /// </summary>
    public static bool OnlyStoresArguments(IMethodSymbol? constructor)
    {
        if (constructor is { IsImplicitlyDeclared: true, Parameters.Length: 0, ContainingType: { DeclaringSyntaxReferences.Length: > 0 } type }
            && type.BaseType?.SpecialType is null or SpecialType.System_Object or SpecialType.System_ValueType)
        {
            // The constructor the compiler writes ('new Session { Connection = conn }'): it runs the member initializers only.
            return type.DeclaringSyntaxReferences.All(reference => reference.GetSyntax() is TypeDeclarationSyntax declaration && OnlyPlainInitializers(declaration));
        }

        if (constructor is null)
        {
            return false;
        }

        constructor = PartialParts.WithBody(constructor);
        if (constructor.DeclaringSyntaxReferences.Length != 1)
        {
            return false;
        }

        var syntax = constructor.DeclaringSyntaxReferences[0].GetSyntax();
        if (syntax is TypeDeclarationSyntax primary)
        {
            // A primary constructor (a positional record's): it stores its parameters, unless a base call or an initializer computes.
            return OnlyPlainInitializers(primary);
        }

        if (syntax is not ConstructorDeclarationSyntax { Initializer: null } declaration)
        {
            return false;
        }

        var statements = declaration.ExpressionBody is { } arrow
            ? new[] { arrow.Expression }
            : declaration.Body?.Statements.Select(statement => (statement as ExpressionStatementSyntax)?.Expression).ToArray();
        if (statements is null)
        {
            return false;
        }

        foreach (var statement in statements)
        {
            if (statement is not AssignmentExpressionSyntax { Right: IdentifierNameSyntax or LiteralExpressionSyntax } assignment
                || !assignment.IsKind(SyntaxKind.SimpleAssignmentExpression))
            {
                return false;
            }
        }

        return true;
    }

    private static bool OnlyPlainInitializers(TypeDeclarationSyntax type)
    {
        if (type.BaseList?.Types.Any(baseType => baseType is PrimaryConstructorBaseTypeSyntax) == true)
        {
            return false;
        }

        foreach (var member in type.Members)
        {
            var initializers = member switch
            {
                BaseFieldDeclarationSyntax field => field.Declaration.Variables.Select(variable => variable.Initializer?.Value),
                PropertyDeclarationSyntax property => new[] { property.Initializer?.Value },
                _ => Enumerable.Empty<ExpressionSyntax?>(),
            };
            if (initializers.Any(value => value is not (null or IdentifierNameSyntax or LiteralExpressionSyntax)))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary><c>member.Dispose()</c>, <c>member?.Close()</c>, <c>this.member.Release()</c> and the like, for a member named <paramref name="member"/>.</summary>
    public static bool IsReleaseOf(SyntaxNode node, string member)
    {
        var (receiver, name) = node switch
        {
            MemberAccessExpressionSyntax access => (access.Expression, access.Name.Identifier.ValueText),
            ConditionalAccessExpressionSyntax { WhenNotNull: InvocationExpressionSyntax { Expression: MemberBindingExpressionSyntax binding } } conditional
                => (conditional.Expression, binding.Name.Identifier.ValueText),
            _ => (null, null),
        };
        receiver = WithoutConversions(receiver);
        if (receiver is MemberAccessExpressionSyntax { Expression: ThisExpressionSyntax } self)
        {
            receiver = self.Name;
        }

        return name is "Dispose" or "DisposeAsync" or "Close" or "CloseAsync" or "Release"
            && receiver is IdentifierNameSyntax { Identifier.ValueText: var target } && target == member;
    }

    /// <summary>
    /// The expression without the parentheses, null-forgiving operators and conversions around it (<c>(_connection!)</c>,
    /// <c>((IDisposable)_connection)</c>, <c>(_connection as IDisposable)</c>).
    /// </summary>
    private static ExpressionSyntax? WithoutConversions(ExpressionSyntax? expression)
    {
        while (true)
        {
            switch (expression)
            {
                case ParenthesizedExpressionSyntax parenthesized:
                    expression = parenthesized.Expression;
                    continue;
                case PostfixUnaryExpressionSyntax suppressed when suppressed.IsKind(SyntaxKind.SuppressNullableWarningExpression):
                    expression = suppressed.Operand;
                    continue;
                case CastExpressionSyntax cast:
                    expression = cast.Expression;
                    continue;
                case BinaryExpressionSyntax conversion when conversion.IsKind(SyntaxKind.AsExpression):
                    expression = conversion.Left;
                    continue;
                default:
                    return expression;
            }
        }
    }

    /// <summary>
    /// A disposable type of the compilation whose constructor stores the argument at <paramref name="ordinal"/> in a member
    /// that none of its release methods even mentions (<c>new Storage(existingConnection)</c> that leaves the connection to its
    /// owner): the new object does not take the connection over. False when that cannot be read.
    /// </summary>
    public static bool KeepsWithoutReleasing(IObjectCreationOperation creation, int ordinal)
    {
        if (creation.Constructor is not { } created || PartialParts.WithBody(created) is not { } constructor
            || ordinal >= constructor.Parameters.Length || constructor.DeclaringSyntaxReferences.Length != 1
            || constructor.DeclaringSyntaxReferences[0].GetSyntax() is not ConstructorDeclarationSyntax { Initializer: null or { ThisOrBaseKeyword.RawKind: (int)SyntaxKind.BaseKeyword } } declaration)
        {
            return false;
        }

        var parameter = constructor.Parameters[ordinal].Name;
        string? stored = null;
        foreach (var assignment in declaration.DescendantNodes().OfType<AssignmentExpressionSyntax>())
        {
            var value = assignment.Right is BinaryExpressionSyntax coalesce && coalesce.IsKind(SyntaxKind.CoalesceExpression) ? coalesce.Left : assignment.Right;
            if (value is IdentifierNameSyntax { Identifier.ValueText: var name } && name == parameter)
            {
                stored = assignment.Left switch
                {
                    IdentifierNameSyntax target => target.Identifier.ValueText,
                    MemberAccessExpressionSyntax { Expression: ThisExpressionSyntax, Name: var target } => target.Identifier.ValueText,
                    _ => null,
                };
                break;
            }
        }

        if (stored is null)
        {
            return false;
        }

        var releaseMethods = 0;
        foreach (var member in constructor.ContainingType.GetMembers())
        {
            if (member is IMethodSymbol { Name: "Dispose" or "DisposeAsync" or "DisposeAsyncCore" or "Close" or "CloseAsync" or "Release" } release
                && PartialParts.WithBody(release) is { DeclaringSyntaxReferences.Length: > 0 } method)
            {
                releaseMethods++;
                // Any mention may be a release ('Interlocked.Exchange(ref _connection, null)?.Dispose()'): only silence counts.
                if (method.DeclaringSyntaxReferences.Any(reference => reference.GetSyntax().DescendantNodes().Any(node => node is IdentifierNameSyntax { Identifier.ValueText: var name } && name == stored)))
                {
                    return false;
                }
            }
        }

        // Disposable only through a base type that may release it: not known.
        return releaseMethods > 0;
    }

    /// <summary><c>new List&lt;T&gt;()</c>, <c>new StringBuilder()</c>: an empty object of the base library, which does not throw.</summary>
    public static bool IsEmptyFrameworkObject(IObjectCreationOperation creation)
    {
        if (creation.Arguments.Length != 0 || creation.Type?.ContainingNamespace is not { } ns)
        {
            return false;
        }

        while (ns.ContainingNamespace is { IsGlobalNamespace: false } parent)
        {
            ns = parent;
        }

        return ns.Name == "System";
    }
}
