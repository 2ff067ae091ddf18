// How TDG005's fixes release an owned member (Dispose, an awaited DisposeAsync, Release; with ?. or a null test when
// it may be null) and how they recognise the releases, assignments and guards already in a method.
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Formatting;

namespace TenantDbGuard.CodeFixes.ConnectionOwner;

/// <summary>How the owned member is released, and how to recognise its releases in existing code.</summary>
internal sealed class OwnerReleaseCall
{
    private readonly string _name;
    private readonly bool _mayBeNull;
    private readonly bool _hasRelease;
    private readonly ImmutableHashSet<string> _usings;
    private readonly bool _notPattern;

    public OwnerReleaseCall(ISymbol member, string name, SyntaxNode root)
    {
        _name = name;
        var type = member switch
        {
            IFieldSymbol field => field.Type,
            IPropertySymbol property => property.Type,
            _ => null,
        };
        CanDispose = type is not null && (type.SpecialType == SpecialType.System_IDisposable || type.AllInterfaces.Any(i => i is { Name: "IDisposable", ContainingNamespace.Name: "System" }));
        CanAwait = type is not null && (type is { Name: "IAsyncDisposable" } || type.AllInterfaces.Any(i => i is { Name: "IAsyncDisposable", ContainingNamespace.Name: "System" }));
        _hasRelease = type?.GetMembers("Release").Any(m => m is IMethodSymbol { Parameters.Length: 0, DeclaredAccessibility: Accessibility.Public, IsStatic: false }) == true;

        // A member that is not assigned once and for all by the constructor may still be null when the owner is disposed.
        var settledOnce = member is IFieldSymbol { IsReadOnly: true } || member is IPropertySymbol { SetMethod: null or { IsInitOnly: true } };
        _mayBeNull = type?.NullableAnnotation == NullableAnnotation.Annotated || !settledOnce;
        _notPattern = root.SyntaxTree.Options is not CSharpParseOptions options || options.LanguageVersion >= LanguageVersion.CSharp9;
        _usings = root.DescendantNodes(n => n is CompilationUnitSyntax or BaseNamespaceDeclarationSyntax).OfType<UsingDirectiveSyntax>()
            .Where(u => u.Alias is null && u.StaticKeyword.RawKind == 0 && u.Name is not null)
            .Select(u => u.Name!.ToString())
            .ToImmutableHashSet();
    }

    public bool CanDispose { get; }

    public bool CanAwait { get; }

    /// <summary>The type's name as the file can write it: short when its namespace is imported.</summary>
    public string Qualified(string @namespace, string name) => _usings.Contains(@namespace) ? name : @namespace + "." + name;

    /// <summary>
    /// The statement that releases the member: awaited in an async method when it can be (with <c>ConfigureAwait(false)</c>
    /// where the method uses it), null when it has no release.
    /// </summary>
    public StatementSyntax? Statement(bool inAsyncMethod, bool configureAwaitFalse = false)
    {
        if (inAsyncMethod && CanAwait)
        {
            var awaited = SyntaxFactory.ParseStatement(configureAwaitFalse ? $"await {_name}.DisposeAsync().ConfigureAwait(false);" : $"await {_name}.DisposeAsync();");
            // 'is not null' needs C# 9; '!(x is null)' says the same to older compilers (neither calls a type's own '!=').
            var notNull = _notPattern ? $"{_name} is not null" : $"!({_name} is null)";
            return _mayBeNull ? SyntaxFactory.IfStatement(SyntaxFactory.ParseExpression(notNull), SyntaxFactory.Block(awaited)) : awaited;
        }

        var call = CanDispose ? "Dispose" : _hasRelease ? "Release" : null;
        return call is null ? null : SyntaxFactory.ParseStatement(_mayBeNull ? $"{_name}?.{call}();" : $"{_name}.{call}();");
    }

    /// <summary>A statement that only releases the member: <c>m.Dispose();</c>, <c>m?.Dispose();</c>, <c>await m.DisposeAsync();</c>.</summary>
    public bool IsReleaseStatement(StatementSyntax statement)
    {
        var expression = (statement as ExpressionStatementSyntax)?.Expression;
        if (expression is AwaitExpressionSyntax awaited)
        {
            expression = awaited.Expression;
        }

        if (expression is InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax { Name.Identifier.ValueText: "ConfigureAwait" } configure })
        {
            expression = configure.Expression;
        }

