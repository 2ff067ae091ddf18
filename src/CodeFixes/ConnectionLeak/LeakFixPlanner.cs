using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Formatting;
using Microsoft.CodeAnalysis.Operations;
using TenantDbGuard.Analyzers.ConnectionLeak;
using static Microsoft.CodeAnalysis.CSharp.SyntaxFactory;

namespace TenantDbGuard.CodeFixes.ConnectionLeak;

/// <summary>
/// Chooses the smallest change that releases a leaked connection on every path without changing what the code does
/// on the paths that did not leak, or no change at all. It first finds where the connection lives (a local, a task
/// awaited later, the results of <c>Task.WhenAll</c>, a value inside an expression) and where it goes
/// (<see cref="Ownership"/>), then picks the fixes of that shape; the release call comes from <see cref="ReleaseChooser"/>.
/// </summary>
internal static class LeakFixPlanner
{
    /// <summary>Marks the acquisition in code a fix first rewrites (then plans on): a call moved to its await, a braced switch section.</summary>
    public static readonly SyntaxAnnotation Moved = new();

    private static readonly string[] PoolMethods = { "GetConnection", "GetConnectionAsync", "OpenConnection", "OpenConnectionAsync", "CreateConnection", "Rent", "RentAsync" };

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
        cancellationToken.ThrowIfCancellationRequested();
        if (FunctionContext.Of(acquisition) is not { } context)
        {
            return ImmutableArray<LeakFix>.Empty;
        }

        if (acquisition.FirstAncestorOrSelf<StatementSyntax>() is { Parent: SwitchSectionSyntax section } && BraceSection(model, section, acquisition) is { } brace)
        {
            // A using or a try cannot start in the middle of a switch section's statements: give them braces first.
            return KeepingDirectives(model, PlanOnRewrite(model, brace, acquisition, properties, configuredReleaseNames), cancellationToken);
        }

        properties.TryGetValue(ConnectionLeakProperties.Reason, out var reason);
        var chooser = new ReleaseChooser(model, context, configuredReleaseNames, onlyFailuresLeak: reason == nameof(LeakReason.ExceptionThrown), cancellationToken);
        properties.TryGetValue(ConnectionLeakProperties.Kind, out var kind);
        properties.TryGetValue(ConnectionLeakProperties.HandsOff, out var handsOff);
        var fixes = ImmutableArray.CreateBuilder<LeakFix>();
        if (kind == "Opened")
        {
            PlanOpened(chooser, acquisition, handsOff == "true", fixes);
        }
        else
        {
            PlanReturned(chooser, acquisition, handsOff == "true", configuredReleaseNames, fixes);
        }

