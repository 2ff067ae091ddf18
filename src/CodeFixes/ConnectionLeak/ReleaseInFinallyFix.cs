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

/// <summary><c>try { ... } finally { x.Release(); }</c> around the statements that use the connection.</summary>
internal static class ReleaseInFinallyFix
{
    public static void Add(ReleaseChooser chooser, Region region, ILocalSymbol local, ImmutableArray<LeakFix>.Builder fixes)
    {
        var model = chooser.Model;
        var block = region.Block;
        var start = region.Start;
        var end = Statements.LastStatementUsing(model, block, start, local);
        for (var i = start; i <= end; i++)
        {
            if (Statements.IsAssignmentTo(model, block.Statements[i], local))
            {
                // The variable gets a new value: release the old one before that.
                end = i - 1;
                break;
            }
        }

        // Released in this block and used again after that (opened again): this life ends at that release.
        var statements = block.Statements.Skip(start).Take(end - start + 1).ToList();
        var releases = MovableReleases(chooser, local, statements, region.ReopenedIn);
        var first = releases.Select(r => Statements.RemovalUnit(r)).OfType<StatementSyntax>().Where(u => u.Parent == block).Select(u => block.Statements.IndexOf(u)).DefaultIfEmpty(-1).Min();
        var needs = region.Needs;
        if (first >= start && block.Statements.Skip(first + 1).Any(s => s is not LocalFunctionStatementSyntax && Statements.References(model, s, local)))
        {
            end = first;
            statements = block.Statements.Skip(start).Take(end - start + 1).ToList();
            releases = MovableReleases(chooser, local, statements, region.ReopenedIn);
            if (region.Opened && (!chooser.Releases(block.Statements[first], local, out var firstName, out _) || firstName is "Close" or "CloseAsync"))
            {
                // Opened again later: close it, a disposed connection cannot be opened.
                needs |= ReleaseNeeds.Reopenable;
            }
        }

        // The statements after the release that the try takes in only because they read a local of it: when one of them
        // can take time (a call, an await, a loop), the try ends at the release (or at the statement the release is
        // inside of, a lock or a block) and those locals are declared before it, so that the connection is not held
        // longer than the code held it. Never before a statement that still uses the connection.
        Dictionary<LocalDeclarationStatementSyntax, ILocalSymbol>? hoisted = null;
        var lastRelease = releases.Select(r => Statements.RemovalUnit(r).AncestorsAndSelf().OfType<StatementSyntax>().FirstOrDefault(s => s.Parent == block))
            .Where(u => u is not null).Select(u => block.Statements.IndexOf(u!)).DefaultIfEmpty(-1).Max();
        var after = block.Statements.Skip(lastRelease + 1).Take(end - lastRelease).ToList();
        if (lastRelease >= start && lastRelease < end && after.Any(s => !IsQuick(s)) && !after.Any(s => Statements.References(model, s, local)))
        {
            var shorter = block.Statements.Skip(start).Take(lastRelease - start + 1).ToList();
            var later = block.Statements.Skip(lastRelease + 1).ToList();
            if (Statements.Hoisted(model, shorter, later) is { } moved && !moved.Values.Any(h => IsResource(h.Type) || chooser.FindReleases(h, later).Any()))
            {
                end = lastRelease;
                statements = shorter;
                releases = MovableReleases(chooser, local, statements, region.ReopenedIn);
                hoisted = moved;
            }
            else if (TakesAnother(chooser, after, local))
            {
                // The try cannot end there, and would hold this connection while the code takes another.
                return;
            }
        }

        if (OrphansAGuard(model, chooser.Context.Node, local, releases) || releases.Any(r => WorkFollows(chooser, r, statements, releases, throughRegion: false)))
        {
            return;
        }

        if (releases.Any(r => DirectiveGroups.OpensBetween(region.Acquiring, r) || AuthorTrivia.HasDocumentationComment(Statements.RemovalUnit(r))))
        {
            // A release in an #if group that opens after the acquisition is the author's choice of builds: in a finally,
            // every build would release, also one whose code keeps the connection instead. A '///' comment at the release
            // would be lost.
            return;
        }

        var release = chooser.Choose(local, releases, region.Acquiring, needs);
        if (release is null || statements.Any(s => s.DescendantNodesAndSelf().Any(n => n is LabeledStatementSyntax)))
        {
            // A label inside the try could be the target of a goto from outside it, which C# does not allow.
            return;
        }

        if (statements.Count == 0)
        {
            // Nothing uses the connection after it is taken: give it back right away.
            fixes.Add(LeakFix.ReleaseInFinally(root =>
            {
                var current = Statements.Find(root, block);
                var list = block.Statements.Insert(start, release.WithAdditionalAnnotations(Formatter.Annotation));
                return root.ReplaceNode(current, block.WithStatements(list).WithAdditionalAnnotations(Formatter.Annotation));
            }));
            return;
        }

        // A local declared in the try but needed after it (the region stops before a reassignment) is declared
        // before the try and assigned inside it.
        hoisted ??= Statements.Hoisted(model, statements, block.Statements.Skip(end + 1).ToList());
        if (hoisted is null)
        {
            return;
        }

        var laterReleases = region.ReleasedAfterLoop ? ReleasesAfterLoop(chooser, local, block) : new List<SyntaxNode>();
        var newTry = new SyntaxAnnotation();
        fixes.Add(LeakFix.ReleaseInFinally(root =>
        {
            var currentBlock = Statements.Find(root, block);
            TryStatementSyntax tryStatement;
            int replaced;
            if (statements.Count == 1 && statements[0] is TryStatementSyntax existing)
            {
                // Reuse the try that is already there.
                var cleaned = Statements.RemoveReleases(existing, releases, release, model)!;
                var finallyBlock = cleaned.Finally is { } finallyClause ? finallyClause.Block.AddStatements(release) : Block(release);
                tryStatement = cleaned.WithFinally(FinallyClause(finallyBlock));
                replaced = 1;
            }
            else
            {
                var body = Statements.Kept(statements.Select(statement =>
                {
                    var mapped = statement is LocalDeclarationStatementSyntax declaration && hoisted.ContainsKey(declaration) ? Statements.AssignInstead(declaration) : statement;
                    return (statement, Statements.RemoveReleases(mapped, releases, release, model));
                }).SelectMany(pair => pair.Item2 is { } kept
                    ? Statements.WithoutBareTry(kept).Select(s => (pair.statement, (StatementSyntax?)s))
                    : new[] { pair }), keepComments: false, out var left);
                var blankLines = new SyntaxTriviaList();
                if (body.Count > 0)
                {
                    // Blank lines above the first statement stay above the try; its comments move in with it.
                    var leading = body[0].GetLeadingTrivia();
                    var prefix = leading.TakeWhile(t => t.IsKind(SyntaxKind.EndOfLineTrivia) || t.IsKind(SyntaxKind.WhitespaceTrivia)).ToList();
                    blankLines = TriviaList(prefix.Where(t => t.IsKind(SyntaxKind.EndOfLineTrivia)));
                }

                if (blankLines.Count == 0 && start > 0 && !block.Statements[start - 1].GetTrailingTrivia().Any(t => t.IsKind(SyntaxKind.EndOfLineTrivia)))
                {
                    // The try starts a line of its own, also after a statement that did not end its line (or a method
                    // written on one line).
                    blankLines = TriviaList(Statements.FirstLineEnd(statements) ?? Statements.DocumentLineEnd(block));
                }

                var tryBlock = Statements.MovedInto(body, statements);
                if (left.Count > 0)
                {
                    // A directive group that ended above a release at the end of the try (the release moves to the
                    // finally without it): it ends the try's block, where it ended the statements before.
                    tryBlock = tryBlock.WithCloseBraceToken(tryBlock.CloseBraceToken.WithLeadingTrivia(left.AddRange(tryBlock.CloseBraceToken.LeadingTrivia)));
                }

                tryStatement = TryStatement(tryBlock, default, FinallyClause(Block(release)))
                    .WithLeadingTrivia(blankLines)
                    .WithTrailingTrivia(Statements.LineEnds(statements[statements.Count - 1].GetTrailingTrivia()));
                replaced = statements.Count;
            }

            var list = block.Statements.ToList();
            list.RemoveRange(start, replaced);
            list.Insert(start, tryStatement.WithAdditionalAnnotations(Formatter.Annotation, newTry));
            list.InsertRange(start, Statements.Declarations(model, hoisted.Values, region.Acquiring.SpanStart));
            var newBlock = block.WithStatements(List(list)).WithAdditionalAnnotations(Formatter.Annotation);
            if (laterReleases.Count == 0)
            {
                return Statements.WithBlankLineAfter(root.ReplaceNode(currentBlock, newBlock), newTry);
            }

            var tracked = root.TrackNodes(laterReleases.Append(currentBlock));
            tracked = tracked.ReplaceNode(tracked.GetCurrentNode(currentBlock)!, newBlock);
            foreach (var later in laterReleases)
            {
                if (tracked.GetCurrentNode(later) is { } current)
                {
                    tracked = Statements.Remove(tracked, current, keepComments: false);
                }
            }

            return Statements.WithBlankLineAfter(tracked, newTry);
        }));
    }