        return expression switch
        {
            InvocationExpressionSyntax { ArgumentList.Arguments.Count: 0, Expression: MemberAccessExpressionSyntax access } => IsReleaseName(access.Name) && IsMember(access.Expression),
            ConditionalAccessExpressionSyntax { WhenNotNull: InvocationExpressionSyntax { ArgumentList.Arguments.Count: 0, Expression: MemberBindingExpressionSyntax binding } } conditional
                => IsReleaseName(binding.Name) && IsMember(conditional.Expression),
            _ => false,
        };
    }

    /// <summary>Does <paramref name="statement"/> release or assign the member anywhere inside it?</summary>
    public bool IsReleasedOrAssignedIn(StatementSyntax statement)
    {
        foreach (var node in statement.DescendantNodesAndSelf())
        {
            switch (node)
            {
                case MemberAccessExpressionSyntax access when IsReleaseName(access.Name) && IsMember(access.Expression):
                    return true;
                case ConditionalAccessExpressionSyntax { WhenNotNull: InvocationExpressionSyntax { Expression: MemberBindingExpressionSyntax binding } } conditional
                    when IsReleaseName(binding.Name) && IsMember(conditional.Expression):
                    return true;
                case AssignmentExpressionSyntax assignment when IsMember(assignment.Left):
                    return true;
                case ArgumentSyntax { RefKindKeyword.RawKind: not 0 } argument when IsMember(argument.Expression):
                    return true;
            }
        }

        return false;
    }

    /// <summary><c>if (...) return;</c> without <c>else</c>, whose condition does not involve the member other than by a null test.</summary>
    public bool IsGuard(StatementSyntax statement)
    {
        if (statement is not IfStatementSyntax { Else: null } ifStatement
            || ifStatement.Statement is not (ReturnStatementSyntax { Expression: null } or BlockSyntax { Statements.Count: 1 })
            || ifStatement.Statement is BlockSyntax { Statements: var inner } && inner[0] is not ReturnStatementSyntax { Expression: null })
        {
            return false;
        }

        var condition = ifStatement.Condition;
        if (condition is BinaryExpressionSyntax { RawKind: (int)SyntaxKind.EqualsExpression, Right: LiteralExpressionSyntax { RawKind: (int)SyntaxKind.NullLiteralExpression } } equals && IsMember(equals.Left)
            || condition is IsPatternExpressionSyntax { Pattern: ConstantPatternSyntax { Expression: LiteralExpressionSyntax { RawKind: (int)SyntaxKind.NullLiteralExpression } } } isNull && IsMember(isNull.Expression))
        {
            return true;
        }

        return !condition.DescendantNodesAndSelf().Any(IsMember);
    }

    private static bool IsReleaseName(SimpleNameSyntax name) => name.Identifier.ValueText is "Dispose" or "DisposeAsync" or "Close" or "CloseAsync" or "Release";

    /// <summary>
    /// Does <paramref name="statement"/> read the member as a value the fix cannot follow: into a local, an argument, a
    /// pattern that names it, a <c>switch</c>, a cast (<c>((dynamic)m).Release()</c> binds when it runs) or anything else
    /// but a call on it, a null test or an assignment to it? A release through that value would be one the fix neither
    /// takes out nor sees, and the <c>finally</c> would release the member a second time.
    /// </summary>
    public bool LetsTheMemberOut(StatementSyntax statement)
    {
        foreach (var node in statement.DescendantNodesAndSelf())
        {
            // 'x._conn' is another object's member, and the name in 'this._conn' is looked at as the whole access.
            if (node is not ExpressionSyntax reference || !IsMemberItself(reference) || reference.Parent is MemberAccessExpressionSyntax outer && outer.Name == reference)
            {
                continue;
            }

            var value = reference;
            while (value.Parent is ParenthesizedExpressionSyntax or PostfixUnaryExpressionSyntax { RawKind: (int)SyntaxKind.SuppressNullableWarningExpression })
            {
                value = (ExpressionSyntax)value.Parent;
            }

            var followed = value.Parent switch
            {
                MemberAccessExpressionSyntax access => access.Expression == value,
                ConditionalAccessExpressionSyntax conditional => conditional.Expression == value,
                AssignmentExpressionSyntax assignment => assignment.Left == value,
                BinaryExpressionSyntax { RawKind: (int)SyntaxKind.EqualsExpression or (int)SyntaxKind.NotEqualsExpression } comparison =>
                    (comparison.Left == value ? comparison.Right : comparison.Left).IsKind(SyntaxKind.NullLiteralExpression),
                IsPatternExpressionSyntax { Pattern: ConstantPatternSyntax or UnaryPatternSyntax { Pattern: ConstantPatternSyntax } } => true,
                _ => false,
            };
            if (!followed)
            {
                return true;
            }
        }

        return false;
    }

    private bool IsMember(SyntaxNode expression) => expression switch
    {
        ParenthesizedExpressionSyntax parenthesized => IsMember(parenthesized.Expression),
        PostfixUnaryExpressionSyntax { RawKind: (int)SyntaxKind.SuppressNullableWarningExpression } suppressed => IsMember(suppressed.Operand),
        _ => IsMemberItself(expression),
    };

    private bool IsMemberItself(SyntaxNode expression) => expression switch
    {
        IdentifierNameSyntax identifier => identifier.Identifier.ValueText == _name,
        MemberAccessExpressionSyntax { Expression: ThisExpressionSyntax, Name: var name } => name.Identifier.ValueText == _name,
        _ => false,
    };
}
