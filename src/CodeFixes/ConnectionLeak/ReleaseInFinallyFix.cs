using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
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
            else if (TakesAnother(model, after, local))
            {
                // The try cannot end there, and would hold this connection while the code takes another.
                return;
            }
        }

        if (OrphansAGuard(model, chooser.Context.Node, local, releases))
        {
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
    private static bool TakesAnother(SemanticModel model, IEnumerable<StatementSyntax> statements, ILocalSymbol local) =>
        TakesAnother(model, statements.SelectMany(s => s.DescendantNodes(n => !FunctionContext.IsFunction(n))), local.Type);

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
        && !statement.DescendantNodes().Any(n => Statements.RunsCode(n) || n is AnonymousFunctionExpressionSyntax or QueryExpressionSyntax);

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

        var statements = following.Take(count).Select(g => g.Statement).ToList();
        var releases = MovableReleases(chooser, local, statements);
        var release = chooser.Choose(local, releases, acquiring, ReleaseNeeds.None);
        if (release is null || statements.Count == 0)
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