    /// <summary>A disposable type: a local of it is a resource with a life of its own, not a value to declare earlier.</summary>
    private static bool IsResource(ITypeSymbol type) =>
        type.AllInterfaces.Append(type).Any(t => t.ContainingNamespace is { Name: "System", ContainingNamespace.IsGlobalNamespace: true } && t.Name is "IDisposable" or "IAsyncDisposable");

    /// <summary>Does one of <paramref name="statements"/> make or take another connection of the local's type?</summary>
    private static bool TakesAnother(ReleaseChooser chooser, IEnumerable<StatementSyntax> statements, ILocalSymbol local) =>
        TakesAnotherThroughCalls(chooser.Model, statements.SelectMany(s => s.DescendantNodes(n => !FunctionContext.IsFunction(n))), local.Type, chooser.CancellationToken);

    /// <summary>
    /// <see cref="TakesAnother(SemanticModel, IEnumerable{SyntaxNode}, ITypeSymbol)"/> in <paramref name="nodes"/>, or in
    /// a method of the project that one of them calls, or one that method calls in turn (an <c>Audit()</c> that takes its
    /// own connection).
    /// </summary>
    internal static bool TakesAnotherThroughCalls(SemanticModel model, IEnumerable<SyntaxNode> nodes, ITypeSymbol type, CancellationToken cancellationToken)
    {
        var seen = new HashSet<ISymbol>(SymbolEqualityComparer.Default);
        var pending = new Stack<(IEnumerable<SyntaxNode> Nodes, SemanticModel Model)>();
        pending.Push((nodes, model));
        while (pending.Count > 0)
        {
            var (current, currentModel) = pending.Pop();
            foreach (var node in current)
            {
                if (TakesAnother(currentModel, new[] { node }, type))
                {
                    return true;
                }

                if (node is not (InvocationExpressionSyntax or BaseObjectCreationExpressionSyntax)
                    || currentModel.GetSymbolInfo(node).Symbol is not IMethodSymbol called
                    || !seen.Add(called.OriginalDefinition))
                {
                    continue;
                }

                foreach (var reference in called.OriginalDefinition.DeclaringSyntaxReferences)
                {
                    var declaration = reference.GetSyntax(cancellationToken);
                    var declarationModel = currentModel.Compilation.GetSemanticModel(declaration.SyntaxTree);
                    pending.Push((declaration.DescendantNodes(), declarationModel));
                }
            }
        }

        return false;
    }

