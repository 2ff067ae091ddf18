using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Formatting;
using static Microsoft.CodeAnalysis.CSharp.SyntaxFactory;

namespace TenantDbGuard.CodeFixes.ConnectionLeak;

/// <summary><c>using var x = ...;</c> (<c>await using</c> in async code): the compiler writes the <c>finally</c>.</summary>
internal static class UsingDeclarationFix
{
    /// <summary>
    /// Offered when the local is disposable, declared in the block that holds all its uses, never written again, and
    /// not released early with work after it (a <c>using</c> would then hold the connection longer).
    /// </summary>
    public static void Add(ReleaseChooser chooser, LocalDeclarationStatementSyntax declaration, ILocalSymbol local, ImmutableArray<LeakFix>.Builder fixes)
    {
        if (!chooser.HasUsingDeclarations || declaration.Parent is not BlockSyntax block || !declaration.UsingKeyword.IsKind(SyntaxKind.None) || declaration.IsConst
            || declaration.Declaration.Variables.Count != 1)
        {
            return;
        }

        var kind = chooser.UsingToWrite(local.Type, declaration);
        if (kind == UsingKind.None)
        {
            return;
        }

        var model = chooser.Model;
        var index = block.Statements.IndexOf(declaration);
        var after = block.Statements.Skip(index + 1).ToList();
        if (after.Any(s => s.DescendantNodesAndSelf().Any(n => n is GotoStatementSyntax or LabeledStatementSyntax))
            || Statements.IsWritten(model, local, after))
        {
            return;
        }

        // Releases that a using makes redundant: at the end of the block, or in a catch/finally of this block; not one
        // after which the connection is used again (opened again: the using would keep it open in between).
        var releases = chooser.FindReleases(local, after);

        // A using calls Dispose: it takes the place of the code's own release only when that is a dispose or a close, and
        // stands for the type's release only when that is one (a lease given back with Release() or a configured name
        // keeps its release, in a finally).
        if (releases.Any(r => chooser.Releases(r, local, out var name, out _) && name is not ("Dispose" or "DisposeAsync" or "Close" or "CloseAsync"))
            || (releases.Count == 0 && !ReleaseChooser.IsDispose(chooser.ChooseFor(local.Type, IdentifierName(local.Name), declaration, ReleaseNeeds.None))))
        {
            return;
        }

        foreach (var release in releases)
        {
            if (DirectiveGroups.OpensBetween(declaration, release) || AuthorTrivia.HasDocumentationComment(Statements.RemovalUnit(release)))
            {
                // A release in an #if group is the author's choice of builds: the using would dispose in every build, also
                // in one whose code keeps the connection instead. A '///' comment at the release would lose its line.
                return;
            }

            var top = Statements.TopLevel(release, block);
            if (!release.Ancestors().TakeWhile(a => a != block).Any(a => a is CatchClauseSyntax)
                && after.SkipWhile(s => s != top).Skip(1).Any(s => s is not LocalFunctionStatementSyntax && Statements.References(model, s, local)))
            {
                return;
            }

            var inHandler = release.Ancestors().TakeWhile(a => a != block).Any(a => a is CatchClauseSyntax or FinallyClauseSyntax);
            // Code a directive disables after the release runs before the using's dispose in the builds that define it.
            var rest = after.SkipWhile(s => s != top).Skip(1).ToList();
            var atEnd = top == Statements.RemovalUnit(release)
                        && rest.All(s => s is ReturnStatementSyntax or ThrowStatementSyntax
                            or LocalFunctionStatementSyntax)
                        && !rest.Any(s => AuthorTrivia.HidesCode(s.GetLeadingTrivia()))
                        && !AuthorTrivia.HidesCode(block.CloseBraceToken.LeadingTrivia);
            if ((!inHandler && !atEnd) || ReleaseInFinallyFix.WorkFollows(chooser, release, after, releases, throughRegion: true))
            {
                // Released early, or with work after it on its path (a catch that releases, then logs or waits): the
                // using would hold the connection longer.
                return;
            }
        }

        fixes.Add(LeakFix.UseUsing(kind == UsingKind.Async, root =>
        {
            var current = Statements.Find(root, block);
            var rewritten = Statements.RemoveReleases(block, releases, model: model)!;
            var newDeclaration = rewritten.Statements[index] is LocalDeclarationStatementSyntax d ? d : declaration;
            var usingDeclaration = newDeclaration
                .WithoutLeadingTrivia()
                .WithUsingKeyword(Token(SyntaxKind.UsingKeyword).WithTrailingTrivia(Space));
            if (kind == UsingKind.Async)
            {
                usingDeclaration = usingDeclaration.WithAwaitKeyword(Token(SyntaxKind.AwaitKeyword).WithTrailingTrivia(Space));
            }

            usingDeclaration = usingDeclaration.WithLeadingTrivia(newDeclaration.GetLeadingTrivia());
            rewritten = rewritten.WithStatements(rewritten.Statements.Replace(rewritten.Statements[index], usingDeclaration));

            // Only what the fix wrote is formatted (the declaration, statements a removed release's 'try' no longer
            // wraps): the statements it left as they were keep their layout (aligned assignments, say).
            var unchanged = new HashSet<string>(current.Statements.Select(s => s.ToFullString()));
            var formatted = rewritten.Statements.Select(s => unchanged.Contains(s.ToFullString()) ? s : s.WithAdditionalAnnotations(Formatter.Annotation));
            return root.ReplaceNode(current, rewritten.WithStatements(List(formatted)));
        }));
    }
}
