using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Formatting;
using static Microsoft.CodeAnalysis.CSharp.SyntaxFactory;

namespace TenantDbGuard.CodeFixes.ConnectionLeak;

/// <summary>One way to fix one TDG001: a title, an equivalence key, and the rewrite of the syntax root.</summary>
internal sealed class LeakFix
{
    public LeakFix(string title, string equivalenceKey, Func<SyntaxNode, SyntaxNode> apply)
    {
        Title = title;
        EquivalenceKey = equivalenceKey;
        Apply = apply;
    }

    public string Title { get; }

    public string EquivalenceKey { get; }

    /// <summary>Rewrites the root the fix was planned on.</summary>
    public Func<SyntaxNode, SyntaxNode> Apply { get; }
}

/// <summary>
/// Chooses the smallest change that releases a leaked connection on every path without changing what the code does.
/// </summary>
internal static class LeakFixPlanner
{
    public const string UseUsingKey = "TDG001.UseUsing";
    public const string ReleaseInFinallyKey = "TDG001.ReleaseInFinally";
    public const string DisposeOnFailureKey = "TDG001.DisposeOnFailure";
    public const string ReleaseDiscardedKey = "TDG001.ReleaseDiscarded";

    private static readonly SyntaxAnnotation MovedRelease = new("TenantDbGuard.MovedRelease");
    private static readonly SyntaxAnnotation UnwrapMarker = new("TenantDbGuard.Unwrap");

    private static readonly ImmutableHashSet<string> BuiltInReleaseNames = ImmutableHashSet.Create("Dispose", "DisposeAsync", "Close", "CloseAsync", "Release");

