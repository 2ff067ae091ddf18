using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using TenantDbGuard.Analyzers.ConnectionLeak;

namespace TenantDbGuard.CodeFixes.ConnectionLeak;

/// <summary>Where the protected region of a connection starts, and how its release must behave.</summary>
internal sealed class Region
{
    public Region(BlockSyntax block, int start, StatementSyntax acquiring, ReleaseNeeds needs, bool opened, bool lifted)
    {
        Block = block;
        Start = start;
        Acquiring = acquiring;
        Needs = needs;
        Opened = opened;
        Lifted = lifted;
    }

    /// <summary>The block whose statements from <see cref="Start"/> on use the connection.</summary>
    public BlockSyntax Block { get; }

    /// <summary>The index of the first statement to protect.</summary>
    public int Start { get; }

    /// <summary>The statement of <see cref="Block"/> that acquires, or that holds the acquisition when lifted.</summary>
    public StatementSyntax Acquiring { get; }

    public ReleaseNeeds Needs { get; set; }

    /// <summary>The connection was opened (<c>conn.Open()</c>) rather than returned by a call.</summary>
    public bool Opened { get; }

    /// <summary>The acquisition sits in a branch or loop of <see cref="Acquiring"/>, and the connection is used after it.</summary>
    public bool Lifted { get; }

    /// <summary>
    /// Acquired as the last statement of a <c>try</c> block and of each of its <c>catch</c> blocks that can end (a fallback:
    /// <c>try { conn = primary.GetConnection(); } catch (...) { conn = backup.GetConnection(); }</c>): the region starts
    /// after that <c>try</c>, which holds no other use of the local.
    /// </summary>
    public bool AfterFallback { get; set; }

    /// <summary>Acquired in each iteration of the loop around the block and released once after the loop: that release goes.</summary>
    public bool ReleasedAfterLoop { get; set; }

    /// <summary>
    /// Opened in a loop only when closed (<c>if (conn.State != ConnectionState.Open) conn.Open();</c>), the loop being or
    /// inside this statement: a release inside it (<c>if (done &gt; 100) conn.Close();</c>) is the code's choice to let
    /// the connection go between iterations, and stays; the next iteration opens it again.
    /// </summary>
    public StatementSyntax? ReopenedIn { get; set; }

    /// <summary>
    /// The first statement a <c>catch</c> protects: right after a returned acquisition, at an <c>Open</c> (which can fail
    /// itself), or at the statement that holds a lifted acquisition.
    /// </summary>
    public Region ForFailure() =>
        Opened && !Lifted ? new Region(Block, Start - 1, Acquiring, Needs, Opened, Lifted) : this;
}

/// <summary>
/// Finds the region a connection lives in. In a loop that opens it again, each iteration closes its own (and the final
/// release stays); opened only when closed, the whole loop is its life; acquired in a branch and used after it, its
/// life is the statement that holds the branch. A value that crosses iterations (a retry that acquires again) or is
/// used after the loop that acquires it has no region the fix can protect.
/// </summary>
internal static class Lifetime
{
    public static Region? Find(ReleaseChooser chooser, StatementSyntax acquiring, ILocalSymbol local, bool opened)
    {
        var model = chooser.Model;
        var function = chooser.Context.Node;
        if (acquiring.Parent is not BlockSyntax block)
        {
            return null;
        }

        var declaration = local.DeclaringSyntaxReferences.FirstOrDefault()?.GetSyntax();
        var loop = acquiring.Ancestors().TakeWhile(a => a != function)
            .FirstOrDefault(a => IsLoop(a) && (declaration is null || !a.Span.Contains(declaration.Span)));
        if (loop is not null)
        {
            if (opened && IsStateGuarded(model, acquiring, loop, local))
            {
                var reopened = Lift(chooser, acquiring, (StatementSyntax)loop, local, opened);
                if (reopened is not null)
                {
                    reopened.ReopenedIn = reopened.Acquiring;
                }

                return reopened;
            }

            var crosses = Statements.Uses(model, loop, local).Any(use => !block.Span.Contains(use.Span) || use.SpanStart < acquiring.SpanStart);
            if (crosses)
            {
                return null;
            }

            var index = block.Statements.IndexOf(acquiring);
            if (opened)
            {
                return new Region(block, index + 1, acquiring, ReleaseNeeds.Reopenable, opened, lifted: false);
            }

            return UsedAfter(chooser, (StatementSyntax)loop, local)
                ? null
                : new Region(block, index + 1, acquiring, ReleaseNeeds.None, opened, lifted: false) { ReleasedAfterLoop = block.Parent == loop };
        }

        return Lift(chooser, acquiring, acquiring, local, opened);
    }