    /// <summary>
    /// Is one of <paramref name="nodes"/> a call, a creation or an <c>await</c> whose value is of <paramref name="type"/>:
    /// another connection made or taken while the code holds one? The caller decides whether lambdas count.
    /// </summary>
    internal static bool TakesAnother(SemanticModel model, IEnumerable<SyntaxNode> nodes, ITypeSymbol type) =>
        nodes.Any(n => n is InvocationExpressionSyntax or BaseObjectCreationExpressionSyntax or AwaitExpressionSyntax
                       && SymbolEqualityComparer.Default.Equals(model.GetTypeInfo(n).Type, type));

    /// <summary>
    /// A statement that ends at once: a <c>return</c>, an assignment or a declaration that calls nothing, awaits nothing,
    /// creates nothing and loops over nothing. Moving it into the try keeps the connection no longer than it was kept.
    /// </summary>
    private static bool IsQuick(StatementSyntax statement) =>
        statement is ReturnStatementSyntax or ExpressionStatementSyntax or LocalDeclarationStatementSyntax { UsingKeyword.RawKind: (int)SyntaxKind.None } or EmptyStatementSyntax
        && !statement.DescendantNodes().Any(n => Statements.RunsCode(n) || n is AnonymousFunctionExpressionSyntax or QueryExpressionSyntax)
        && !AuthorTrivia.HidesCode(statement.GetLeadingTrivia());

