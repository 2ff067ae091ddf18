using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using TenantDbGuard.Analyzers.ConnectionLeak;
using static Microsoft.CodeAnalysis.CSharp.SyntaxFactory;

namespace TenantDbGuard.CodeFixes.ConnectionLeak;

/// <summary>What the release must be able to do where it is put.</summary>
[Flags]
internal enum ReleaseNeeds
{
    None = 0,

    /// <summary>The connection is opened again later: <c>Close</c>/<c>CloseAsync</c>, never <c>Dispose</c>.</summary>
    Reopenable = 1,

    /// <summary>The variable may be null where the release runs: <c>x?.Release()</c>.</summary>
    MayBeNull = 2,

    /// <summary>A failure path gives the connection up for good: not <c>Close</c>, which keeps a pooled lease.</summary>
    GiveUp = 4,
}

/// <summary>How a <c>using</c> can own a value of some type here.</summary>
internal enum UsingKind
{
    None,
    Sync,
    Async,
}

/// <summary>
/// The one place that knows what releases a connection: it recognises the releases the code already makes (any local,
/// whatever its name: <c>x.Release()</c>, <c>x?.Dispose()</c>, <c>await x.DisposeAsync()</c>, <c>pool.Release(x)</c>,
/// <c>if (x is IDisposable d) d.Dispose();</c>, the names configured in <c>tenantdbguard.release_methods</c>) and
/// chooses the release every fix writes: the code's own call first, then <c>Release()</c>, a configured name,
/// <c>DisposeAsync</c> in async code (with <c>ConfigureAwait(false)</c> where the function uses it, never in a
/// <c>lock</c>), <c>Dispose</c>, and <c>Close</c>/<c>CloseAsync</c> where the connection is opened again.
/// </summary>
internal sealed class ReleaseChooser
{
    private static readonly SyntaxAnnotation MovedRelease = new();
    private static readonly ImmutableHashSet<string> BuiltInNames = ImmutableHashSet.Create("Dispose", "DisposeAsync", "Close", "CloseAsync", "Release");
    private readonly ImmutableArray<string> _configured;

    public ReleaseChooser(SemanticModel model, FunctionContext context, string? configuredNames, bool onlyFailuresLeak = false, CancellationToken cancellationToken = default)
    {
        Model = model;
        CancellationToken = cancellationToken;
        Context = context;
        OnlyFailuresLeak = onlyFailuresLeak;
        _configured = NameConfiguration.Entries(configuredNames)
            .Select(name => name.Substring(name.LastIndexOf('.') + 1))
            .Where(name => name.Length > 0 && !BuiltInNames.Contains(name))
            .Distinct()
            .OrderBy(name => name, StringComparer.Ordinal)
            .ToImmutableArray();
        Names = BuiltInNames.Union(_configured);
    }

    public SemanticModel Model { get; }

    /// <summary>Cancels the planning (the fixes follow calls into other documents' syntax).</summary>
    public CancellationToken CancellationToken { get; }

    public FunctionContext Context { get; }

    /// <summary>
    /// Does the analyzer find the connection released on every normal path, leaked only when something throws? A fix
    /// that adds a release then must find the code's own releases to move, or it would add a second one.
    /// </summary>
    public bool OnlyFailuresLeak { get; }

    /// <summary>
    /// Does the code give the local back where the fix cannot see it: the analyzer finds it released on every normal
    /// path, and no statement of the function (outside its lambdas) releases it?
    /// </summary>
    public bool ReleasedOutOfSight(ILocalSymbol local) =>
        OnlyFailuresLeak
        && FindReleases(local, Context.Node.ChildNodes().Select(child => child is GlobalStatementSyntax global ? global.Statement : child).OfType<StatementSyntax>()).Count == 0;

    /// <summary>Release method names: the built-in ones and those configured in <c>.editorconfig</c>.</summary>
    public ImmutableHashSet<string> Names { get; }

    /// <summary>Was the statement moved by a fix from elsewhere (its comments travel with it)?</summary>
    public static bool IsMoved(SyntaxNode statement) => statement.HasAnnotation(MovedRelease);

    /// <summary>The statements in <paramref name="scope"/> (outside lambdas and local functions) that release the local.</summary>
    public List<StatementSyntax> FindReleases(ILocalSymbol local, IEnumerable<StatementSyntax> scope)
    {
        var found = new List<StatementSyntax>();
        foreach (var statement in scope)
        {
            foreach (var node in statement.DescendantNodesAndSelf(n => !FunctionContext.IsFunction(n)))
            {
                if (node is StatementSyntax candidate && Releases(candidate, local, out _, out _))
                {
                    found.Add(candidate);
                }
            }
        }

        return found;
    }

