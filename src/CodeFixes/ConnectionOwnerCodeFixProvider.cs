using System.Collections.Generic;
using System.Collections.Immutable;
using System.Composition;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Formatting;
using TenantDbGuard.Analyzers;
using TenantDbGuard.Analyzers.ConnectionLeak;

namespace TenantDbGuard.CodeFixes;

/// <summary>
/// Fixes TDG005 where that is safe: releases the owned field or property in the type's <c>Dispose</c>/<c>DisposeAsync</c>
/// in a <c>finally</c> (after whatever else the method disposes), or makes the type <c>IDisposable</c> (or
/// <c>IAsyncDisposable</c>, for an async owner of an async-disposable connection) with a method that releases it. Not
/// offered when the method releases the member under a condition or returns early (a re-entrancy counter, a
/// <c>Dispose(bool)</c> split), for a constructor that throws, or for a type disposable only through its base type.
/// </summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(ConnectionOwnerCodeFixProvider))]
[Shared]
public sealed class ConnectionOwnerCodeFixProvider : CodeFixProvider
{
    /// <summary>The equivalence key of the fix, so that Fix All releases every owned member in one pass.</summary>
    public const string ReleaseInDisposeKey = "TDG005.ReleaseInDispose";

    private static readonly FixAllProvider FixAll = FixAllProvider.Create(FixAllInDocumentAsync);

    /// <inheritdoc />
    public override ImmutableArray<string> FixableDiagnosticIds { get; } = ImmutableArray.Create(DiagnosticIds.OwnerDoesNotRelease);

    /// <inheritdoc />
    public override FixAllProvider GetFixAllProvider() => FixAll;

    /// <inheritdoc />
    public override async Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        var document = context.Document;
        var root = await document.GetSyntaxRootAsync(context.CancellationToken).ConfigureAwait(false);
        var model = await document.GetSemanticModelAsync(context.CancellationToken).ConfigureAwait(false);
        if (root is null || model is null)
        {
            return;
        }