    /// <summary>Plans the fixes of one diagnostic.</summary>
    /// <param name="model">The semantic model of the document.</param>
    /// <param name="acquisition">The acquiring call the diagnostic sits on.</param>
    /// <param name="properties">The diagnostic's properties (see <c>ConnectionLeakProperties</c>).</param>
    /// <param name="configuredReleaseNames">The value of <c>tenantdbguard.release_methods</c>, if any.</param>
    /// <param name="cancellationToken">Cancels the planning.</param>
    public static ImmutableArray<LeakFix> Plan(
        SemanticModel model,
        InvocationExpressionSyntax acquisition,
        ImmutableDictionary<string, string?> properties,
        string? configuredReleaseNames,
        CancellationToken cancellationToken)
    {
        var configured = (configuredReleaseNames ?? string.Empty)
            .Split(new[] { ',', ';', ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries)
            .Select(name => name.Substring(name.LastIndexOf('.') + 1))
            .Where(name => name.Length > 0)
            .ToImmutableArray();
        properties.TryGetValue("Kind", out var kind);
        properties.TryGetValue("HandsOff", out var handsOffText);
        var handsOff = handsOffText == "true";
        var fixes = ImmutableArray.CreateBuilder<LeakFix>();
        if (kind == "Opened")
        {
            PlanOpened(model, acquisition, handsOff, configured, fixes, cancellationToken);
        }
        else
        {
            PlanReturned(model, acquisition, handsOff, configured, fixes, cancellationToken);
        }

        return fixes.ToImmutable();
    }

    private static void PlanReturned(SemanticModel model, InvocationExpressionSyntax acquisition, bool handsOff, ImmutableArray<string> configured, ImmutableArray<LeakFix>.Builder fixes, CancellationToken cancellationToken)
    {
        var expression = OutermostValue(acquisition);
        var context = FunctionContext.Of(expression, model, configured);
        var resourceType = model.GetTypeInfo(expression, cancellationToken).Type;
        if (resourceType is null || context is null)
        {
            return;
        }

        switch (expression.Parent)
        {
            case EqualsValueClauseSyntax { Parent: VariableDeclaratorSyntax { Parent: VariableDeclarationSyntax { Variables.Count: 1, Parent: LocalDeclarationStatementSyntax declaration } } declarator }:
            {
                if (model.GetDeclaredSymbol(declarator, cancellationToken) is not ILocalSymbol local)
                {
                    return;
                }

                if (handsOff)
                {
                    AddDisposeOnFailure(model, context, declaration, local, startAfter: true, fixes, cancellationToken);
                    return;
                }

                AddUsingDeclaration(model, context, declaration, local, fixes, cancellationToken);
                AddReleaseInFinally(model, context, declaration, local, fixes, cancellationToken);
                return;
            }

            case AssignmentExpressionSyntax { Left: IdentifierNameSyntax, Parent: ExpressionStatementSyntax statement } assignment when assignment.Right == expression:
            {
                if (model.GetSymbolInfo(assignment.Left, cancellationToken).Symbol is not ILocalSymbol local)
                {
                    if (assignment.Left is IdentifierNameSyntax { Identifier.ValueText: "_" })
                    {
                        AddReleaseDiscarded(model, context, statement, expression, resourceType, fixes);
                    }

                    return;
                }

                if (handsOff)
                {
                    AddDisposeOnFailure(model, context, statement, local, startAfter: true, fixes, cancellationToken);
                    return;
                }

                AddReleaseInFinally(model, context, statement, local, fixes, cancellationToken);
                return;
            }

            case ExpressionStatementSyntax statement:
                AddReleaseDiscarded(model, context, statement, expression, resourceType, fixes);
                return;
        }

        if (handsOff)
        {
            return;
        }

        // Inside an expression-bodied lambda: the fix stays inside the lambda.
        var lambda = expression.Ancestors().TakeWhile(a => a is not StatementSyntax).OfType<AnonymousFunctionExpressionSyntax>().FirstOrDefault();
        if (lambda is not null)
        {
            if (lambda.ExpressionBody is not null && !IsConditionallyEvaluated(expression, lambda.ExpressionBody))
            {
                AddLambdaBodyFix(model, context, lambda, expression, resourceType, fixes, cancellationToken);
            }

            return;
        }

        // Used in a larger expression and never stored: give it a local that is released, unless the
        // expression only runs under a condition (it would then run every time) or runs repeatedly.
        if (expression.FirstAncestorOrSelf<StatementSyntax>() is { } containing
            && containing is not (BlockSyntax or LocalFunctionStatementSyntax)
            && !IsConditionallyEvaluated(expression, containing))
        {
            AddIntroduceLocal(model, context, containing, expression, resourceType, fixes, cancellationToken);
        }
    }

    private static bool IsConditionallyEvaluated(SyntaxNode expression, SyntaxNode container)
    {
        for (var child = expression; child != container && child.Parent is { } parent; child = parent)
        {
            var conditional = parent switch
            {
                BinaryExpressionSyntax binary => binary.Right == child && binary.Kind() is SyntaxKind.LogicalAndExpression or SyntaxKind.LogicalOrExpression or SyntaxKind.CoalesceExpression,
                AssignmentExpressionSyntax assignment => assignment.Right == child && assignment.IsKind(SyntaxKind.CoalesceAssignmentExpression),
                ConditionalExpressionSyntax ternary => ternary.Condition != child,
                ConditionalAccessExpressionSyntax access => access.WhenNotNull == child,
                SwitchExpressionArmSyntax or CatchFilterClauseSyntax => true,
                WhileStatementSyntax or DoStatementSyntax or ForStatementSyntax => true,
                _ => false,
            };
            if (conditional)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary><c>() => pool.GetConnection().Execute(..)</c> gets a block body with a local that is released.</summary>
    private static void AddLambdaBodyFix(
        SemanticModel model,
        FunctionContext context,
        AnonymousFunctionExpressionSyntax lambda,
        ExpressionSyntax value,
        ITypeSymbol type,
        ImmutableArray<LeakFix>.Builder fixes,
        CancellationToken cancellationToken)
    {
        var body = lambda.ExpressionBody!;
        var returnsNothing = model.GetSymbolInfo(lambda, cancellationToken).Symbol is IMethodSymbol method
            && (method.ReturnsVoid || (lambda.AsyncKeyword.IsKind(SyntaxKind.AsyncKeyword) && method.ReturnType is INamedTypeSymbol { IsGenericType: false, Name: "Task" or "ValueTask" }));
        var useAwait = context.IsAsync && Implements(type, "System.IAsyncDisposable", model);
        var disposable = useAwait || Implements(type, "System.IDisposable", model);
        var canRelease = HasParameterlessMethod(type, "Release");
        if (!disposable && !canRelease)
        {
            return;
        }

        if (body == value && returnsNothing)
        {
            // A discarded result in a lambda: release it right there.
            if (canRelease)
            {
                var receiver = value is AwaitExpressionSyntax ? ParenthesizedExpression(value.WithoutTrivia()) : value.WithoutTrivia();
                var released = InvocationExpression(MemberAccessExpression(SyntaxKind.SimpleMemberAccessExpression, receiver, IdentifierName("Release"))).WithTriviaFrom(value);
                fixes.Add(new LeakFix("Release the discarded connection", ReleaseDiscardedKey, root => root.ReplaceNode(root.FindNode(value.Span, getInnermostNodeForTie: true).FirstAncestorOrSelf<ExpressionSyntax>(e => e.Span == value.Span)!, released)));
                return;
            }

            var usingStatement = UsingStatement(null, value.WithoutTrivia(), Block());
            if (useAwait)
            {
                usingStatement = usingStatement.WithAwaitKeyword(Token(SyntaxKind.AwaitKeyword));
            }

            AddLambdaBlock(lambda, Block(usingStatement), "Release the discarded connection", ReleaseDiscardedKey, fixes);
            return;
        }

        var name = UniqueName(model, lambda.SpanStart, "connection");
        var rewritten = body.ReplaceNode(value, IdentifierName(name).WithTriviaFrom(value)).WithoutTrivia();
        StatementSyntax work = returnsNothing ? ExpressionStatement(rewritten) : ReturnStatement(rewritten);
        var declaration = LocalDeclarationStatement(
            VariableDeclaration(IdentifierName("var"), SingletonSeparatedList(VariableDeclarator(name).WithInitializer(EqualsValueClause(value.WithoutTrivia())))));
        if (disposable && !canRelease)
        {
            declaration = declaration.WithUsingKeyword(Token(SyntaxKind.UsingKeyword));
            if (useAwait)
            {
                declaration = declaration.WithAwaitKeyword(Token(SyntaxKind.AwaitKeyword));
            }

            AddLambdaBlock(lambda, Block(declaration, work), useAwait ? "Use 'await using'" : "Use 'using'", UseUsingKey, fixes);
            return;
        }

        var release = canRelease
            ? ReleaseCall(name, "Release", awaited: false, configureAwait: false)
            : ReleaseCall(name, useAwait ? "DisposeAsync" : "Dispose", awaited: useAwait, configureAwait: useAwait && context.UsesConfigureAwaitFalse);
        AddLambdaBlock(lambda, Block(declaration, TryStatement(Block(work), default, FinallyClause(Block(release)))), "Release in 'finally'", ReleaseInFinallyKey, fixes);
    }

    private static void AddLambdaBlock(AnonymousFunctionExpressionSyntax lambda, BlockSyntax block, string title, string key, ImmutableArray<LeakFix>.Builder fixes)
    {
        fixes.Add(new LeakFix(title, key, root =>
        {
            var current = root.FindNode(lambda.Span, getInnermostNodeForTie: true).FirstAncestorOrSelf<AnonymousFunctionExpressionSyntax>(l => l.Span == lambda.Span)!;

            // A new block has no line breaks yet, and the formatter keeps single-line blocks as they are.
            var endOfLine = root.DescendantTrivia().FirstOrDefault(t => t.IsKind(SyntaxKind.EndOfLineTrivia)).ToString();
            var annotated = block.NormalizeWhitespace("    ", endOfLine.Length > 0 ? endOfLine : "\n").WithAdditionalAnnotations(Formatter.Annotation);
            SyntaxNode replacement = current switch
            {
                ParenthesizedLambdaExpressionSyntax parenthesized => parenthesized.WithExpressionBody(null).WithBlock(annotated),
                SimpleLambdaExpressionSyntax simple => simple.WithExpressionBody(null).WithBlock(annotated),
                AnonymousMethodExpressionSyntax anonymous => anonymous.WithBlock(annotated),
                _ => current,
            };
            return root.ReplaceNode(current, replacement.WithAdditionalAnnotations(Formatter.Annotation));
        }));
    }

    private static void PlanOpened(SemanticModel model, InvocationExpressionSyntax acquisition, bool handsOff, ImmutableArray<string> configured, ImmutableArray<LeakFix>.Builder fixes, CancellationToken cancellationToken)
    {
        if (acquisition.Expression is not MemberAccessExpressionSyntax { Expression: IdentifierNameSyntax receiver }
            || model.GetSymbolInfo(receiver, cancellationToken).Symbol is not ILocalSymbol local)
        {
            return;
        }

        var openStatement = OutermostValue(acquisition).Parent as ExpressionStatementSyntax;
        var context = FunctionContext.Of(acquisition, model, configured);
        if (openStatement is null || context is null)
        {
            return;
        }

        if (handsOff)
        {
            AddDisposeOnFailure(model, context, openStatement, local, startAfter: false, fixes, cancellationToken);
            return;
        }

        if (local.DeclaringSyntaxReferences.FirstOrDefault()?.GetSyntax(cancellationToken) is VariableDeclaratorSyntax
            {
                Parent: VariableDeclarationSyntax { Variables.Count: 1, Parent: LocalDeclarationStatementSyntax declaration },
            }
            && declaration.Parent == openStatement.Parent)
        {
            AddUsingDeclaration(model, context, declaration, local, fixes, cancellationToken);
        }

        AddReleaseInFinally(model, context, openStatement, local, fixes, cancellationToken);
    }

    /// <summary>The acquisition with what completes it: <c>await</c>, <c>ConfigureAwait</c>, parentheses, casts.</summary>
    private static ExpressionSyntax OutermostValue(InvocationExpressionSyntax acquisition)
    {
        ExpressionSyntax current = acquisition;
        while (true)
        {
            switch (current.Parent)
            {
                case AwaitExpressionSyntax or ParenthesizedExpressionSyntax or CastExpressionSyntax:
                    current = (ExpressionSyntax)current.Parent;
                    continue;
                case MemberAccessExpressionSyntax { Name.Identifier.ValueText: "ConfigureAwait", Parent: InvocationExpressionSyntax configureAwait } access when access.Expression == current:
                    current = configureAwait;
                    continue;
                default:
                    return current;
            }
        }
    }

    // ---------------------------------------------------------------------------------------------
    // using var x = ...;
    // ---------------------------------------------------------------------------------------------

    private static void AddUsingDeclaration(
        SemanticModel model,
        FunctionContext context,
        LocalDeclarationStatementSyntax declaration,
        ILocalSymbol local,
        ImmutableArray<LeakFix>.Builder fixes,
        CancellationToken cancellationToken)
    {
        if (declaration.Parent is not BlockSyntax block || !declaration.UsingKeyword.IsKind(SyntaxKind.None) || declaration.IsConst)
        {
            return;
        }

        var useAwait = context.IsAsync && Implements(local.Type, "System.IAsyncDisposable", model) && !context.IsInLock(declaration);
        if (!useAwait && !Implements(local.Type, "System.IDisposable", model))
        {
            return;
        }

        var index = block.Statements.IndexOf(declaration);
        var after = block.Statements.Skip(index + 1).ToList();
        if (after.Any(s => s.DescendantNodesAndSelf().Any(n => n is GotoStatementSyntax or LabeledStatementSyntax))
            || IsWrittenAfter(model, local, after, cancellationToken))
        {
            return;
        }

        // Releases that a using makes redundant: at the end of the block, or in a catch/finally of this block.
        var releases = FindReleaseStatements(model, context, local, after, cancellationToken);
        foreach (var release in releases)
        {
            var top = TopLevelStatement(release, block);
            var inHandler = release.Ancestors().TakeWhile(a => a != block).Any(a => a is CatchClauseSyntax or FinallyClauseSyntax);
            var atEnd = top == release && after.SkipWhile(s => s != top).Skip(1).All(s => s is ReturnStatementSyntax or ThrowStatementSyntax);
            if (!inHandler && !atEnd)
            {
                // Released mid-block with work after it: a using would hold the connection longer.
                return;
            }
        }

        var title = useAwait ? "Use 'await using'" : "Use 'using'";
        fixes.Add(new LeakFix(title, UseUsingKey, root =>
        {
            var currentBlock = (BlockSyntax)root.FindNode(block.Span, getInnermostNodeForTie: true).FirstAncestorOrSelf<BlockSyntax>(b => b.Span == block.Span)!;
            var rewritten = RemoveStatements(block, releases);
            var newDeclaration = rewritten.Statements[index] is LocalDeclarationStatementSyntax d ? d : declaration;
            var usingDeclaration = newDeclaration
                .WithoutLeadingTrivia()
                .WithUsingKeyword(Token(SyntaxKind.UsingKeyword).WithTrailingTrivia(Space))
                .WithLeadingTrivia(newDeclaration.GetLeadingTrivia());
            if (useAwait)
            {
                usingDeclaration = usingDeclaration.WithAwaitKeyword(Token(SyntaxKind.AwaitKeyword).WithTrailingTrivia(Space))
                    .WithUsingKeyword(Token(SyntaxKind.UsingKeyword).WithTrailingTrivia(Space))
                    .WithLeadingTrivia(newDeclaration.GetLeadingTrivia());
            }

            rewritten = rewritten.WithStatements(rewritten.Statements.Replace(rewritten.Statements[index], usingDeclaration));
            return root.ReplaceNode(currentBlock, rewritten.WithAdditionalAnnotations(Formatter.Annotation));
        }));
    }

    // ---------------------------------------------------------------------------------------------
    // try { ... } finally { x.Release(); }
    // ---------------------------------------------------------------------------------------------

    private static void AddReleaseInFinally(
        SemanticModel model,
        FunctionContext context,
        StatementSyntax acquiringStatement,
        ILocalSymbol local,
        ImmutableArray<LeakFix>.Builder fixes,
        CancellationToken cancellationToken)
    {
        if (acquiringStatement.Parent is GlobalStatementSyntax { Parent: CompilationUnitSyntax unit } global)
        {
            AddTopLevelReleaseInFinally(model, context, unit, global, local, fixes, cancellationToken);
            return;
        }

        if (acquiringStatement.Parent is not BlockSyntax block)
        {
            return;
        }

        var start = block.Statements.IndexOf(acquiringStatement) + 1;
        var end = LastStatementUsing(model, block, start, local, cancellationToken);
        for (var i = start; i <= end; i++)
        {
            if (IsAssignmentTo(model, block.Statements[i], local, cancellationToken))
            {
                // The variable gets a new value: release the old one before that.
                end = i - 1;
                break;
            }
        }

        var region = block.Statements.Skip(start).Take(end - start + 1).ToList();
        var releases = FindReleaseStatements(model, context, local, region, cancellationToken);
        var release = ReleaseStatement(model, context, local, releases, acquiringStatement);
        if (release is null)
        {
            return;
        }

        // A local declared in the try but needed after it (the region stops before a reassignment) is declared
        // before the try and assigned inside it.
        var afterRegion = block.Statements.Skip(end + 1).ToList();
        var hoisted = new Dictionary<LocalDeclarationStatementSyntax, ILocalSymbol>();
        foreach (var declaration in region.OfType<LocalDeclarationStatementSyntax>())
        {
            var declared = declaration.Declaration.Variables.Select(v => model.GetDeclaredSymbol(v, cancellationToken)).OfType<ILocalSymbol>().ToList();
            if (!declared.Any(d => afterRegion.Any(a => References(model, a, d, cancellationToken))))
            {
                continue;
            }

            if (declared.Count != 1 || declaration.Declaration.Variables[0].Initializer is null || !declaration.UsingKeyword.IsKind(SyntaxKind.None) || declared[0].Type.IsAnonymousType)
            {
                return;
            }

            hoisted.Add(declaration, declared[0]);
        }

        // Acquired in a loop and released once after it: every iteration now releases its own, so that one goes.
        var laterReleases = new List<SyntaxNode>();
        if (acquiringStatement is ExpressionStatementSyntax && block.Parent is CommonForEachStatementSyntax or ForStatementSyntax or WhileStatementSyntax or DoStatementSyntax
            && block.Parent.Parent is BlockSyntax outer)
        {
            var after = outer.Statements.SkipWhile(s => s != block.Parent).Skip(1).ToList();
            if (!after.Any(s => s.DescendantNodesAndSelf().OfType<AssignmentExpressionSyntax>().Any(a => a.Left is IdentifierNameSyntax id && id.Identifier.ValueText == local.Name)))
            {
                laterReleases.AddRange(FindReleaseStatements(model, context, local, after, cancellationToken).Select(RemovalUnit));
            }
        }

        fixes.Add(new LeakFix("Release in 'finally'", ReleaseInFinallyKey, root =>
        {
            var currentBlock = root.FindNode(block.Span, getInnermostNodeForTie: true).FirstAncestorOrSelf<BlockSyntax>(b => b.Span == block.Span)!;
            var statements = block.Statements;
            if (region.Count == 1 && region[0] is TryStatementSyntax existing)
            {
                // Reuse the try that is already there.
                var cleaned = (TryStatementSyntax)RemoveStatements(existing, releases, release);
                var finallyBlock = cleaned.Finally is { } finallyClause
                    ? finallyClause.Block.AddStatements(release)
                    : Block(release);
                var reused = cleaned.WithFinally(FinallyClause(finallyBlock)).WithAdditionalAnnotations(Formatter.Annotation);
                return root.ReplaceNode(currentBlock, block.WithStatements(statements.Replace(existing, reused)).WithAdditionalAnnotations(Formatter.Annotation));
            }

            var body = region
                .Select(s => s is LocalDeclarationStatementSyntax declaration && hoisted.ContainsKey(declaration) ? AssignInstead(declaration) : s)
                .Select(s => RemoveStatements(s, releases, release))
                .Where(s => s is not null)
                .Cast<StatementSyntax>()
                .ToList();
            var blankLines = new SyntaxTriviaList();
            if (body.Count > 0)
            {
                // Blank lines above the first statement stay above the try; its comments move in with it.
                var leading = body[0].GetLeadingTrivia();
                var prefix = leading.TakeWhile(t => t.IsKind(SyntaxKind.EndOfLineTrivia) || t.IsKind(SyntaxKind.WhitespaceTrivia)).ToList();
                blankLines = TriviaList(prefix.Where(t => t.IsKind(SyntaxKind.EndOfLineTrivia)));
                body[0] = body[0].WithLeadingTrivia(leading.Skip(prefix.Count));
            }

            var tryStatement = TryStatement(Block(body), default, FinallyClause(Block(release)))
                .WithLeadingTrivia(blankLines)
                .WithTrailingTrivia(region.Count > 0 ? region[region.Count - 1].GetTrailingTrivia() : acquiringStatement.GetTrailingTrivia())
                .WithAdditionalAnnotations(Formatter.Annotation);
            var list = statements.ToList();
            list.RemoveRange(start, region.Count);
            list.Insert(start, tryStatement);
            list.InsertRange(start, hoisted.Values.Select(h => (StatementSyntax)LocalDeclarationStatement(
                VariableDeclaration(ParseTypeName(h.Type.ToMinimalDisplayString(model, acquiringStatement.SpanStart, HoistedTypeFormat)), SingletonSeparatedList(VariableDeclarator(h.Name))))));
            var newBlock = block.WithStatements(List(list)).WithAdditionalAnnotations(Formatter.Annotation);
            if (laterReleases.Count == 0)
            {
                return root.ReplaceNode(currentBlock, newBlock);
            }

            var tracked = root.TrackNodes(laterReleases.Append(currentBlock));
            tracked = tracked.ReplaceNode(tracked.GetCurrentNode(currentBlock)!, newBlock);
            foreach (var later in laterReleases)
            {
                if (tracked.GetCurrentNode(later) is { } current)
                {
                    tracked = tracked.RemoveNode(current, SyntaxRemoveOptions.KeepNoTrivia)!;
                }
            }

            return tracked;
        }));
    }

    private static readonly SymbolDisplayFormat HoistedTypeFormat = SymbolDisplayFormat.MinimallyQualifiedFormat
        .AddMiscellaneousOptions(SymbolDisplayMiscellaneousOptions.IncludeNullableReferenceTypeModifier);

    /// <summary><c>var x = value;</c> becomes <c>x = value;</c> (its declaration moved before the try).</summary>
    private static StatementSyntax AssignInstead(LocalDeclarationStatementSyntax declaration)
    {
        var variable = declaration.Declaration.Variables[0];
        return ExpressionStatement(AssignmentExpression(SyntaxKind.SimpleAssignmentExpression, IdentifierName(variable.Identifier.ValueText), variable.Initializer!.Value.WithoutTrivia()))
            .WithTriviaFrom(declaration);
    }

    /// <summary>Top-level statements: the following global statements that use the connection go into one try.</summary>
    private static void AddTopLevelReleaseInFinally(
        SemanticModel model,
        FunctionContext context,
        CompilationUnitSyntax unit,
        GlobalStatementSyntax acquiring,
        ILocalSymbol local,
        ImmutableArray<LeakFix>.Builder fixes,
        CancellationToken cancellationToken)
    {
        var index = unit.Members.IndexOf(acquiring);
        var following = unit.Members.Skip(index + 1).TakeWhile(m => m is GlobalStatementSyntax).Cast<GlobalStatementSyntax>().ToList();
        var count = 0;
        for (var i = 0; i < following.Count; i++)
        {
            if (IsAssignmentTo(model, following[i].Statement, local, cancellationToken))
            {
                break;
            }

            if (References(model, following[i].Statement, local, cancellationToken))
            {
                count = i + 1;
            }
        }

        var region = following.Take(count).Select(g => g.Statement).ToList();
        var releases = FindReleaseStatements(model, context, local, region, cancellationToken);
        var release = ReleaseStatement(model, context, local, releases, acquiring);
        if (release is null)
        {
            return;
        }

        fixes.Add(new LeakFix("Release in 'finally'", ReleaseInFinallyKey, root =>
        {
            var currentUnit = (CompilationUnitSyntax)root;
            var body = region.Select(s => RemoveStatements(s, releases, release)).Where(s => s is not null).Cast<StatementSyntax>().ToList();
            var tryStatement = TryStatement(Block(body), default, FinallyClause(Block(release)))
                .WithLeadingTrivia(SyntaxTriviaList.Empty)
                .WithTrailingTrivia(region.Count > 0 ? region[region.Count - 1].GetTrailingTrivia() : acquiring.GetTrailingTrivia())
                .WithAdditionalAnnotations(Formatter.Annotation);
            var members = currentUnit.Members.ToList();
            members.RemoveRange(index + 1, region.Count);
            members.Insert(index + 1, GlobalStatement(tryStatement).WithAdditionalAnnotations(Formatter.Annotation));
            return currentUnit.WithMembers(List(members));
        }));
    }

    // ---------------------------------------------------------------------------------------------
    // try { ...; return x; } catch { x.Dispose(); throw; }
    // ---------------------------------------------------------------------------------------------

    private static void AddDisposeOnFailure(
        SemanticModel model,
        FunctionContext context,
        StatementSyntax statement,
        ILocalSymbol local,
        bool startAfter,
        ImmutableArray<LeakFix>.Builder fixes,
        CancellationToken cancellationToken)
    {
        if (statement.Parent is not BlockSyntax block)
        {
            return;
        }

        var start = block.Statements.IndexOf(statement) + (startAfter ? 1 : 0);

        // A 'yield return' cannot sit in a try that has a catch: the protected part ends before it.
        var region = block.Statements.Skip(start).TakeWhile(s => !s.DescendantNodesAndSelf(n => n is not (AnonymousFunctionExpressionSyntax or LocalFunctionStatementSyntax)).Any(n => n is YieldStatementSyntax)).ToList();
        if (region.Count == 0)
        {
            return;
        }

        var releases = FindReleaseStatements(model, context, local, region, cancellationToken)
            .Where(r => r.Ancestors().Any(a => a is CatchClauseSyntax))
            .ToList();
        var release = ReleaseStatement(model, context, local, releases, statement, preferDispose: true);
        if (release is null)
        {
            return;
        }

        // A return that does not hand the connection over (an early 'return null') releases it first.
        var otherReturns = region
            .SelectMany(s => s.DescendantNodesAndSelf(n => n is not (AnonymousFunctionExpressionSyntax or LocalFunctionStatementSyntax)))
            .OfType<ReturnStatementSyntax>()
            .Where(r => r.Expression is null || !References(model, r.Expression, local, cancellationToken))
            .ToList();

        fixes.Add(new LeakFix("Dispose on failure", DisposeOnFailureKey, root =>
        {
            var currentBlock = root.FindNode(block.Span, getInnermostNodeForTie: true).FirstAncestorOrSelf<BlockSyntax>(b => b.Span == block.Span)!;
            var body = new List<StatementSyntax>();
            foreach (var statement in region)
            {
                var returns = otherReturns.Where(r => statement.Span.Contains(r.Span)).ToList();
                var rewritten = returns.Count == 0 ? statement : (StatementSyntax)new BlockFlattener().Visit(statement.ReplaceNodes(returns, (original, _) => ReleaseBefore(original, release)))!;

                // The releases that only ran on failure (in a catch) are now the new catch's job.
                var catchReleases = rewritten.DescendantNodesAndSelf()
                    .OfType<ExpressionStatementSyntax>()
                    .Where(e => e.Ancestors().Any(a => a is CatchClauseSyntax)
                                && ReleasedLocal(e.Expression, context.ReleaseNames, out _) is { } receiver
                                && receiver.Identifier.ValueText == local.Name)
                    .ToList();
                if (RemoveStatements(rewritten, catchReleases) is { } kept)
                {
                    body.Add(kept);
                }
            }

            var tryStatement = TryStatement(
                    Block(body),
                    SingletonList(CatchClause().WithBlock(Block(release, ThrowStatement()))),
                    null)
                .WithAdditionalAnnotations(Formatter.Annotation);
            var list = block.Statements.Take(start).ToList();
            list.Add(tryStatement);
            list.AddRange(block.Statements.Skip(start + region.Count));
            return root.ReplaceNode(currentBlock, block.WithStatements(List(list)).WithAdditionalAnnotations(Formatter.Annotation));
        }));
    }

    // ---------------------------------------------------------------------------------------------
    // A discarded result: keep the call, release its value.
    // ---------------------------------------------------------------------------------------------

    private static void AddReleaseDiscarded(
        SemanticModel model,
        FunctionContext context,
        ExpressionStatementSyntax statement,
        ExpressionSyntax value,
        ITypeSymbol type,
        ImmutableArray<LeakFix>.Builder fixes)
    {
        StatementSyntax replacement;
        if (context.IsAsync && Implements(type, "System.IAsyncDisposable", model) && !context.IsInLock(statement))
        {
            replacement = UsingStatement(null, value.WithoutTrivia(), Block()).WithAwaitKeyword(Token(SyntaxKind.AwaitKeyword));
        }
        else if (Implements(type, "System.IDisposable", model))
        {
            replacement = UsingStatement(null, value.WithoutTrivia(), Block());
        }
        else if (HasParameterlessMethod(type, "Release"))
        {
            var receiver = value is AwaitExpressionSyntax ? ParenthesizedExpression(value.WithoutTrivia()) : value.WithoutTrivia();
            replacement = ExpressionStatement(InvocationExpression(MemberAccessExpression(SyntaxKind.SimpleMemberAccessExpression, receiver, IdentifierName("Release"))));
        }
        else
        {
            return;
        }

        replacement = replacement.WithTriviaFrom(statement).WithAdditionalAnnotations(Formatter.Annotation);
        fixes.Add(new LeakFix("Release the discarded connection", ReleaseDiscardedKey, root =>
            root.ReplaceNode(root.FindNode(statement.Span, getInnermostNodeForTie: true).FirstAncestorOrSelf<ExpressionStatementSyntax>(s => s.Span == statement.Span)!, replacement)));
    }

    // ---------------------------------------------------------------------------------------------
    // Used in a larger expression: bind it to a local that is released.
    // ---------------------------------------------------------------------------------------------

    private static void AddIntroduceLocal(
        SemanticModel model,
        FunctionContext context,
        StatementSyntax statement,
        ExpressionSyntax value,
        ITypeSymbol type,
        ImmutableArray<LeakFix>.Builder fixes,
        CancellationToken cancellationToken)
    {
        var name = UniqueName(model, statement.SpanStart, "connection");
        var useAwait = context.IsAsync && Implements(type, "System.IAsyncDisposable", model) && !context.IsInLock(statement);
        var disposable = useAwait || Implements(type, "System.IDisposable", model);
        var rewrittenStatement = statement.ReplaceNode(value, IdentifierName(name).WithTriviaFrom(value)).WithoutLeadingTrivia();
        var declaration = LocalDeclarationStatement(
            VariableDeclaration(IdentifierName("var"), SingletonSeparatedList(VariableDeclarator(name).WithInitializer(EqualsValueClause(value.WithoutTrivia())))));

        List<StatementSyntax> replacement;
        var followers = new List<StatementSyntax>();
        string title;
        string key;
        if (disposable && statement.Parent is BlockSyntax)
        {
            declaration = declaration.WithUsingKeyword(Token(SyntaxKind.UsingKeyword));
            if (useAwait)
            {
                declaration = declaration.WithAwaitKeyword(Token(SyntaxKind.AwaitKeyword));
            }

            replacement = new List<StatementSyntax> { declaration, rewrittenStatement };
            title = useAwait ? "Use 'await using'" : "Use 'using'";
            key = UseUsingKey;
        }
        else
        {
            var release = HasParameterlessMethod(type, "Release")
                ? ReleaseCall(name, "Release", awaited: false, configureAwait: false)
                : useAwait
                    ? ReleaseCall(name, "DisposeAsync", awaited: true, configureAwait: context.UsesConfigureAwaitFalse)
                    : disposable ? ReleaseCall(name, "Dispose", awaited: false, configureAwait: false) : null;
            if (release is null)
            {
                return;
            }

            // Locals the statement declares stay visible: the try covers their uses too.
            followers = statement is LocalDeclarationStatementSyntax { Parent: BlockSyntax block } declared
                ? StatementsUsingDeclaredLocals(model, block, declared, cancellationToken)
                : new List<StatementSyntax>();
            var tryBody = new List<StatementSyntax> { rewrittenStatement };
            tryBody.AddRange(followers);
            replacement = new List<StatementSyntax> { declaration, TryStatement(Block(tryBody), default, FinallyClause(Block(release))) };
            title = "Release in 'finally'";
            key = ReleaseInFinallyKey;
        }

        replacement[0] = replacement[0].WithLeadingTrivia(statement.GetLeadingTrivia());
        fixes.Add(new LeakFix(title, key, root =>
        {
            var current = root.FindNode(statement.Span, getInnermostNodeForTie: true).FirstAncestorOrSelf<StatementSyntax>(s => s.Span == statement.Span)!;
            var annotated = replacement.Select(s => s.WithAdditionalAnnotations(Formatter.Annotation)).ToList();
            if (statement.Parent is not BlockSyntax)
            {
                return root.ReplaceNode(current, Block(annotated).WithAdditionalAnnotations(Formatter.Annotation));
            }

            if (followers.Count == 0)
            {
                return root.ReplaceNode(current, annotated);
            }

            var parentBlock = (BlockSyntax)current.Parent!;
            var list = parentBlock.Statements.ToList();
            var index = list.IndexOf(current);
            list.RemoveRange(index, followers.Count + 1);
            list.InsertRange(index, annotated);
            return root.ReplaceNode(parentBlock, parentBlock.WithStatements(List(list)).WithAdditionalAnnotations(Formatter.Annotation));
        }));
    }

    // ---------------------------------------------------------------------------------------------
    // Helpers
    // ---------------------------------------------------------------------------------------------

    /// <summary>The statements after <paramref name="declaration"/> up to the last one that uses a local it declares.</summary>
    private static List<StatementSyntax> StatementsUsingDeclaredLocals(SemanticModel model, BlockSyntax block, LocalDeclarationStatementSyntax declaration, CancellationToken cancellationToken)
    {
        var declared = declaration.Declaration.Variables
            .Select(v => model.GetDeclaredSymbol(v, cancellationToken))
            .OfType<ILocalSymbol>()
            .ToList();
        var start = block.Statements.IndexOf(declaration) + 1;
        var end = start - 1;
        for (var i = start; i < block.Statements.Count; i++)
        {
            if (declared.Any(local => References(model, block.Statements[i], local, cancellationToken)))
            {
                end = i;
            }
        }

        return block.Statements.Skip(start).Take(end - start + 1).ToList();
    }

    /// <summary><c>return x;</c> becomes <c>{ release; return x; }</c>, or the release goes before it in its block.</summary>
    private static StatementSyntax ReleaseBefore(ReturnStatementSyntax returnStatement, StatementSyntax release)
    {
        var released = release.WithoutLeadingTrivia().WithAdditionalAnnotations(Formatter.Annotation);
        return returnStatement.Parent is BlockSyntax
            ? Block(released, returnStatement.WithoutLeadingTrivia()).WithLeadingTrivia(returnStatement.GetLeadingTrivia()).WithAdditionalAnnotations(UnwrapMarker, Formatter.Annotation)
            : Block(released, returnStatement.WithoutTrivia()).WithTriviaFrom(returnStatement).WithAdditionalAnnotations(Formatter.Annotation);
    }

    /// <summary>The index of the last statement from <paramref name="start"/> on that uses the local, or that declares a local used later.</summary>
    private static int LastStatementUsing(SemanticModel model, BlockSyntax block, int start, ILocalSymbol local, CancellationToken cancellationToken)
    {
        var statements = block.Statements;
        var end = start - 1;
        for (var i = start; i < statements.Count; i++)
        {
            if (References(model, statements[i], local, cancellationToken))
            {
                end = i;
            }
        }

        // Locals declared inside the region must stay visible to the statements after it.
        var changed = true;
        while (changed)
        {
            changed = false;
            var declared = statements.Skip(start).Take(end - start + 1)
                .OfType<LocalDeclarationStatementSyntax>()
                .SelectMany(d => d.Declaration.Variables)
                .Select(v => model.GetDeclaredSymbol(v, cancellationToken))
                .OfType<ILocalSymbol>()
                .ToList();
            for (var i = end + 1; i < statements.Count; i++)
            {
                if (declared.Any(d => References(model, statements[i], d, cancellationToken)))
                {
                    end = i;
                    changed = true;
                }
            }
        }

        return end;
    }

    private static bool IsAssignmentTo(SemanticModel model, StatementSyntax statement, ILocalSymbol local, CancellationToken cancellationToken) =>
        statement is ExpressionStatementSyntax { Expression: AssignmentExpressionSyntax { Left: IdentifierNameSyntax target } }
        && target.Identifier.ValueText == local.Name
        && SymbolEqualityComparer.Default.Equals(model.GetSymbolInfo(target, cancellationToken).Symbol, local);

    private static bool References(SemanticModel model, SyntaxNode node, ILocalSymbol local, CancellationToken cancellationToken) =>
        node.DescendantNodesAndSelf()
            .OfType<IdentifierNameSyntax>()
            .Any(id => id.Identifier.ValueText == local.Name && SymbolEqualityComparer.Default.Equals(model.GetSymbolInfo(id, cancellationToken).Symbol, local));

    private static bool IsWrittenAfter(SemanticModel model, ILocalSymbol local, IEnumerable<StatementSyntax> statements, CancellationToken cancellationToken)
    {
        foreach (var statement in statements)
        {
            foreach (var node in statement.DescendantNodesAndSelf())
            {
                var written = node switch
                {
                    AssignmentExpressionSyntax assignment => assignment.Left,
                    ArgumentSyntax { RefKindKeyword.RawKind: not 0 } argument => argument.Expression,
                    PrefixUnaryExpressionSyntax { RawKind: (int)SyntaxKind.PreIncrementExpression or (int)SyntaxKind.PreDecrementExpression } prefix => prefix.Operand,
                    PostfixUnaryExpressionSyntax postfix => postfix.Operand,
                    _ => null,
                };
                if (written is IdentifierNameSyntax identifier
                    && identifier.Identifier.ValueText == local.Name
                    && SymbolEqualityComparer.Default.Equals(model.GetSymbolInfo(identifier, cancellationToken).Symbol, local))
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>Statements that release the local: <c>x.Release();</c>, <c>x?.Dispose();</c>, <c>await x.DisposeAsync();</c>.</summary>
    private static List<ExpressionStatementSyntax> FindReleaseStatements(SemanticModel model, FunctionContext context, ILocalSymbol local, IEnumerable<StatementSyntax> statements, CancellationToken cancellationToken)
    {
        var found = new List<ExpressionStatementSyntax>();
        foreach (var statement in statements)
        {
            foreach (var node in statement.DescendantNodesAndSelf(n => n is not (AnonymousFunctionExpressionSyntax or LocalFunctionStatementSyntax)))
            {
                if (node is ExpressionStatementSyntax expressionStatement && ReleasedLocal(expressionStatement.Expression, context.ReleaseNames, out _) is { } receiver
                    && receiver.Identifier.ValueText == local.Name
                    && SymbolEqualityComparer.Default.Equals(model.GetSymbolInfo(receiver, cancellationToken).Symbol, local))
                {
                    found.Add(expressionStatement);
                }
            }
        }

        return found;
    }

    private static IdentifierNameSyntax? ReleasedLocal(ExpressionSyntax expression, ImmutableHashSet<string> names, out (string Name, bool Awaited) call)
    {
        var awaited = false;
        if (expression is AwaitExpressionSyntax awaitExpression)
        {
            awaited = true;
            expression = awaitExpression.Expression;
            if (expression is InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax { Name.Identifier.ValueText: "ConfigureAwait" } configure })
            {
                expression = configure.Expression;
            }
        }

        call = default;
        switch (expression)
        {
            case InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax { Expression: IdentifierNameSyntax receiver, Name: var name } }
                when names.Contains(name.Identifier.ValueText) && !char.IsUpper(receiver.Identifier.ValueText[0]) && IsReceiverRelease(expression):
                call = (name.Identifier.ValueText, awaited);
                return receiver;
            case InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax { Name: var name }, ArgumentList.Arguments: { Count: 1 } arguments }
                when names.Contains(name.Identifier.ValueText) && arguments[0].Expression is IdentifierNameSyntax argument:
                // pool.Release(conn)
                call = (name.Identifier.ValueText, awaited);
                return argument;
            case ConditionalAccessExpressionSyntax { Expression: IdentifierNameSyntax receiver, WhenNotNull: InvocationExpressionSyntax { Expression: MemberBindingExpressionSyntax binding } }
                when names.Contains(binding.Name.Identifier.ValueText):
                call = (binding.Name.Identifier.ValueText, awaited);
                return receiver;
            default:
                return null;
        }

        static bool IsReceiverRelease(ExpressionSyntax invocation) => ((InvocationExpressionSyntax)invocation).ArgumentList.Arguments.Count == 0;
    }

    /// <summary>The statement that releases the local: what the code already calls, else what the type offers.</summary>
    private static StatementSyntax? ReleaseStatement(
        SemanticModel model,
        FunctionContext context,
        ILocalSymbol local,
        IReadOnlyList<ExpressionStatementSyntax> existing,
        SyntaxNode position,
        bool preferDispose = false)
    {
        var type = local.Type;
        foreach (var statement in existing.OrderBy(e => e.Ancestors().Any(a => a is CatchClauseSyntax)))
        {
            ReleasedLocal(statement.Expression, context.ReleaseNames, out var call);
            if (call.Name is null || (preferDispose && call.Name is "Close" or "CloseAsync"))
            {
                continue;
            }

            if (call.Awaited && !context.IsAsync)
            {
                continue;
            }

            // The code's own release, as written; a comment above it moves with it, unless it explains a catch.
            var inCatch = statement.Ancestors().Any(a => a is CatchClauseSyntax);
            var leading = !inCatch && HasCommentsOrDirectives(statement.GetLeadingTrivia()) ? statement.GetLeadingTrivia() : default;
            return statement.WithoutTrivia().WithLeadingTrivia(leading).WithAdditionalAnnotations(MovedRelease);
        }

        if (HasParameterlessMethod(type, "Release"))
        {
            return ReleaseCall(local.Name, "Release", awaited: false, configureAwait: false);
        }

        if (context.IsAsync && Implements(type, "System.IAsyncDisposable", model) && !context.IsInLock(position))
        {
            return ReleaseCall(local.Name, "DisposeAsync", awaited: true, configureAwait: context.UsesConfigureAwaitFalse);
        }

        if (Implements(type, "System.IDisposable", model))
        {
            return ReleaseCall(local.Name, "Dispose", awaited: false, configureAwait: false);
        }

        foreach (var name in context.ReleaseNames.Except(BuiltInReleaseNames).OrderBy(n => n, StringComparer.Ordinal).Append("Close"))
        {
            if (HasParameterlessMethod(type, name))
            {
                return ReleaseCall(local.Name, name, awaited: false, configureAwait: false);
            }
        }

        return null;
    }

    private static StatementSyntax ReleaseCall(string variable, string method, bool awaited, bool configureAwait)
    {
        ExpressionSyntax call = InvocationExpression(MemberAccessExpression(SyntaxKind.SimpleMemberAccessExpression, IdentifierName(variable), IdentifierName(method)));
        if (awaited)
        {
            if (configureAwait)
            {
                call = InvocationExpression(
                    MemberAccessExpression(SyntaxKind.SimpleMemberAccessExpression, call, IdentifierName("ConfigureAwait")),
                    ArgumentList(SingletonSeparatedList(Argument(LiteralExpression(SyntaxKind.FalseLiteralExpression)))));
            }

            call = AwaitExpression(call);
        }

        return ExpressionStatement(call);
    }

    /// <summary>Removes the given release statements from a node; an <c>if</c> left with nothing to do goes too.</summary>
    private static TNode RemoveStatements<TNode>(TNode node, IReadOnlyCollection<ExpressionStatementSyntax> releases, StatementSyntax? moved = null)
        where TNode : SyntaxNode
    {
        var removable = new List<SyntaxNode>();
        foreach (var release in releases)
        {
            if (!node.Span.Contains(release.Span) || !node.DescendantNodesAndSelf().Contains(release))
            {
                continue;
            }

            removable.Add(RemovalUnit(release));
        }

        if (removable.Count == 0)
        {
            return node;
        }

        if (removable.Contains(node))
        {
            return null!;
        }

        // Drop the statement with its line; keep a comment or directive that stood above it, unless the
        // statement moves (with its comment) into the finally.
        var result = node.TrackNodes(removable);
        foreach (var unit in removable)
        {
            var moves = moved is not null && HasCommentsOrDirectives(moved.GetLeadingTrivia())
                && unit.DescendantNodesAndSelf().OfType<StatementSyntax>().Any(n => n.IsEquivalentTo(moved, topLevel: false));
            var options = !moves && HasCommentsOrDirectives(unit.GetLeadingTrivia())
                ? SyntaxRemoveOptions.KeepLeadingTrivia | SyntaxRemoveOptions.KeepDirectives
                : SyntaxRemoveOptions.KeepNoTrivia;
            if (result.GetCurrentNode(unit) is { } current)
            {
                result = result.RemoveNode(current, options)!;
            }
        }

        return result;
    }

    private static bool HasCommentsOrDirectives(SyntaxTriviaList trivia) =>
        trivia.Any(t => t.IsKind(SyntaxKind.SingleLineCommentTrivia) || t.IsKind(SyntaxKind.MultiLineCommentTrivia) || t.IsDirective);

    private static SyntaxNode RemovalUnit(StatementSyntax statement)
    {
        SyntaxNode unit = statement;
        while (true)
        {
            switch (unit.Parent)
            {
                case BlockSyntax { Statements.Count: 1, Parent: IfStatementSyntax { Else: null } ifStatement }:
                    unit = ifStatement;
                    continue;
                case IfStatementSyntax { Else: null } ifStatement when ifStatement.Statement == unit:
                    unit = ifStatement;
                    continue;
                default:
                    return unit;
            }
        }
    }

    private static StatementSyntax TopLevelStatement(SyntaxNode node, BlockSyntax block) =>
        node.AncestorsAndSelf().OfType<StatementSyntax>().First(s => s.Parent == block);

    private static bool Implements(ITypeSymbol type, string interfaceName, SemanticModel model)
    {
        var target = model.Compilation.GetTypeByMetadataName(interfaceName);
        if (target is null)
        {
            return false;
        }

        return SymbolEqualityComparer.Default.Equals(type, target) || type.AllInterfaces.Contains(target, SymbolEqualityComparer.Default);
    }

    private static bool HasParameterlessMethod(ITypeSymbol type, string name)
    {
        for (var current = type; current is not null; current = current.BaseType)
        {
            if (current.GetMembers(name).Any(m => m is IMethodSymbol { IsStatic: false, Parameters.Length: 0, DeclaredAccessibility: Accessibility.Public }))
            {
                return true;
            }
        }

        return false;
    }

    private static string UniqueName(SemanticModel model, int position, string baseName)
    {
        var name = baseName;
        for (var i = 2; model.LookupSymbols(position, name: name).Length > 0; i++)
        {
            name = baseName + i;
        }

        return name;
    }

    /// <summary>Splices the statements of marked blocks into the block around them.</summary>
    private sealed class BlockFlattener : CSharpSyntaxRewriter
    {
        public override SyntaxNode? VisitBlock(BlockSyntax node)
        {
            var visited = (BlockSyntax)base.VisitBlock(node)!;
            if (!visited.Statements.Any(s => s.HasAnnotation(UnwrapMarker)))
            {
                return visited;
            }

            var statements = new List<StatementSyntax>();
            foreach (var statement in visited.Statements)
            {
                if (statement is BlockSyntax inner && inner.HasAnnotation(UnwrapMarker))
                {
                    statements.Add(inner.Statements[0].WithLeadingTrivia(inner.GetLeadingTrivia()));
                    statements.AddRange(inner.Statements.Skip(1));
                }
                else
                {
                    statements.Add(statement);
                }
            }

            return visited.WithStatements(List(statements));
        }
    }

    /// <summary>The function (method, lambda, local function, accessor) that contains a node.</summary>
    private sealed class FunctionContext
    {
        private readonly SyntaxNode _function;

        private FunctionContext(SyntaxNode function, bool isAsync, ImmutableArray<string> configured)
        {
            _function = function;
            IsAsync = isAsync;
            ReleaseNames = BuiltInReleaseNames.Union(configured);
            UsesConfigureAwaitFalse = function.DescendantNodes()
                .OfType<InvocationExpressionSyntax>()
                .Any(i => i.Expression is MemberAccessExpressionSyntax { Name.Identifier.ValueText: "ConfigureAwait" }
                          && i.ArgumentList.Arguments.Count == 1
                          && i.ArgumentList.Arguments[0].Expression.IsKind(SyntaxKind.FalseLiteralExpression));
        }

        public bool IsAsync { get; }

        /// <summary>Release method names: the built-in ones and those configured in <c>.editorconfig</c>.</summary>
        public ImmutableHashSet<string> ReleaseNames { get; }

        public bool UsesConfigureAwaitFalse { get; }

        public static FunctionContext? Of(SyntaxNode node, SemanticModel model, ImmutableArray<string> configured)
        {
            foreach (var ancestor in node.Ancestors())
            {
                switch (ancestor)
                {
                    case AnonymousFunctionExpressionSyntax lambda:
                        return new FunctionContext(lambda, lambda.AsyncKeyword.IsKind(SyntaxKind.AsyncKeyword), configured);
                    case LocalFunctionStatementSyntax localFunction:
                        return new FunctionContext(localFunction, localFunction.Modifiers.Any(SyntaxKind.AsyncKeyword), configured);
                    case MethodDeclarationSyntax method:
                        return new FunctionContext(method, method.Modifiers.Any(SyntaxKind.AsyncKeyword), configured);
                    case BaseMethodDeclarationSyntax or AccessorDeclarationSyntax or BasePropertyDeclarationSyntax:
                        return new FunctionContext(ancestor, isAsync: false, configured);
                    case CompilationUnitSyntax unit:
                        return new FunctionContext(unit, unit.DescendantNodes(n => n is not (BaseTypeDeclarationSyntax or AnonymousFunctionExpressionSyntax or LocalFunctionStatementSyntax)).OfType<AwaitExpressionSyntax>().Any(), configured);
                }
            }

            return null;
        }

        public bool IsInLock(SyntaxNode node) =>
            node.Ancestors().TakeWhile(a => a != _function).Any(a => a is LockStatementSyntax);
    }
}