    /// <summary>Is <paramref name="statement"/> a release of <paramref name="local"/>, and by which call?</summary>
    public bool Releases(StatementSyntax statement, ILocalSymbol local, out string name, out bool awaited)
    {
        name = string.Empty;
        awaited = false;
        switch (statement)
        {
            case ExpressionStatementSyntax expression:
                return ReleasedBy(expression.Expression, local, out name, out awaited);
            case IfStatementSyntax { Else: null, Condition: IsPatternExpressionSyntax { Pattern: DeclarationPatternSyntax { Designation: SingleVariableDesignationSyntax alias } } pattern } ifStatement
                when IsLocal(pattern.Expression, local):
                // if (x is IDisposable d) d.Dispose();
                var body = ifStatement.Statement is BlockSyntax { Statements.Count: 1 } block ? block.Statements[0] : ifStatement.Statement;
                return body is ExpressionStatementSyntax inner
                       && Unwrap(inner.Expression, out awaited) is InvocationExpressionSyntax { ArgumentList.Arguments.Count: 0, Expression: MemberAccessExpressionSyntax { Expression: IdentifierNameSyntax target } member }
                       && target.Identifier.ValueText == alias.Identifier.ValueText
                       && Names.Contains(name = member.Name.Identifier.ValueText);
            default:
                return false;
        }
    }