        foreach (var diagnostic in context.Diagnostics)
        {
            if (!IsFixable(diagnostic) || FindMember(root, diagnostic) is not { } member
                || Fix(model, root, member, diagnostic, context.CancellationToken) is not { } fixedRoot)
            {
                continue;
            }

            var name = MemberName(member);
            var title = diagnostic.Properties[ConnectionOwnerProperties.Problem] == ConnectionOwnerProperties.NotDisposable
                ? $"Make the type disposable and release '{name}'"
                : $"Release '{name}' in a finally";
            context.RegisterCodeFix(
                CodeAction.Create(title, _ => Task.FromResult(document.WithSyntaxRoot(fixedRoot)), ReleaseInDisposeKey),
                diagnostic);
        }
    }

    private static bool IsFixable(Diagnostic diagnostic) =>
        diagnostic.Properties.TryGetValue(ConnectionOwnerProperties.Problem, out var problem)
        && (problem == ConnectionOwnerProperties.NotDisposable
            || problem == ConnectionOwnerProperties.ReleaseMethod && diagnostic.Properties.TryGetValue(ConnectionOwnerProperties.Method, out var method) && method is "Dispose" or "DisposeAsync");

    /// <summary>The declarator of the field, or the property declaration, the diagnostic is on.</summary>
    private static SyntaxNode? FindMember(SyntaxNode root, Diagnostic diagnostic)
    {
        var node = root.FindToken(diagnostic.Location.SourceSpan.Start).Parent;
        return node is VariableDeclaratorSyntax or PropertyDeclarationSyntax ? node : null;
    }

    private static string MemberName(SyntaxNode member) =>
        member is VariableDeclaratorSyntax declarator ? declarator.Identifier.ValueText : ((PropertyDeclarationSyntax)member).Identifier.ValueText;

    /// <summary>The root with the member released by its type, or null when no safe change is known.</summary>
    private static SyntaxNode? Fix(SemanticModel model, SyntaxNode root, SyntaxNode member, Diagnostic diagnostic, CancellationToken cancellationToken)
    {
        if (member.FirstAncestorOrSelf<TypeDeclarationSyntax>() is not { } type
            || model.GetDeclaredSymbol(member, cancellationToken) is not { } symbol
            || model.GetDeclaredSymbol(type, cancellationToken) is not { } typeSymbol)
        {
            return null;
        }

        var release = new ReleaseCall(symbol, MemberName(member), root);
        diagnostic.Properties.TryGetValue(ConnectionOwnerProperties.Method, out var preferred);
        var method = type.Members.OfType<MethodDeclarationSyntax>()
            .Where(m => m.ParameterList.Parameters.Count == 0 && m.Identifier.ValueText is "Dispose" or "DisposeAsync")
            .OrderBy(m => m.Identifier.ValueText == preferred ? 0 : m.Identifier.ValueText == "Dispose" ? 1 : 2)
            .FirstOrDefault();
        if (method is not null)
        {
            return ReleaseInFinally(model, method, release, cancellationToken) is { } rewritten ? root.ReplaceNode(method, rewritten) : null;
        }

        if (typeSymbol.AllInterfaces.Any(i => i.Name is "IDisposable" or "IAsyncDisposable"))
        {
            // Disposable through a base type: its Dispose is not this type's to change.
            return null;
        }

        return MakeDisposable(root, type, typeSymbol, release);
    }

    /// <summary>Adds <c>IDisposable</c> (or <c>IAsyncDisposable</c>) and a method that releases the member.</summary>
    private static SyntaxNode? MakeDisposable(SyntaxNode root, TypeDeclarationSyntax type, INamedTypeSymbol typeSymbol, ReleaseCall release)
    {
        var async = release.CanAwait && (!release.CanDispose || typeSymbol.GetMembers().OfType<IMethodSymbol>().Any(m => m.IsAsync));
        if (release.Statement(async) is not { } statement)
        {
            return null;
        }

        var interfaceName = async ? release.Qualified("System", "IAsyncDisposable") : release.Qualified("System", "IDisposable");
        var method = async
            ? SyntaxFactory.ParseMemberDeclaration($"public async {release.Qualified("System.Threading.Tasks", "ValueTask")} DisposeAsync()\n{{\n}}")!
            : SyntaxFactory.ParseMemberDeclaration("public void Dispose()\n{\n}")!;
        // A blank line between the type's last member and the new method, in the file's own line endings.
        var newLine = root.DescendantTrivia().FirstOrDefault(t => t.IsKind(SyntaxKind.EndOfLineTrivia)).ToString() is { Length: > 0 } found ? found : "\n";
        method = ((MethodDeclarationSyntax)method)
            .WithBody(SyntaxFactory.Block(statement))
            .WithLeadingTrivia(type.Members.Count > 0 ? SyntaxFactory.TriviaList(SyntaxFactory.EndOfLine(newLine)) : default)
            .WithAdditionalAnnotations(Formatter.Annotation);
        var baseType = SyntaxFactory.SimpleBaseType(SyntaxFactory.ParseTypeName(interfaceName));
        TypeDeclarationSyntax updated;
        if (type.BaseList is null)
        {
            // The base list goes where the line ended: after the name, its type parameters or its parameters.
            var last = type.ParameterList?.CloseParenToken ?? type.TypeParameterList?.GreaterThanToken ?? type.Identifier;
            updated = type.ReplaceToken(last, last.WithTrailingTrivia())
                .WithBaseList(SyntaxFactory.BaseList(SyntaxFactory.SingletonSeparatedList<BaseTypeSyntax>(baseType)).WithTrailingTrivia(last.TrailingTrivia));
        }
        else
        {
            updated = type.WithBaseList(type.BaseList.AddTypes(baseType));
        }

        if (type is RecordDeclarationSyntax { OpenBraceToken.RawKind: 0 } record)
        {
            // 'record R(...);' has no body to put the method in.
            updated = ((RecordDeclarationSyntax)updated)
                .WithSemicolonToken(default)
                .WithOpenBraceToken(SyntaxFactory.Token(SyntaxKind.OpenBraceToken))
                .WithCloseBraceToken(SyntaxFactory.Token(SyntaxKind.CloseBraceToken).WithTrailingTrivia(record.SemicolonToken.TrailingTrivia));
        }

        updated = updated.AddMembers((MemberDeclarationSyntax)method).WithAdditionalAnnotations(Formatter.Annotation);
        return root.ReplaceNode(type, updated);
    }

    /// <summary>
    /// <paramref name="method"/> with its own releases of the member taken out and the member released in a <c>finally</c>
    /// around the rest (its leading <c>if (...) return;</c> guards stay in front); null when that would change behaviour.
    /// </summary>
    private static MethodDeclarationSyntax? ReleaseInFinally(SemanticModel model, MethodDeclarationSyntax method, ReleaseCall release, CancellationToken cancellationToken)
    {
        var isAsync = method.Modifiers.Any(SyntaxKind.AsyncKeyword);
        var disposeAsync = method.Identifier.ValueText == "DisposeAsync";
        List<StatementSyntax> statements;
        var makeAsync = false;
        if (method.Body is { } body)
        {
            if (disposeAsync && !isAsync)
            {
                return null;
            }

            statements = body.Statements.ToList();
        }
        else if (method.ExpressionBody?.Expression is { } expression)
        {
            statements = new List<StatementSyntax>();
            if (disposeAsync && !isAsync)
            {
                // 'DisposeAsync() => other.DisposeAsync()' becomes async: the task is awaited in the try.
                makeAsync = true;
                if (!IsCompletedTask(expression))
                {
                    var awaitable = model.GetTypeInfo(expression, cancellationToken).Type?.Name;
                    if (awaitable is not ("ValueTask" or "Task"))
                    {
                        return null;
                    }

                    statements.Add(SyntaxFactory.ExpressionStatement(SyntaxFactory.AwaitExpression(Parenthesized(expression))));
                }
            }
            else
            {
                statements.Add(SyntaxFactory.ExpressionStatement(expression));
            }
        }
        else
        {
            return null;
        }

        if (release.Statement(isAsync || makeAsync) is not { } releaseStatement)
        {
            return null;
        }

        var kept = statements.Where(statement => !release.IsReleaseStatement(statement)).ToList();
        if (kept.Any(statement => release.IsReleasedOrAssignedIn(statement)))
        {
            // Released under a condition (a re-entrancy counter) or replaced: moving the release would change what it does.
            return null;
        }

        var guards = kept.TakeWhile(release.IsGuard).ToList();
        var rest = kept.Skip(guards.Count).ToList();
        if (rest.Any(statement => statement.DescendantNodesAndSelf(n => n is not (AnonymousFunctionExpressionSyntax or LocalFunctionStatementSyntax)).OfType<ReturnStatementSyntax>().Any()))
        {
            return null;
        }

        var newStatements = guards;
        newStatements.Add(rest.Count == 0
            ? releaseStatement
            : SyntaxFactory.TryStatement(SyntaxFactory.Block(rest), default, SyntaxFactory.FinallyClause(SyntaxFactory.Block(releaseStatement))));
        var rewritten = method
            .WithExpressionBody(null)
            .WithSemicolonToken(default)
            .WithBody(SyntaxFactory.Block(newStatements));
        if (makeAsync)
        {
            rewritten = rewritten.WithModifiers(rewritten.Modifiers.Add(SyntaxFactory.Token(SyntaxKind.AsyncKeyword).WithTrailingTrivia(SyntaxFactory.Space)));
        }

        if (method.ExpressionBody is not null)
        {
            rewritten = rewritten.WithParameterList(rewritten.ParameterList.WithTrailingTrivia(SyntaxFactory.ElasticCarriageReturnLineFeed));
        }

        return rewritten.WithAdditionalAnnotations(Formatter.Annotation);
    }

    private static bool IsCompletedTask(ExpressionSyntax expression) =>
        expression.IsKind(SyntaxKind.DefaultLiteralExpression)
        || expression is DefaultExpressionSyntax
        || expression is MemberAccessExpressionSyntax { Name.Identifier.ValueText: "CompletedTask" };

    private static ExpressionSyntax Parenthesized(ExpressionSyntax expression) =>
        expression is InvocationExpressionSyntax or MemberAccessExpressionSyntax or IdentifierNameSyntax
            ? expression.WithoutTrivia()
            : SyntaxFactory.ParenthesizedExpression(expression.WithoutTrivia());

    private static async Task<Document?> FixAllInDocumentAsync(FixAllContext context, Document document, ImmutableArray<Diagnostic> diagnostics)
    {
        var cancellationToken = context.CancellationToken;
        var root = await document.GetSyntaxRootAsync(cancellationToken).ConfigureAwait(false);
        if (root is null)
        {
            return document;
        }

        // Mark every member first: each fix rewrites its type, and the marks find the other members again.
        var marks = new Dictionary<SyntaxNode, (SyntaxAnnotation Mark, Diagnostic Diagnostic)>();
        foreach (var diagnostic in diagnostics.OrderBy(d => d.Location.SourceSpan.Start))
        {
            if (IsFixable(diagnostic) && FindMember(root, diagnostic) is { } member && !marks.ContainsKey(member))
            {
                marks.Add(member, (new SyntaxAnnotation("TenantDbGuard.OwnedMember"), diagnostic));
            }
        }

        root = root.ReplaceNodes(marks.Keys, (original, rewritten) => rewritten.WithAdditionalAnnotations(marks[original].Mark));
        document = document.WithSyntaxRoot(root);
        foreach (var (mark, diagnostic) in marks.Values)
        {
            root = (await document.GetSyntaxRootAsync(cancellationToken).ConfigureAwait(false))!;
            var model = await document.GetSemanticModelAsync(cancellationToken).ConfigureAwait(false);
            if (model is not null && root.GetAnnotatedNodes(mark).FirstOrDefault() is { } member && Fix(model, root, member, diagnostic, cancellationToken) is { } fixedRoot)
            {
                document = document.WithSyntaxRoot(fixedRoot);
            }
        }

        return await Formatter.FormatAsync(document, Formatter.Annotation, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    /// <summary>How the owned member is released, and how to recognise its releases in existing code.</summary>
    private sealed class ReleaseCall
    {
        private readonly string _name;
        private readonly bool _mayBeNull;
        private readonly bool _hasRelease;
        private readonly ImmutableHashSet<string> _usings;

        public ReleaseCall(ISymbol member, string name, SyntaxNode root)
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
            _usings = root.DescendantNodes(n => n is CompilationUnitSyntax or BaseNamespaceDeclarationSyntax).OfType<UsingDirectiveSyntax>()
                .Where(u => u.Alias is null && u.StaticKeyword.RawKind == 0 && u.Name is not null)
                .Select(u => u.Name!.ToString())
                .ToImmutableHashSet();
        }

        public bool CanDispose { get; }

        public bool CanAwait { get; }

        /// <summary>The type's name as the file can write it: short when its namespace is imported.</summary>
        public string Qualified(string @namespace, string name) => _usings.Contains(@namespace) ? name : @namespace + "." + name;

        /// <summary>The statement that releases the member: awaited in an async method when it can be, null when it has no release.</summary>
        public StatementSyntax? Statement(bool inAsyncMethod)
        {
            if (inAsyncMethod && CanAwait)
            {
                var awaited = SyntaxFactory.ParseStatement($"await {_name}.DisposeAsync();");
                return _mayBeNull ? SyntaxFactory.IfStatement(SyntaxFactory.ParseExpression($"{_name} is not null"), SyntaxFactory.Block(awaited)) : awaited;
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

        private bool IsMember(SyntaxNode expression) => expression switch
        {
            IdentifierNameSyntax identifier => identifier.Identifier.ValueText == _name,
            MemberAccessExpressionSyntax { Expression: ThisExpressionSyntax, Name: var name } => name.Identifier.ValueText == _name,
            _ => false,
        };
    }
}