    /// <summary>
    /// Does work run after <paramref name="release"/>, nested in one of the statements of <paramref name="region"/>
    /// (those a <c>try</c> or a <c>using</c> would hold), before its path leaves that statement: a call, an
    /// <c>await</c>, another acquisition, a loop's next iteration, a <c>finally</c> that does work? Moving that release
    /// to the end of the region would hold the connection through that work (a catch that releases, then takes a
    /// replica's connection or waits out a back-off): no fix. Quick statements (an assignment, a release of something
    /// else), <c>throw;</c>, a <c>throw</c> that calls nothing but an exception's constructor, a <c>return</c> of a
    /// value already computed, and a <c>break</c> or <c>continue</c> that leaves the region end the path without work;
    /// so do the other <paramref name="releases"/>, which go too. What follows at the top of the region is the caller's
    /// to judge (the try ends at the release, or takes in what cannot be declared before it), unless
    /// <paramref name="throughRegion"/> (a using, which holds the connection to the end of its block): then its
    /// statements up to a <c>return</c> or a <c>throw</c> must be quick too.
    /// </summary>
    internal static bool WorkFollows(ReleaseChooser chooser, StatementSyntax release, IReadOnlyList<StatementSyntax> region, IReadOnlyCollection<StatementSyntax> releases, bool throughRegion)
    {
        var removed = new HashSet<SyntaxNode>(releases.Select(Statements.RemovalUnit));
        var node = Statements.RemovalUnit(release);
        while (true)
        {
            var top = node is StatementSyntax statement && region.Contains(statement);
            if (top && !throughRegion)
            {
                return false;
            }

            var jumped = false;
            IEnumerable<StatementSyntax>? following = top ? region.SkipWhile(s => s != node).Skip(1)
                : node.Parent is BlockSyntax block ? block.Statements.SkipWhile(s => s != node).Skip(1)
                : node.Parent is SwitchSectionSyntax section ? section.Statements.SkipWhile(s => s != node).Skip(1)
                : null;
            foreach (var next in following ?? Enumerable.Empty<StatementSyntax>())
            {
                if (removed.Contains(next) || next is LocalFunctionStatementSyntax || IsReleaseOfAnything(chooser, next))
                {
                    continue;
                }

                if (next is ReturnStatementSyntax or ThrowStatementSyntax or YieldStatementSyntax { RawKind: (int)SyntaxKind.YieldBreakStatement })
                {
                    // At the top of a using's block, the value of a 'return' is computed before the dispose, as a
                    // release right before it let it be.
                    return !top && !IsQuickExit(next);
                }

                if (next is BreakStatementSyntax or ContinueStatementSyntax)
                {
                    // Out of a loop or a switch around the region, the path leaves it; out of one inside it, it goes on
                    // after that statement (a 'break') or into the next iteration (a 'continue': work).
                    var target = Target(next);
                    if (target is null || !region.Any(s => s.Span.Contains(target.Span)))
                    {
                        return false;
                    }

                    if (next is ContinueStatementSyntax)
                    {
                        return true;
                    }

                    jumped = true;
                    node = target;
                    break;
                }

                if (!IsQuick(next))
                {
                    return true;
                }
            }

            if (jumped)
            {
                continue;
            }

            if (top)
            {
                // The end of the region: where the finally (or the using's dispose) runs.
                return false;
            }

            node = node.Parent!;
            switch (node)
            {
                case null or MemberDeclarationSyntax or AnonymousFunctionExpressionSyntax or LocalFunctionStatementSyntax:
                    return true;
                case CommonForEachStatementSyntax or ForStatementSyntax or WhileStatementSyntax or DoStatementSyntax:
                    // The end of a loop's body inside the region: the next iteration.
                    return true;
                case CatchClauseSyntax or FinallyClauseSyntax or BlockSyntax { Parent: TryStatementSyntax }:
                    // Out of a try's block or one of its catches: its finally runs, then what follows the try.
                    var tryStatement = node.FirstAncestorOrSelf<TryStatementSyntax>()!;
                    if (node is not FinallyClauseSyntax && tryStatement.Finally is { } finallyClause
                        && finallyClause.Block.Statements.Any(s => !removed.Contains(s) && !IsQuick(s) && !IsReleaseOfAnything(chooser, s)))
                    {
                        return true;
                    }

                    node = tryStatement;
                    break;
            }
        }
    }