    /// <summary>Climbs out of branches while the local is used after the statement that holds the acquisition.</summary>
    private static Region? Lift(ReleaseChooser chooser, StatementSyntax acquiring, StatementSyntax from, ILocalSymbol local, bool opened)
    {
        var model = chooser.Model;
        var function = chooser.Context.Node;
        var current = from;
        while (true)
        {
            if (current.Parent is not BlockSyntax block)
            {
                return null;
            }

            var later = Statements.Uses(model, function, local).Where(use => use.SpanStart >= current.Span.End);
            if (later.All(use => block.Span.Contains(use.Span)))
            {
                var lifted = current != acquiring;
                var needs = ReleaseNeeds.None;
                if (lifted && local.DeclaringSyntaxReferences.FirstOrDefault()?.GetSyntax() is VariableDeclaratorSyntax declarator)
                {
                    if (declarator.Initializer is null && declarator.SpanStart < current.SpanStart && !opened
                        && current is TryStatementSyntax fallback && later.Any() && IsFallback(chooser, fallback, acquiring, local))
                    {
                        // Every way out of the try that goes on holds a fresh connection in the local.
                        return new Region(block, block.Statements.IndexOf(current) + 1, current, needs, opened, lifted) { AfterFallback = true };
                    }

                    if (declarator.Initializer is null || declarator.SpanStart > current.SpanStart)
                    {
                        // Not assigned on every path into the region: a finally could not read it.
                        return null;
                    }

                    if (!opened || declarator.Initializer.Value.IsKind(SyntaxKind.NullLiteralExpression) || declarator.Initializer.Value.IsKind(SyntaxKind.DefaultLiteralExpression))
                    {
                        needs |= ReleaseNeeds.MayBeNull;
                    }
                }

                var index = block.Statements.IndexOf(current);
                return new Region(block, lifted ? index : index + 1, current, needs, opened, lifted);
            }

            var outer = block.Ancestors().TakeWhile(a => a != function).OfType<StatementSyntax>().FirstOrDefault(s => s.Parent is BlockSyntax);
            // Out of a loop too: only an open that tests the state climbs from a loop, and the connection it keeps open
            // from one iteration to the next lives through every loop around it that it is declared outside of. No
            // function stands between: the context is the innermost one around the acquisition.
            if (outer is null)
            {
                return null;
            }

            current = outer;
        }
    }

    /// <summary>
    /// Does every block of the <c>try</c> (its own and each <c>catch</c>'s) either end by giving the local a fresh
    /// connection as the reported call does, or never end normally (it throws or returns), with the local named nowhere
    /// else in the <c>try</c>, its filters included, and no <c>finally</c>? Then the statement after the <c>try</c> is
    /// reached only with a connection to release, and nothing in the <c>try</c> can fail while one is held.
    /// </summary>
    private static bool IsFallback(ReleaseChooser chooser, TryStatementSyntax attempt, StatementSyntax acquiring, ILocalSymbol local)
    {
        var model = chooser.Model;
        if (attempt.Finally is not null || attempt.Catches.Count == 0
            || acquiring is not ExpressionStatementSyntax { Expression: AssignmentExpressionSyntax { Right: { } reportedValue } }
            || Statements.AcquisitionIn(reportedValue) is not { } reported)
        {
            return false;
        }

        var assignments = new List<StatementSyntax>();
        AcquisitionRules? rules = null;
        foreach (var block in attempt.Catches.Select(c => c.Block).Prepend(attempt.Block))
        {
            var last = block.Statements.LastOrDefault();
            if (last is ExpressionStatementSyntax { Expression: AssignmentExpressionSyntax { RawKind: (int)SyntaxKind.SimpleAssignmentExpression, Right: { } value } }
                && Statements.IsAssignmentTo(model, last, local)
                && Statements.AcquisitionIn(value) is { } call && LeakFixPlanner.AcquiresAsReported(model, reported, call, ref rules))
            {
                assignments.Add(last);
                continue;
            }

            if (block.Statements.Count > 0 && model.AnalyzeControlFlow(block.Statements[0], block.Statements[block.Statements.Count - 1]) is { Succeeded: true, EndPointIsReachable: false })
            {
                continue;
            }

            return false;
        }

        // The local is named only on the left of those assignments (not in their calls, a filter or anywhere else).
        return assignments.Contains(acquiring)
               && Statements.Uses(model, attempt, local).All(use => assignments.Any(a => a is ExpressionStatementSyntax { Expression: AssignmentExpressionSyntax { Left: var left } } && left == use));
    }

    /// <summary>Is the open under an <c>if</c> that tests the connection's state (<c>if (conn.State != ConnectionState.Open)</c>)?</summary>
    private static bool IsStateGuarded(SemanticModel model, StatementSyntax acquiring, SyntaxNode loop, ILocalSymbol local) =>
        acquiring.Ancestors().TakeWhile(a => a != loop).OfType<IfStatementSyntax>().Any(ifStatement =>
            Statements.Uses(model, ifStatement.Condition, local).Any(use => use.Parent is MemberAccessExpressionSyntax { Name.Identifier.ValueText: "State" }));

    /// <summary>Is the local used after the loop, other than to release it?</summary>
    private static bool UsedAfter(ReleaseChooser chooser, StatementSyntax loop, ILocalSymbol local)
    {
        var model = chooser.Model;
        var releases = chooser.FindReleases(local, loop.Parent is BlockSyntax outer ? outer.Statements.SkipWhile(s => s != loop).Skip(1) : Enumerable.Empty<StatementSyntax>())
            .Select(Statements.RemovalUnit)
            .ToList();
        return Statements.Uses(model, chooser.Context.Node, local)
            .Where(use => use.SpanStart >= loop.Span.End)
            .Any(use => !releases.Any(r => r.Span.Contains(use.Span)));
    }

    private static bool IsLoop(SyntaxNode node) => node is CommonForEachStatementSyntax or ForStatementSyntax or WhileStatementSyntax or DoStatementSyntax;
}
