using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Formatting;
using static Microsoft.CodeAnalysis.CSharp.SyntaxFactory;

namespace TenantDbGuard.CodeFixes.ConnectionLeak;

/// <summary>
/// <c>try { ...; return x; } catch { x.Dispose(); throw; }</c>: for a connection that leaves the method, released
/// only when something fails before it has left. The protected part ends where ownership leaves: at the
/// <c>return</c>, or before the statement that stores it or hands it to a <c>using</c>; never across a
/// <c>yield return</c> (a try with a catch cannot hold one).
/// </summary>
internal static class DisposeOnFailureFix
{
    public static void Add(ReleaseChooser chooser, Region region, ILocalSymbol local, Ownership ownership, ImmutableArray<LeakFix>.Builder fixes)
    {
        var model = chooser.Model;
        var block = region.Block;
        var start = region.Start;
        var candidates = block.Statements.Skip(start)
            .TakeWhile(s => s != ownership.HandOff)
            .TakeWhile(s => !s.DescendantNodesAndSelf(n => !FunctionContext.IsFunction(n)).Any(n => n is YieldStatementSyntax))
            .ToList();

        // Without a hand-off point the connection leaves by return: the whole rest is protected. Before a store, only
        // the statements up to the last one that uses the connection need it.
        var statements = ownership.HandOff is null
            ? candidates
            : candidates.Take(candidates.FindLastIndex(s => Statements.References(model, s, local)) + 1).ToList();
        // A return that does not hand the connection over (an early 'return null') releases it first.
        var otherReturns = statements
            .SelectMany(s => s.DescendantNodesAndSelf(n => !FunctionContext.IsFunction(n)))
            .OfType<ReturnStatementSyntax>()
            .Where(r => !ownership.HandOffReturns.Contains(r) && (r.Expression is null || !Statements.References(model, r.Expression, local)))
            .ToList();
        if (otherReturns.Count == 0 && !statements.Any(s => (s != region.Acquiring || region.Lifted) && s.DescendantNodesAndSelf().Any(MayFail)))
        {
            // Nothing can fail, and nothing returns, between the acquisition and the point where the connection leaves.
            return;
        }

        // What the try declares and the code after it names (the hand-off, the return) is declared before the try; what
        // cannot be (an out or pattern variable, a local function) leaves the code as it is.
        if (Statements.Hoisted(model, statements, block.Statements.Skip(start + statements.Count).ToList()) is not { } hoisted)
        {
            return;
        }

        var releases = chooser.FindReleases(local, statements).Where(r => r.Ancestors().Any(a => a is CatchClauseSyntax)).ToList();
        var release = chooser.Choose(local, releases, region.Acquiring, region.Needs | ReleaseNeeds.GiveUp);
        if (release is null)
        {
            return;
        }

        // Those the code released the connection before need nothing more; one that a release of the code reaches on
        // some paths only would release twice on those: no fix.
        var ownReleases = chooser.FindReleases(local, statements).Except(releases).ToList();
        otherReturns.RemoveAll(r => ownReleases.Any(own => Statements.RunsBefore(own, r)));
        if (otherReturns.Any(r => ownReleases.Any(own => Statements.MayReach(own, r)))
            || ownReleases.Any(own => Statements.RunsAfter(own).Any(s => s is ThrowStatementSyntax || s.DescendantNodesAndSelf(n => !FunctionContext.IsFunction(n)).Any(n => n is ThrowExpressionSyntax || Statements.RunsCode(n)))))
        {
            // A failure after the code's own release (a throw, a call) would reach the new catch and release again.
            return;
        }

        var newTry = new SyntaxAnnotation();
        fixes.Add(LeakFix.DisposeOnFailure(root =>
        {
            var currentBlock = Statements.Find(root, block);
            var body = new List<StatementSyntax>();
            foreach (var protectedStatement in statements)
            {
                var statement = protectedStatement is LocalDeclarationStatementSyntax declaration && hoisted.ContainsKey(declaration) ? Statements.AssignInstead(declaration) : protectedStatement;
                var returns = otherReturns.Where(r => protectedStatement.Span.Contains(r.Span)).ToList();
                var rewritten = returns.Count == 0 ? statement : Statements.Flatten(statement.ReplaceNodes(returns, (original, _) => Statements.ReleaseBefore(original, release)));

                // The releases that only ran on failure (in a catch) are now the new catch's job.
                var catchReleases = rewritten.DescendantNodesAndSelf()
                    .OfType<StatementSyntax>()
                    .Where(e => e.Ancestors().Any(a => a is CatchClauseSyntax) && releases.Any(r => r.IsEquivalentTo(e)))
                    .ToList();
                if (Statements.RemoveReleases(rewritten, catchReleases, model: model) is { } kept)
                {
                    // A try whose only catch did nothing but release and rethrow is left with no handler: its statements stay.
                    body.AddRange(Statements.WithoutBareTry(kept));
                }
            }

            var tryStatement = TryStatement(Statements.MovedInto(body, statements), SingletonList(CatchClause().WithBlock(Block(release, ThrowStatement()))), null)
                .WithAdditionalAnnotations(Formatter.Annotation, newTry);
            var list = block.Statements.Take(start).ToList();
            list.AddRange(Statements.Declarations(model, hoisted.Values, region.Acquiring.SpanStart).Select(d => d.WithAdditionalAnnotations(Formatter.Annotation)));
            list.Add(tryStatement);
            list.AddRange(block.Statements.Skip(start + statements.Count));
            return Statements.WithBlankLineAfter(root.ReplaceNode(currentBlock, block.WithStatements(List(list)).WithAdditionalAnnotations(Formatter.Annotation)), newTry);
        }));
    }

    /// <summary>
    /// An expression the analysis takes as one that can throw with the connection held: one that runs code, an element
    /// access, checked arithmetic or conversion, a <c>throw</c>.
    /// </summary>
    private static bool MayFail(SyntaxNode node) =>
        Statements.RunsCode(node)
        || node is ElementAccessExpressionSyntax or CheckedExpressionSyntax { RawKind: (int)SyntaxKind.CheckedExpression } or CheckedStatementSyntax { RawKind: (int)SyntaxKind.CheckedStatement }
            or ThrowStatementSyntax or ThrowExpressionSyntax;
}