    /// <summary>Does the expression (a statement's) release the local?</summary>
    public bool ReleasedBy(ExpressionSyntax expression, ILocalSymbol local, out string name, out bool awaited)
    {
        name = string.Empty;
        switch (Unwrap(expression, out awaited))
        {
            case InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax { Name: var method } access, ArgumentList.Arguments: var arguments }
                when Names.Contains(method.Identifier.ValueText):
                name = method.Identifier.ValueText;
                // x.Release() or ((IDisposable)x).Dispose(); pool.Release(x)
                return (arguments.Count == 0 && IsLocal(access.Expression, local))
                       || (arguments.Count == 1 && arguments[0].RefKindKeyword.IsKind(SyntaxKind.None) && IsLocal(arguments[0].Expression, local));
            case InvocationExpressionSyntax { Expression: IdentifierNameSyntax method, ArgumentList.Arguments: { Count: 1 } single }
                when Names.Contains(method.Identifier.ValueText):
                // Release(x): a release method of the type itself, or of a 'using static' class
                name = method.Identifier.ValueText;
                return single[0].RefKindKeyword.IsKind(SyntaxKind.None) && IsLocal(single[0].Expression, local);
            case ConditionalAccessExpressionSyntax { WhenNotNull: InvocationExpressionSyntax { Expression: MemberBindingExpressionSyntax binding, ArgumentList.Arguments.Count: 0 } } access
                when Names.Contains(binding.Name.Identifier.ValueText):
                // x?.Dispose() or (x as IDisposable)?.Dispose()
                name = binding.Name.Identifier.ValueText;
                return IsLocal(access.Expression, local);
            default:
                return false;
        }
    }

    /// <summary>
    /// The release statement to write for <paramref name="local"/>: the code's own release as written (comments
    /// included) when it fits, else the best call the type offers; <c>null</c> when nothing releases it.
    /// </summary>
    public StatementSyntax? Choose(ILocalSymbol local, IEnumerable<StatementSyntax> existing, SyntaxNode position, ReleaseNeeds needs)
    {
        foreach (var statement in existing.OrderBy(e => e.Ancestors().Any(a => a is CatchClauseSyntax)))
        {
            if (!Releases(statement, local, out var name, out var awaited)
                || (awaited && !Context.IsAsync)
                || (needs.HasFlag(ReleaseNeeds.Reopenable) && name is not ("Close" or "CloseAsync"))
                || (needs.HasFlag(ReleaseNeeds.GiveUp) && name is "Close" or "CloseAsync"))
            {
                continue;
            }

            if (needs.HasFlag(ReleaseNeeds.MayBeNull) && statement is ExpressionStatementSyntax { Expression: InvocationExpressionSyntax { ArgumentList.Arguments.Count: 0 } call })
            {
                if (call.Expression is not MemberAccessExpressionSyntax { Name.Identifier.ValueText: var called } || called != name)
                {
                    // 'x.DisposeAsync().GetAwaiter().GetResult()' takes no '?.' as written: the type's own release is written instead.
                    continue;
                }

                return Call(Reference(local), name, awaited: false, conditional: true);
            }

            // The code's own release, as written; a comment above it or after it on its line moves with it, unless it explains a
            // catch. An #if group that ends above it (#if ... #endif) holds code of its own: it stays where it is, comments too.
            var inCatch = statement.Ancestors().Any(a => a is CatchClauseSyntax);
            var leading = !inCatch && AuthorTrivia.HasCommentsOrDirectives(statement.GetLeadingTrivia()) && !EndsDirectiveGroups(statement.GetLeadingTrivia())
                ? FromFirstLine(statement.GetLeadingTrivia())
                : default;
            var trailing = !inCatch && AuthorTrivia.HasCommentsOrDirectives(statement.GetTrailingTrivia()) ? statement.GetTrailingTrivia() : default;
            return statement.WithoutTrivia().WithLeadingTrivia(leading).WithTrailingTrivia(trailing).WithAdditionalAnnotations(MovedRelease);
        }

        return ChooseFor(local.Type, Reference(local), position, needs);
    }

    /// <summary>
    /// Does the trivia above a statement close an <c>#if</c> group (<c>#endif</c>) without leaving one open over the
    /// statement? A release under an open <c>#if</c> moves with it, and the directives then out of order stop the fix.
    /// </summary>
    private static bool EndsDirectiveGroups(SyntaxTriviaList leading) => DirectiveGroups.Above(leading) is { Closes: true, Open: 0 };

    /// <summary>The trivia from the indentation of its first comment or directive on: the blank lines above stay behind.</summary>
    private static SyntaxTriviaList FromFirstLine(SyntaxTriviaList leading)
    {
        var first = 0;
        while (first < leading.Count && (leading[first].IsKind(SyntaxKind.EndOfLineTrivia) || leading[first].IsKind(SyntaxKind.WhitespaceTrivia)))
        {
            first++;
        }

        if (first > 0 && leading[first - 1].IsKind(SyntaxKind.WhitespaceTrivia))
        {
            first--;
        }

        return TriviaList(leading.Skip(first));
    }

    /// <summary>The best release call the type offers, on <paramref name="target"/>.</summary>
    public StatementSyntax? ChooseFor(ITypeSymbol type, ExpressionSyntax target, SyntaxNode position, ReleaseNeeds needs)
    {
        var conditional = needs.HasFlag(ReleaseNeeds.MayBeNull);
        var async = Context.IsAsync && !Context.CannotAwaitAt(position);
        if (needs.HasFlag(ReleaseNeeds.Reopenable))
        {
            return async && HasMethod(type, "CloseAsync", position) ? Call(target, "CloseAsync", awaited: true, conditional)
                : HasMethod(type, "Close", position) ? Call(target, "Close", awaited: false, conditional)
                : null;
        }

        if (HasMethod(type, "Release", position))
        {
            return Call(target, "Release", awaited: false, conditional);
        }

        foreach (var name in _configured)
        {
            if (HasMethod(type, name, position))
            {
                return Call(target, name, awaited: false, conditional);
            }
        }

        switch (UsingFor(type, position))
        {
            case UsingKind.Async:
                return Call(Through(type, "DisposeAsync", "System.IAsyncDisposable", target, position), "DisposeAsync", awaited: true, conditional);
            case UsingKind.Sync:
                return Call(Through(type, "Dispose", "System.IDisposable", target, position), "Dispose", awaited: false, conditional);
        }

        return !needs.HasFlag(ReleaseNeeds.GiveUp) && HasMethod(type, "Close", position) ? Call(target, "Close", awaited: false, conditional) : null;
    }

    /// <summary>
    /// The target itself where the type offers the method, else the target cast to the interface that the type
    /// implements explicitly (<c>((IDisposable)x).Dispose()</c>: <c>x.Dispose()</c> would not compile).
    /// </summary>
    private ExpressionSyntax Through(ITypeSymbol type, string method, string interfaceName, ExpressionSyntax target, SyntaxNode position) =>
        HasMethod(type, method, position)
            ? target
            : ParenthesizedExpression(CastExpression(ParseTypeName(Model.Compilation.GetTypeByMetadataName(interfaceName)!.ToMinimalDisplayString(Model, position.SpanStart)), target));

    /// <summary>Is the release statement a dispose (<c>x.Dispose()</c>, <c>await x.DisposeAsync()</c>, <c>x?.Dispose()</c>), which a <c>using</c> can make?</summary>
    public static bool IsDispose(StatementSyntax? release) =>
        release is ExpressionStatementSyntax { Expression: var call }
        && call.DescendantNodesAndSelf().OfType<SimpleNameSyntax>().Any(n => n.Identifier.ValueText is "Dispose" or "DisposeAsync");

    /// <summary>
    /// Whether the project's language version has <c>using</c> declarations and <c>await using</c> (C# 8). Before it,
    /// only a synchronous <c>using</c> statement can be written; a fix then releases in <c>finally</c> instead.
    /// </summary>
    public bool HasUsingDeclarations =>
        Model.SyntaxTree.Options is not CSharpParseOptions options || options.LanguageVersion >= LanguageVersion.CSharp8;

    /// <summary>Which <c>using</c> owns a value of <paramref name="type"/> here: <c>await using</c> in async code where an <c>await</c> may stand.</summary>
    public UsingKind UsingFor(ITypeSymbol type, SyntaxNode position)
    {
        if (Context.IsAsync && !Context.CannotAwaitAt(position) && Implements(type, "System.IAsyncDisposable"))
        {
            return UsingKind.Async;
        }

        return Implements(type, "System.IDisposable") ? UsingKind.Sync : UsingKind.None;
    }

    /// <summary>
    /// The <c>using</c> a fix may write for a value of <paramref name="type"/>: <see cref="UsingFor"/>, except that
    /// a function whose awaits use <c>ConfigureAwait(false)</c> gets no <c>await using</c>. Its dispose would be
    /// awaited on the captured context (a deadlock where a caller blocks on the task, and CA2007 where the project
    /// enforces it); the fix releases in <c>finally</c> with <c>await x.DisposeAsync().ConfigureAwait(false)</c>
    /// instead.
    /// </summary>
    public UsingKind UsingToWrite(ITypeSymbol type, SyntaxNode position)
    {
        var kind = UsingFor(type, position);
        return kind == UsingKind.Async && Context.UsesConfigureAwaitFalse ? UsingKind.None : kind;
    }

    /// <summary>Does the type (or, for a type parameter, a constraint) implement the interface?</summary>
    public bool Implements(ITypeSymbol type, string interfaceName)
    {
        var target = Model.Compilation.GetTypeByMetadataName(interfaceName);
        if (target is null)
        {
            return false;
        }

        if (type is ITypeParameterSymbol parameter)
        {
            return parameter.ConstraintTypes.Any(c => Implements(c, interfaceName));
        }

        return SymbolEqualityComparer.Default.Equals(type, target) || type.AllInterfaces.Contains(target, SymbolEqualityComparer.Default);
    }

    /// <summary>A public parameterless instance method, or an extension method callable as <c>x.Name()</c>.</summary>
    public bool HasMethod(ITypeSymbol type, string name, SyntaxNode position)
    {
        if (type is ITypeParameterSymbol parameter)
        {
            return parameter.ConstraintTypes.Any(c => HasMethod(c, name, position));
        }

        for (var current = type; current is not null; current = current.BaseType)
        {
            if (current.GetMembers(name).Any(m => m is IMethodSymbol { IsStatic: false, Parameters.Length: 0, DeclaredAccessibility: Accessibility.Public }))
            {
                return true;
            }
        }

        // An interface's own interfaces (a class's explicit implementations cannot be called on it).
        return (type.TypeKind == TypeKind.Interface && type.AllInterfaces.Any(i => i.GetMembers(name).Any(m => m is IMethodSymbol { Parameters.Length: 0 })))
               || Model.LookupSymbols(position.SpanStart, type, name, includeReducedExtensionMethods: true)
                   .Any(s => s is IMethodSymbol { ReducedFrom: not null, Parameters.Length: 0 });
    }

    /// <summary><c>x.Name();</c>, <c>x?.Name();</c> or <c>await x.Name()</c>, with <c>ConfigureAwait(false)</c> where the function uses it.</summary>
    public StatementSyntax Call(ExpressionSyntax target, string method, bool awaited, bool conditional)
    {
        if (conditional && !awaited)
        {
            return ExpressionStatement(ConditionalAccessExpression(target, InvocationExpression(MemberBindingExpression(IdentifierName(method)))));
        }

        ExpressionSyntax call = InvocationExpression(MemberAccessExpression(SyntaxKind.SimpleMemberAccessExpression, target, IdentifierName(method)));
        if (awaited)
        {
            if (Context.UsesConfigureAwaitFalse)
            {
                call = InvocationExpression(
                    MemberAccessExpression(SyntaxKind.SimpleMemberAccessExpression, call, IdentifierName("ConfigureAwait")),
                    ArgumentList(SingletonSeparatedList(Argument(LiteralExpression(SyntaxKind.FalseLiteralExpression)))));
            }

            call = AwaitExpression(call);
        }

        var statement = ExpressionStatement(call);
        return conditional
            ? IfStatement(BinaryExpression(SyntaxKind.NotEqualsExpression, target, LiteralExpression(SyntaxKind.NullLiteralExpression)), Block(statement))
            : statement;
    }

    private static ExpressionSyntax Unwrap(ExpressionSyntax expression, out bool awaited)
    {
        awaited = false;
        if (expression is AwaitExpressionSyntax awaitExpression)
        {
            awaited = true;
            expression = awaitExpression.Expression;
        }
        else if (expression is InvocationExpressionSyntax
                 {
                     ArgumentList.Arguments.Count: 0,
                     Expression: MemberAccessExpressionSyntax
                     {
                         Name.Identifier.ValueText: "GetResult",
                         Expression: InvocationExpressionSyntax { ArgumentList.Arguments.Count: 0, Expression: MemberAccessExpressionSyntax { Name.Identifier.ValueText: "GetAwaiter" } getAwaiter },
                     },
                 })
        {
            // Waited for where it cannot be awaited: 'x.DisposeAsync().GetAwaiter().GetResult()'.
            expression = getAwaiter.Expression;
        }
        else
        {
            return expression;
        }

        // The task of the release, configured or converted: 'await x.DisposeAsync().AsTask().ConfigureAwait(false)'.
        while (expression is InvocationExpressionSyntax { ArgumentList.Arguments.Count: <= 1, Expression: MemberAccessExpressionSyntax { Name.Identifier.ValueText: "ConfigureAwait" or "AsTask" or "Preserve" } configure })
        {
            expression = configure.Expression;
        }

        return expression;
    }

    /// <summary>
    /// A reference to <paramref name="local"/> spelled as it is declared, so that <c>@event</c> stays <c>@event</c>
    /// (its name alone, <c>event</c>, is a keyword).
    /// </summary>
    public static IdentifierNameSyntax Reference(ILocalSymbol local)
    {
        foreach (var reference in local.DeclaringSyntaxReferences)
        {
            switch (reference.GetSyntax())
            {
                case VariableDeclaratorSyntax declarator:
                    return IdentifierName(declarator.Identifier.WithoutTrivia());
                case SingleVariableDesignationSyntax designation:
                    return IdentifierName(designation.Identifier.WithoutTrivia());
                case ForEachStatementSyntax forEach:
                    return IdentifierName(forEach.Identifier.WithoutTrivia());
            }
        }

        return IdentifierName(SyntaxFacts.GetKeywordKind(local.Name) == SyntaxKind.None ? Identifier(local.Name) : VerbatimIdentifier(default, "@" + local.Name, local.Name, default));
    }

    /// <summary>Is the expression the local itself, seen through parentheses, casts and <c>as</c>?</summary>
    private bool IsLocal(ExpressionSyntax expression, ILocalSymbol local)
    {
        while (true)
        {
            switch (expression)
            {
                case ParenthesizedExpressionSyntax parenthesized:
                    expression = parenthesized.Expression;
                    continue;
                case CastExpressionSyntax cast:
                    expression = cast.Expression;
                    continue;
                case BinaryExpressionSyntax { RawKind: (int)SyntaxKind.AsExpression } asExpression:
                    expression = asExpression.Left;
                    continue;
                case PostfixUnaryExpressionSyntax { RawKind: (int)SyntaxKind.SuppressNullableWarningExpression } forgiven:
                    // x!.Release()
                    expression = forgiven.Operand;
                    continue;
                case IdentifierNameSyntax identifier:
                    return identifier.Identifier.ValueText == local.Name
                           && SymbolEqualityComparer.Default.Equals(Model.GetSymbolInfo(identifier).Symbol, local);
                default:
                    return false;
            }
        }
    }
}