    /// <summary>
    /// A way out that does no work: <c>throw;</c>, <c>yield break;</c>, a <c>return</c> of a value already computed, or
    /// a <c>throw</c> of a new exception whose arguments call nothing (<c>nameof</c> aside).
    /// </summary>
    private static bool IsQuickExit(StatementSyntax exit) => exit switch
    {
        ThrowStatementSyntax { Expression: { } thrown } => !thrown.DescendantNodesAndSelf().Any(n =>
            n is AwaitExpressionSyntax or AnonymousFunctionExpressionSyntax or QueryExpressionSyntax
            || (n is InvocationExpressionSyntax { Expression: not IdentifierNameSyntax { Identifier.ValueText: "nameof" } })
            || (n is BaseObjectCreationExpressionSyntax && n != thrown)),
        _ => IsQuick(exit) || exit is ThrowStatementSyntax or YieldStatementSyntax,
    };

    /// <summary>A statement that only releases something (this connection or another resource): cleanup.</summary>
    private static bool IsReleaseOfAnything(ReleaseChooser chooser, StatementSyntax statement) =>
        statement is ExpressionStatementSyntax { Expression: var expression }
        && (Statements.AcquisitionIn(expression) ?? expression) switch
        {
            InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax { Expression: not InvocationExpressionSyntax, Name.Identifier.ValueText: var name }, ArgumentList.Arguments.Count: <= 1 } call
                => chooser.Names.Contains(name) && !call.ArgumentList.DescendantNodes().Any(Statements.RunsCode),
            ConditionalAccessExpressionSyntax { WhenNotNull: InvocationExpressionSyntax { Expression: MemberBindingExpressionSyntax { Name.Identifier.ValueText: var name }, ArgumentList.Arguments.Count: 0 } }
                => chooser.Names.Contains(name),
            _ => false,
        };

    /// <summary>The loop or switch a <c>break</c> or <c>continue</c> leaves (a <c>continue</c> only a loop).</summary>
    private static StatementSyntax? Target(StatementSyntax jump) =>
        jump.Ancestors().TakeWhile(a => !FunctionContext.IsFunction(a)).OfType<StatementSyntax>().FirstOrDefault(a =>
            a is CommonForEachStatementSyntax or ForStatementSyntax or WhileStatementSyntax or DoStatementSyntax
            || (a is SwitchStatementSyntax && jump is BreakStatementSyntax));

    /// <summary>Top-level statements: the following global statements that use the connection go into one try.</summary>
    public static void AddTopLevel(ReleaseChooser chooser, CompilationUnitSyntax unit, GlobalStatementSyntax acquiring, ILocalSymbol local, ImmutableArray<LeakFix>.Builder fixes)
    {
        var model = chooser.Model;
        var index = unit.Members.IndexOf(acquiring);
        var following = unit.Members.Skip(index + 1).TakeWhile(m => m is GlobalStatementSyntax).Cast<GlobalStatementSyntax>().ToList();
        var count = 0;
        for (var i = 0; i < following.Count; i++)
        {
            if (Statements.IsAssignmentTo(model, following[i].Statement, local))
            {
                break;
            }

            if (Statements.References(model, following[i].Statement, local))
            {
                count = i + 1;
            }
        }

        // A later statement that reads a local the try declares goes into the try too, unless the connection gets a new
        // value before it (the try would take in the new connection as well): then no fix.
        var all = following.Select(g => g.Statement).ToList();
        var through = count == 0 ? 0 : Statements.ThroughUsesOfDeclared(model, all, 0, count - 1) + 1;
        if (Statements.IsWritten(model, local, all.Skip(count).Take(through - count)))
        {
            return;
        }

        var statements = all.Take(through).ToList();
        var releases = MovableReleases(chooser, local, statements);
        var release = chooser.Choose(local, releases, acquiring, ReleaseNeeds.None);
        if (release is null || statements.Count == 0 || releases.Any(r => WorkFollows(chooser, r, statements, releases, throughRegion: false)))
        {
            return;
        }

        fixes.Add(LeakFix.ReleaseInFinally(root =>
        {
            var currentUnit = (CompilationUnitSyntax)root;
            var body = statements.Select(s => Statements.RemoveReleases(s, releases, release, model)).Where(s => s is not null).SelectMany(s => Statements.WithoutBareTry(s!)).ToList();
            var tryStatement = TryStatement(Statements.MovedInto(body, statements), default, FinallyClause(Block(release)))
                .WithLeadingTrivia(SyntaxTriviaList.Empty)
                .WithTrailingTrivia(Statements.LineEnds(statements[statements.Count - 1].GetTrailingTrivia()))
                .WithAdditionalAnnotations(Formatter.Annotation);
            var members = currentUnit.Members.ToList();
            members.RemoveRange(index + 1, statements.Count);
            members.Insert(index + 1, GlobalStatement(tryStatement).WithAdditionalAnnotations(Formatter.Annotation));
            return currentUnit.WithMembers(List(members));
        }));
    }

    /// <summary>
    /// The releases the finally replaces: not those that give back an old value before the variable takes a new one
    /// inside the try (a retry's <c>x.Dispose(); x = pool.GetConnection();</c>), which must stay where they are. A new
    /// value after the try (<c>x.Release(); x = null;</c>, where the try ends) is the finally's: the release moves there.
    /// Nor those inside <paramref name="reopenedIn"/>, the loop that opens the connection again when it finds it closed.
    /// </summary>
    public static List<StatementSyntax> MovableReleases(ReleaseChooser chooser, ILocalSymbol local, IEnumerable<StatementSyntax> region, StatementSyntax? reopenedIn = null)
    {
        var statements = region.ToList();
        return chooser.FindReleases(local, statements)
            .Where(release => reopenedIn is null || !reopenedIn.Span.Contains(release.Span))
            .Where(release => Statements.RemovalUnit(release) is not StatementSyntax { Parent: BlockSyntax owner } unit
                              || !owner.Statements.SkipWhile(s => s != unit).Skip(1)
                                  .Where(s => statements.Any(r => r.Span.Contains(s.Span)))
                                  .Any(s => Statements.IsWritten(chooser.Model, local, new[] { s })))
            .ToList();
    }

    /// <summary>
    /// Releases after the loop around <paramref name="block"/>. <see cref="Lifetime.Find"/> says a region is released
    /// after its loop only when nothing but releases names the variable after the loop, so nothing there assigns it.
    /// </summary>
    private static List<SyntaxNode> ReleasesAfterLoop(ReleaseChooser chooser, ILocalSymbol local, BlockSyntax block)
    {
        if (block.Parent is not (CommonForEachStatementSyntax or ForStatementSyntax or WhileStatementSyntax or DoStatementSyntax) || block.Parent.Parent is not BlockSyntax outer)
        {
            return new List<SyntaxNode>();
        }

        var after = outer.Statements.SkipWhile(s => s != block.Parent).Skip(1);
        return chooser.FindReleases(local, after).Select(Statements.RemovalUnit).ToList();
    }

    /// <summary>
    /// Would removing the code's releases leave a local of the code that guarded one of them written and never read
    /// (<c>if (!released) conn.Release();</c> goes with its <c>if</c>, and <c>released = true;</c> elsewhere stays)? The
    /// compiler then warns that the local is assigned but never used (CS0219), an error where warnings are errors: no fix.
    /// </summary>
    private static bool OrphansAGuard(SemanticModel model, SyntaxNode function, ILocalSymbol connection, IReadOnlyCollection<StatementSyntax> releases)
    {
        var units = releases.Select(Statements.RemovalUnit).OfType<IfStatementSyntax>().ToList();
        if (units.Count == 0)
        {
            return false;
        }

        var guards = units
            .SelectMany(unit => unit.Condition.DescendantNodesAndSelf().OfType<IdentifierNameSyntax>())
            .Select(name => model.GetSymbolInfo(name).Symbol)
            .OfType<ILocalSymbol>()
            .Where(guard => !SymbolEqualityComparer.Default.Equals(guard, connection))
            .Distinct<ILocalSymbol>(SymbolEqualityComparer.Default)
            .ToList();
        return guards.Any(guard => !Statements.Uses(model, function, guard)
            .Any(name => !IsAssignedTo(name) && !units.Any(unit => unit.Span.Contains(name.Span))));

        static bool IsAssignedTo(IdentifierNameSyntax name) =>
            name.Parent is AssignmentExpressionSyntax { RawKind: (int)SyntaxKind.SimpleAssignmentExpression } assignment && assignment.Left == name;
    }
}