        return KeepingDirectives(model, fixes.ToImmutable(), cancellationToken);
    }

    /// <summary>
    /// The fixes as the project's language version compiles them: before C# 9, the opposite of a condition
    /// (<c>x is null</c>) is written <c>!(x is null)</c>, not <c>x is not null</c>.
    /// </summary>
    private static ImmutableArray<LeakFix> ForLanguageVersion(SemanticModel model, ImmutableArray<LeakFix> fixes) =>
        model.SyntaxTree.Options is CSharpParseOptions { LanguageVersion: < LanguageVersion.CSharp9 }
            ? fixes.Select(fix => new LeakFix(
                    fix.Title, fix.EquivalenceKey, root => Statements.WithoutWrittenNotPatterns(fix.Apply(root))))
                .ToImmutableArray()
            : fixes;

    /// <summary>
    /// The fixes that keep the file's preprocessor directives as they are. One that moves or removes a statement with a
    /// directive on it (a release under <c>#if</c>) would put the directives out of order or drop one, and the code
    /// would no longer build: it is not offered. Neither is one that puts a brace of its own between the directives of
    /// one <c>#if</c> group (a <c>try</c> that opens after <c>#else</c> and closes after <c>#endif</c>): the build
    /// that takes the other branch would no longer compile.
    /// </summary>
    private static ImmutableArray<LeakFix> KeepingDirectives(SemanticModel model, ImmutableArray<LeakFix> fixes, CancellationToken cancellationToken)
    {
        fixes = ForLanguageVersion(model, fixes);
        var root = model.SyntaxTree.GetRoot(cancellationToken);
        var directives = Directives(root);
        if (directives.Count == 0 || fixes.IsEmpty)
        {
            return fixes;
        }

        var groups = GroupBlocks(root);
        return fixes.Where(fix => fix.Apply(root) is var fixedRoot && Directives(fixedRoot).SequenceEqual(directives) && GroupBlocks(fixedRoot).SequenceEqual(groups))
            .ToImmutableArray();
    }

    /// <summary>For each <c>#elif</c>, <c>#else</c> and <c>#endif</c>: is it in the same block as the <c>#if</c> it belongs to?</summary>
    private static List<bool> GroupBlocks(SyntaxNode root) =>
        root.DescendantTrivia()
            .Select(t => t.GetStructure())
            .OfType<DirectiveTriviaSyntax>()
            .Where(d => d is ElifDirectiveTriviaSyntax or ElseDirectiveTriviaSyntax or EndIfDirectiveTriviaSyntax)
            .Select(d => d.GetRelatedDirectives().FirstOrDefault() is IfDirectiveTriviaSyntax opening && BlockOf(opening) == BlockOf(d))
            .ToList();

    /// <summary>The block (or switch section) whose statements a directive stands between.</summary>
    private static SyntaxNode? BlockOf(DirectiveTriviaSyntax directive)
    {
        var token = directive.ParentTrivia.Token;
        var node = token.IsKind(SyntaxKind.OpenBraceToken) ? token.Parent?.Parent : token.Parent;
        return node?.AncestorsAndSelf().FirstOrDefault(n => n is BlockSyntax or SwitchSectionSyntax);
    }

    private static List<string> Directives(SyntaxNode root) =>
        root.DescendantTrivia()
            .Where(t => t.IsDirective)
            .Select(t => t.ToString().Trim())
            .ToList();

    private static void PlanOpened(ReleaseChooser chooser, InvocationExpressionSyntax acquisition, bool handsOff, ImmutableArray<LeakFix>.Builder fixes)
    {
        if (acquisition.Expression is MemberAccessExpressionSyntax { Expression: IdentifierNameSyntax receiver }
            && chooser.Model.GetSymbolInfo(receiver).Symbol is ILocalSymbol local
            && Statements.OutermostValue(acquisition).Parent is ExpressionStatementSyntax statement)
        {
            PlanLocal(chooser, statement, local, opened: true, handsOff, fixes);
        }
    }

    private static void PlanReturned(ReleaseChooser chooser, InvocationExpressionSyntax acquisition, bool handsOff, string? configuredReleaseNames, ImmutableArray<LeakFix>.Builder fixes)
    {
        var model = chooser.Model;
        var value = Statements.OutermostValue(acquisition);
        var type = model.GetTypeInfo(value).Type;
        if (type is null || IsPool(type))
        {
            return;
        }

        if (IsTask(type))
        {
            PlanTask(chooser, acquisition, value, handsOff, configuredReleaseNames, fixes);
            return;
        }

        var holder = ChoiceOfAcquisitions(model, acquisition, value, out var mayBeNull) ?? value;
        switch (holder.Parent)
        {
            case EqualsValueClauseSyntax { Parent: VariableDeclaratorSyntax { Parent: VariableDeclarationSyntax { Variables.Count: > 1, Parent: LocalDeclarationStatementSyntax { Parent: BlockSyntax or SwitchSectionSyntax } several } } }
                when several.UsingKeyword.IsKind(SyntaxKind.None):
                // 'Pool a = x.GetConnection(), b = y.GetConnection();': a using or a try begins at a statement, so each
                // local gets its own declaration first (same type, same order).
                fixes.AddRange(PlanOnRewrite(model, SplitDeclaration(several, acquisition), acquisition, ReturnedProperties(handsOff, chooser), configuredReleaseNames));
                return;
            case EqualsValueClauseSyntax { Parent: VariableDeclaratorSyntax { Parent: VariableDeclarationSyntax { Variables.Count: 1, Parent: LocalDeclarationStatementSyntax declaration } } declarator }:
                if (model.GetDeclaredSymbol(declarator) is ILocalSymbol declared)
                {
                    PlanLocal(chooser, declaration, declared, opened: false, handsOff, fixes, mayBeNull);
                }

                return;
            case AssignmentExpressionSyntax { Left: IdentifierNameSyntax, Parent: ExpressionStatementSyntax statement } assignment when assignment.Right == holder:
                if (model.GetSymbolInfo(assignment.Left).Symbol is ILocalSymbol assigned)
                {
                    PlanLocal(chooser, statement, assigned, opened: false, handsOff, fixes, mayBeNull);
                }
                else if (assignment.Left is IdentifierNameSyntax { Identifier.ValueText: "_" } && holder == value)
                {
                    ReleaseDiscardedFix.Add(chooser, statement, value, type, fixes);
                }

                return;
            case ExpressionStatementSyntax statement when holder == value:
                ReleaseDiscardedFix.Add(chooser, statement, value, type, fixes);
                return;
            case IsPatternExpressionSyntax isPattern when isPattern.Expression == holder && holder == value && PlanPattern(chooser, isPattern, type, handsOff, fixes):
                return;
        }

        if (handsOff || holder != value || Ownership.AnalyzeValue(chooser, value).Kind != OwnershipKind.Stays)
        {
            return;
        }

        // Used in a larger expression and never stored: give it a local that is released.
        foreach (var ancestor in value.Ancestors())
        {
            switch (ancestor)
            {
                case AnonymousFunctionExpressionSyntax { ExpressionBody: { } body } lambda when body.Span.Contains(value.Span):
                    IntroduceLocalFix.AddForExpressionBody(chooser, lambda, body, value, type, fixes);
                    return;
                case ArrowExpressionClauseSyntax arrow when arrow.Parent is BaseMethodDeclarationSyntax or LocalFunctionStatementSyntax or AccessorDeclarationSyntax or PropertyDeclarationSyntax:
                    IntroduceLocalFix.AddForExpressionBody(chooser, arrow.Parent, arrow.Expression, value, type, fixes);
                    return;
                case StatementSyntax statement:
                    IntroduceLocalFix.AddForStatement(chooser, statement, value, type, fixes);
                    return;
                case AnonymousFunctionExpressionSyntax or MemberDeclarationSyntax:
                    return;
            }
        }
    }

    /// <summary>
    /// The <c>?:</c> or <c>switch</c> expression whose every value is a connection acquired here or <c>null</c>, when the
    /// acquisition is one of them (<c>readOnly ? replica.GetConnection() : primary.GetConnection()</c>): what it gives
    /// the code is a connection to release, whichever branch ran. A branch with any other value (a connection the
    /// code already had) makes it <c>null</c>: releasing what the choice gave would release that one too.
    /// </summary>
    private static ExpressionSyntax? ChoiceOfAcquisitions(SemanticModel model, InvocationExpressionSyntax acquisition, ExpressionSyntax value, out bool mayBeNull)
    {
        mayBeNull = false;
        ExpressionSyntax? choice = null;
        var current = value;
        while (true)
        {
            switch (current.Parent)
            {
                case ParenthesizedExpressionSyntax parenthesized:
                    current = parenthesized;
                    continue;
                case ConditionalExpressionSyntax ternary when ternary.Condition != current:
                    choice = current = ternary;
                    continue;
                case SwitchExpressionArmSyntax { Parent: SwitchExpressionSyntax switchExpression } arm when arm.Expression == current:
                    choice = current = switchExpression;
                    continue;
            }

            break;
        }

        if (choice is null)
        {
            return null;
        }

        AcquisitionRules? rules = null;
        var nullable = false;
        var all = Values(choice).All(branch =>
        {
            if (IsNull(branch))
            {
                nullable = true;
                return true;
            }

            if (branch is ThrowExpressionSyntax)
            {
                return true;
            }

            return Statements.AcquisitionIn(branch) is { } call && AcquiresAsReported(model, acquisition, call, ref rules);
        });
        mayBeNull = nullable;
        return all ? current : null;

        static IEnumerable<ExpressionSyntax> Values(ExpressionSyntax expression) => expression switch
        {
            ParenthesizedExpressionSyntax parenthesized => Values(parenthesized.Expression),
            ConditionalExpressionSyntax ternary => Values(ternary.WhenTrue).Concat(Values(ternary.WhenFalse)),
            SwitchExpressionSyntax switchExpression => switchExpression.Arms.SelectMany(arm => Values(arm.Expression)),
            _ => new[] { expression },
        };
    }

    /// <summary>A task of a connection: awaited later through a local, or one of the tasks of <c>Task.WhenAll</c>.</summary>
    private static void PlanTask(ReleaseChooser chooser, InvocationExpressionSyntax acquisition, ExpressionSyntax value, bool handsOff, string? configuredReleaseNames, ImmutableArray<LeakFix>.Builder fixes)
    {
        var model = chooser.Model;
        if (value.Parent is ArgumentSyntax { Parent.Parent: InvocationExpressionSyntax whenAll }
            && model.GetSymbolInfo(whenAll).Symbol is IMethodSymbol { Name: "WhenAll", ContainingType.Name: "Task" })
        {
            AwaitedLaterFix.AddWhenAll(chooser, whenAll, fixes);
            return;
        }

        if (value != acquisition
            || value.Parent is not EqualsValueClauseSyntax { Parent: VariableDeclaratorSyntax { Parent: VariableDeclarationSyntax { Variables.Count: 1, Parent: LocalDeclarationStatementSyntax declaration } } declarator }
            || model.GetDeclaredSymbol(declarator) is not ILocalSymbol pending
            || AwaitedLaterFix.MergePending(model, declaration, pending, acquisition, out var usingDeclaration) is not { } merge)
        {
            return;
        }

        if (usingDeclaration is { } awaitedUsing)
        {
            // 'await using var c = await pending;': the using releases the connection once the call sits at its await.
            fixes.Add(LeakFix.UseUsing(awaitedUsing, merge));
            return;
        }

        fixes.AddRange(PlanOnRewrite(model, merge, acquisition, ReturnedProperties(handsOff, chooser), configuredReleaseNames));
    }

    /// <summary>The diagnostic properties of a returned acquisition, for planning again on rewritten code.</summary>
    private static ImmutableDictionary<string, string?> ReturnedProperties(bool handsOff, ReleaseChooser chooser) =>
        ImmutableDictionary<string, string?>.Empty.Add(ConnectionLeakProperties.Kind, "Returned").Add(ConnectionLeakProperties.HandsOff, handsOff ? "true" : "false")
            .Add(ConnectionLeakProperties.Reason, chooser.OnlyFailuresLeak ? nameof(LeakReason.ExceptionThrown) : null);

    /// <summary>Plans on the code as <paramref name="rewrite"/> leaves it; each fix applies the rewrite first.</summary>
    private static ImmutableArray<LeakFix> PlanOnRewrite(
        SemanticModel model,
        System.Func<SyntaxNode, SyntaxNode> rewrite,
        InvocationExpressionSyntax acquisition,
        ImmutableDictionary<string, string?> properties,
        string? configuredReleaseNames)
    {
        var rewritten = model.SyntaxTree.WithRootAndOptions(rewrite(model.SyntaxTree.GetRoot()), model.SyntaxTree.Options);
        var rewrittenModel = model.Compilation.ReplaceSyntaxTree(model.SyntaxTree, rewritten).GetSemanticModel(rewritten);
        var moved = rewritten.GetRoot().GetAnnotatedNodes(Moved).OfType<InvocationExpressionSyntax>().FirstOrDefault(i => i.IsEquivalentTo(acquisition));
        return moved is null
            ? ImmutableArray<LeakFix>.Empty
            : Plan(rewrittenModel, moved, properties, configuredReleaseNames, CancellationToken.None)
                .Select(fix => new LeakFix(fix.Title, fix.EquivalenceKey, current => fix.Apply(rewrite(current))))
                .ToImmutableArray();
    }

    /// <summary>
    /// The rewrite that puts a switch section's statements in a block, or <c>null</c> when something they declare (a
    /// local, an <c>out</c> or pattern variable, a local function) is named by another section (they share one scope).
    /// </summary>
    private static System.Func<SyntaxNode, SyntaxNode>? BraceSection(SemanticModel model, SwitchSectionSyntax section, InvocationExpressionSyntax acquisition)
    {
        var declared = Statements.Declared(model, section.Statements);
        if (section.Parent is not SwitchStatementSyntax switchStatement
            || switchStatement.Sections.Where(s => s != section).Any(other => Statements.ReferencesAny(model, other, declared)))
        {
            return null;
        }

        return root =>
        {
            var current = Statements.Find(root, section);
            current = current.ReplaceNode(Statements.Find(current, acquisition), Statements.Find(current, acquisition).WithAdditionalAnnotations(Moved));
            var statements = current.Statements;
            // The block takes the line breaks before the first statement and the trivia after the last; a comment above
            // the first statement stays with it, once.
            var inside = statements.Select(s => s.WithAdditionalAnnotations(Formatter.Annotation)).ToList();
            inside[inside.Count - 1] = inside[inside.Count - 1].WithoutTrailingTrivia();
            var block = Block(inside)
                .WithLeadingTrivia(statements.First().GetLeadingTrivia().TakeWhile(t => t.IsKind(SyntaxKind.WhitespaceTrivia) || t.IsKind(SyntaxKind.EndOfLineTrivia)))
                .WithTrailingTrivia(statements.Last().GetTrailingTrivia())
                .WithAdditionalAnnotations(Formatter.Annotation);
            return root.ReplaceNode(Statements.Find(root, section), current.WithStatements(SingletonList<StatementSyntax>(block)));
        };
    }

    /// <summary>
    /// Does <paramref name="call"/> give a fresh connection as the reported <paramref name="acquisition"/> does: the same
    /// call, the same method with the same arguments, or a method of another assembly that the rules take for an
    /// acquisition? The compilation's own methods are judged by their bodies, which only the analyzer reads: not here.
    /// </summary>
    internal static bool AcquiresAsReported(SemanticModel model, InvocationExpressionSyntax acquisition, InvocationExpressionSyntax call, ref AcquisitionRules? rules)
    {
        if (call == acquisition)
        {
            return true;
        }

        var acquired = model.GetSymbolInfo(acquisition).Symbol as IMethodSymbol;
        if (acquired is not null && SymbolEqualityComparer.Default.Equals((model.GetSymbolInfo(call).Symbol as IMethodSymbol)?.OriginalDefinition, acquired.OriginalDefinition)
            && SyntaxFactory.AreEquivalent(call.ArgumentList, acquisition.ArgumentList, topLevel: false))
        {
            return true;
        }

        rules ??= AcquisitionRules.Create(model.Compilation);
        return model.GetOperation(call) is IInvocationOperation invocation
               && !rules.IsInSource(invocation.TargetMethod)
               && rules.Classify(invocation, rules.DefaultNames) == AcquisitionKind.Returned;
    }

    /// <summary>The rewrite that gives each local of a declaration with several its own declaration statement.</summary>
    private static System.Func<SyntaxNode, SyntaxNode> SplitDeclaration(LocalDeclarationStatementSyntax declaration, InvocationExpressionSyntax acquisition) => root =>
    {
        var current = Statements.Find(root, declaration);
        current = current.ReplaceNode(Statements.Find(current, acquisition), Statements.Find(current, acquisition).WithAdditionalAnnotations(Moved));
        var variables = current.Declaration.Variables;
        var split = variables.Select((variable, index) =>
        {
            // The first keeps the statement's layout. Each other one is a statement of its own: its type on its line
            // (not on a line above it, as the type of a declaration whose locals are on lines of their own), and the
            // comment above the local, if any, above the statement.
            var first = index == 0;
            var own = first
                ? current.Declaration.WithVariables(SingletonSeparatedList(variable))
                : current.Declaration.WithType(current.Declaration.Type.WithTrailingTrivia(ElasticSpace)).WithVariables(SingletonSeparatedList(variable.WithoutLeadingTrivia()));
            var leading = first ? current.GetLeadingTrivia()
                : AuthorTrivia.HasCommentsOrDirectives(variable.GetLeadingTrivia()) ? variable.GetLeadingTrivia() : TriviaList(ElasticMarker);
            return current.WithDeclaration(own)
                .WithLeadingTrivia(leading)
                .WithTrailingTrivia(index == variables.Count - 1 ? current.GetTrailingTrivia() : TriviaList(ElasticCarriageReturnLineFeed))
                .WithAdditionalAnnotations(Formatter.Annotation);
        });
        return root.ReplaceNode(Statements.Find(root, declaration), split);
    };

    /// <summary>The fixes of a connection held by a local: where its life ends, and whether it stays in the method.</summary>
    private static void PlanLocal(ReleaseChooser chooser, StatementSyntax acquiring, ILocalSymbol local, bool opened, bool handsOff, ImmutableArray<LeakFix>.Builder fixes, bool mayBeNull = false)
    {
        if (acquiring.Parent is GlobalStatementSyntax { Parent: CompilationUnitSyntax unit } global)
        {
            if (!handsOff && Ownership.Analyze(chooser, local, block: null).Kind == OwnershipKind.Stays && !chooser.ReleasedOutOfSight(local))
            {
                ReleaseInFinallyFix.AddTopLevel(chooser, unit, global, local, fixes);
            }

            return;
        }

        if (Lifetime.Find(chooser, acquiring, local, opened) is not { } region)
        {
            return;
        }

        if (mayBeNull)
        {
            region.Needs |= ReleaseNeeds.MayBeNull;
        }

        PlanRegion(chooser, acquiring, region, local, handsOff, fixes);
    }

    /// <summary>
    /// <c>if (pool.GetConnection() is { } conn) { ... }</c> (or <c>is PooledConnection conn</c> of the call's own type):
    /// the pattern holds for every connection the call gives, so the <c>if</c>'s block is the connection's whole life,
    /// when the local is named nowhere after it and the <c>if</c> has no <c>else</c>. Returns whether that fix, or no fix,
    /// is the answer; false lets the connection get a local of its own around the statement that uses it.
    /// </summary>
    private static bool PlanPattern(ReleaseChooser chooser, IsPatternExpressionSyntax isPattern, ITypeSymbol type, bool handsOff, ImmutableArray<LeakFix>.Builder fixes)
    {
        var model = chooser.Model;
        if (!isPattern.Pattern.DescendantNodesAndSelf().OfType<SingleVariableDesignationSyntax>().Any())
        {
            return false;
        }

        if (isPattern.Parent is not IfStatementSyntax { Else: null, Statement: BlockSyntax body } ifStatement || ifStatement.Condition != isPattern)
        {
            return true;
        }

        var designation = isPattern.Pattern switch
        {
            RecursivePatternSyntax { Type: null, PositionalPatternClause: null, PropertyPatternClause.Subpatterns.Count: 0, Designation: SingleVariableDesignationSyntax single } => single,
            DeclarationPatternSyntax { Designation: SingleVariableDesignationSyntax single } declared
                when SymbolEqualityComparer.Default.Equals(model.GetTypeInfo(declared.Type).Type?.WithNullableAnnotation(NullableAnnotation.NotAnnotated), type.WithNullableAnnotation(NullableAnnotation.NotAnnotated)) => single,
            _ => null,
        };
        if (designation is null || model.GetDeclaredSymbol(designation) is not ILocalSymbol local
            || Statements.Uses(model, chooser.Context.Node, local).Any(use => !body.Span.Contains(use.Span))
            || body.Statements.Count == 0)
        {
            // The pattern names no local for the connection itself, the local is named after the if, or the block is
            // empty: the if is one statement that uses the connection, and a local around it is released after it.
            return false;
        }

        PlanRegion(chooser, ifStatement, new Region(body, 0, ifStatement, ReleaseNeeds.None, opened: false, lifted: false), local, handsOff, fixes);
        return true;
    }

    /// <summary>The fixes of a connection whose life is the statements of <paramref name="region"/>.</summary>
    private static void PlanRegion(ReleaseChooser chooser, StatementSyntax acquiring, Region region, ILocalSymbol local, bool handsOff, ImmutableArray<LeakFix>.Builder fixes)
    {
        // The uses of this value: from the acquisition to the statement that gives the local a new one.
        var reassigned = region.Block.Statements.Skip(region.Start).FirstOrDefault(s => Statements.IsAssignmentTo(chooser.Model, s, local));
        var ownership = Ownership.Analyze(chooser, local, region.Block, acquiring.SpanStart, reassigned?.SpanStart ?? int.MaxValue);
        if (IsProtected(chooser, acquiring, region, local, onFailureEnough: ownership.Kind == OwnershipKind.HandedOff))
        {
            return;
        }

        switch (ownership.Kind)
        {
            case OwnershipKind.HandedOff:
                DisposeOnFailureFix.Add(chooser, region.ForFailure(), local, ownership, fixes);
                return;
            case OwnershipKind.Stays when !handsOff && !TakesAnotherValueInside(chooser, region, local, reassigned) && !chooser.ReleasedOutOfSight(local):
                if (!region.Needs.HasFlag(ReleaseNeeds.Reopenable) && !region.ReleasedAfterLoop
                    && local.DeclaringSyntaxReferences.FirstOrDefault()?.GetSyntax() is VariableDeclaratorSyntax { Parent.Parent: LocalDeclarationStatementSyntax declaration }
                    && declaration.Parent == region.Block)
                {
                    UsingDeclarationFix.Add(chooser, declaration, local, fixes);
                }

                ReleaseInFinallyFix.Add(chooser, region, local, fixes);
                return;
        }
    }

    /// <summary>
    /// Does the local take another connection inside the statements the fix would protect (or the one that acquires),
    /// below their top level, after a release that is not a dispose (<c>lease.Release(); lease = pool.GetConnection();</c> in a loop)? A <c>finally</c>
    /// would then release the variable's last value, which is the old, released one when taking the new one throws:
    /// released twice, which a pool's <c>Release</c> need not survive. No fix. A second <c>Dispose</c> does nothing (the
    /// contract of <c>IDisposable</c>), and so does a <c>Dispose</c> or <c>Close</c> after a <c>DbConnection</c>'s
    /// <c>Close</c>; a <c>Close</c> of another type may hand its connection back twice, as the analyzer holds (TDG004).
    /// Giving it <c>null</c> is not another connection.
    /// </summary>
    private static bool TakesAnotherValueInside(ReleaseChooser chooser, Region region, ILocalSymbol local, StatementSyntax? reassigned)
    {
        var model = chooser.Model;
        // The statement that acquires counts too: acquired in a branch ('if (x) { lease.Release(); lease = other.GetConnection(); }'),
        // the old connection is released there before the new one is taken. A fallback's try releases nothing (its
        // blocks only take a connection), and its statement is not among those the fix protects.
        var nested = region.Block.Statements.Skip(region.Start)
            .TakeWhile(statement => statement != reassigned)
            .Concat(region.AfterFallback ? Enumerable.Empty<StatementSyntax>() : new[] { region.Acquiring })
            .Distinct()
            .SelectMany(statement => statement.DescendantNodes())
            .ToList();

        // Read once, for the first Close found: whether the local is a DbConnection does not change from one release to the next.
        bool? closesTwiceHarmlessly = null;
        return nested.Any(node => node is AssignmentExpressionSyntax { Left: IdentifierNameSyntax target } assignment
                                  && !IsNull(assignment.Right)
                                  && Statements.Is(model, target, local))
               && nested.OfType<StatementSyntax>().Any(statement => chooser.Releases(statement, local, out var name, out _)
                                                                      && name is not ("Dispose" or "DisposeAsync")
                                                                      && !(name is "Close" or "CloseAsync"
                                                                           && (closesTwiceHarmlessly ??= AcquisitionRules.Create(model.Compilation).IsDbConnection(local.Type as INamedTypeSymbol))));
    }

    /// <summary>
    /// Is the connection already given back by a <c>finally</c> (or, when it leaves the method, by a <c>catch</c> that
    /// rethrows) around the acquisition or right after it? Then a fix was applied before (the analyzer may still see a
    /// path it cannot follow) and applying one again would release twice.
    /// </summary>
    private static bool IsProtected(ReleaseChooser chooser, StatementSyntax acquiring, Region region, ILocalSymbol local, bool onFailureEnough)
    {
        var next = region.Start < region.Block.Statements.Count ? region.Block.Statements[region.Start] : null;
        // A try whose finally holds the acquisition does not protect it: its finally has run by then.
        var tries = acquiring.Ancestors().TakeWhile(a => a != chooser.Context.Node).OfType<TryStatementSyntax>()
            .Where(t => t.Finally is null || !t.Finally.Span.Contains(acquiring.Span));
        if (next is TryStatementSyntax following)
        {
            tries = tries.Append(following);
        }

        return tries.Any(t =>
            (t.Finally is { } finallyClause && finallyClause.Block.Statements.Any(s => chooser.Releases(s, local, out _, out _)))
            || (onFailureEnough && t.Catches.Any(c => c.Declaration is null && c.Filter is null
                                  && c.Block.Statements.Any(s => chooser.Releases(s, local, out _, out _))
                                  && c.Block.Statements.LastOrDefault() is ThrowStatementSyntax { Expression: null })));
    }

    /// <summary>A pool, a data source or a factory of connections: not something to release after use.</summary>
    private static bool IsPool(ITypeSymbol type)
    {
        for (var current = type; current is not null; current = current.BaseType)
        {
            if (current.ToDisplayString() is "System.Data.Common.DbDataSource" or "System.Data.Common.DbProviderFactory"
                || PoolMethods.Any(name => current.GetMembers(name).Any(m => m is IMethodSymbol { ReturnsVoid: false })))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsTask(ITypeSymbol type) =>
        type is INamedTypeSymbol { Name: "Task" or "ValueTask", ContainingNamespace: { Name: "Tasks", ContainingNamespace.Name: "Threading" } };

    private static bool IsNull(ExpressionSyntax expression) =>
        expression.IsKind(SyntaxKind.NullLiteralExpression) || expression.IsKind(SyntaxKind.DefaultLiteralExpression) || expression is DefaultExpressionSyntax;
}
