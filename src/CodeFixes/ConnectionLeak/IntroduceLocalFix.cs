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
/// A connection used inside a larger expression and never stored (<c>pool.GetConnection().Execute(..)</c>) gets a
/// local that is released: before the statement, or, in an expression body (a lambda, a method, a property), in the
/// block body the expression becomes. Not offered where the expression runs only under a condition or repeatedly
/// (hoisting it would take a connection every time), nor after other work of the statement (a call in an earlier
/// argument, a receiver built by a call: hoisting it would take the connection before that work runs).
/// </summary>
internal static class IntroduceLocalFix
{
    private const string BaseName = "connection";

    /// <summary>The value is part of a statement.</summary>
    public static void AddForStatement(ReleaseChooser chooser, StatementSyntax statement, ExpressionSyntax value, ITypeSymbol type, ImmutableArray<LeakFix>.Builder fixes)
    {
        var model = chooser.Model;
        if (statement is BlockSyntax or LocalFunctionStatementSyntax || Statements.IsConditionallyEvaluated(value, statement)
            || EvaluationOrder.WorkRunsBefore(model, value, statement, type))
        {
            return;
        }

        var name = Statements.UniqueName(model, statement.SpanStart, BaseName);
        // The statement keeps its indentation and starts a line of its own: the formatter then moves the lines it
        // continues on (a call split over several lines) by as much as its first line.
        var leading = statement.GetLeadingTrivia();
        var indentation = leading.Count > 0 && leading[leading.Count - 1].IsKind(SyntaxKind.WhitespaceTrivia) ? TriviaList(leading[leading.Count - 1]) : TriviaList();
        var lineEnd = Statements.FirstLineEnd(new[] { statement }) ?? ElasticCarriageReturnLineFeed;
        var rewrittenStatement = statement.ReplaceNode(value, IdentifierName(name).WithTriviaFrom(value)).WithLeadingTrivia(indentation);
        var usingKind = UsingInstead(chooser, type, statement);
        List<StatementSyntax> replacement;
        var followers = new List<StatementSyntax>();
        LeakFix Fix(System.Func<SyntaxNode, SyntaxNode> apply) => usingKind == UsingKind.None ? LeakFix.ReleaseInFinally(apply) : LeakFix.UseUsing(usingKind == UsingKind.Async, apply);
        if (usingKind != UsingKind.None && statement.Parent is BlockSyntax)
        {
            replacement = new List<StatementSyntax> { Declaration(name, value, usingKind).WithTrailingTrivia(lineEnd), rewrittenStatement };
        }
        else
        {
            usingKind = UsingKind.None;
            if (chooser.ChooseFor(type, IdentifierName(name), statement, ReleaseNeeds.None) is not { } release)
            {
                return;
            }

            // What the statement declares (locals, out and pattern variables) stays in reach: the try covers its uses too.
            followers = statement.Parent is BlockSyntax block
                ? Statements.UsingDeclaredLocals(model, block, statement)
                : new List<StatementSyntax>();
            var tryBody = new List<StatementSyntax> { rewrittenStatement };
            tryBody.AddRange(followers);
            replacement = new List<StatementSyntax> { Declaration(name, value, UsingKind.None), TryStatement(Statements.MovedInto(tryBody, new[] { statement }), default, FinallyClause(Block(release))) };
        }

        replacement[0] = replacement[0].WithLeadingTrivia(statement.GetLeadingTrivia());
        if (!statement.GetLeadingTrivia().Any(SyntaxKind.EndOfLineTrivia)
            && !statement.GetFirstToken().GetPreviousToken().TrailingTrivia.Any(SyntaxKind.EndOfLineTrivia))
        {
            // It shared its line with the statement or the token before it ('{ Log.Info("a"); pool.GetConnection().Execute(sql); }'):
            // the new declaration starts a line of its own (in a new block, when the statement was the body of an 'if',
            // the formatter lays that out anyway).
            replacement[0] = replacement[0].WithLeadingTrivia(replacement[0].GetLeadingTrivia().Insert(0, Statements.DocumentLineEnd(statement)));
        }
        fixes.Add(Fix(root =>
        {
            var current = Statements.Find(root, statement);
            var annotated = replacement.Select(s => s.WithAdditionalAnnotations(Formatter.Annotation)).ToList();
            if (statement.Parent is not BlockSyntax)
            {
                return root.ReplaceNode(current, Block(annotated).WithAdditionalAnnotations(Formatter.Annotation));
            }

            if (followers.Count == 0)
            {
                if (current.Parent is BlockSyntax oneLine && oneLine.GetLocation().GetLineSpan() is var lines && lines.StartLinePosition.Line == lines.EndLinePosition.Line)
                {
                    // A block written on one line: laid out again as a whole, as it no longer fits one.
                    var statements = oneLine.Statements.ToList();
                    var at = statements.IndexOf(current);
                    statements.RemoveAt(at);
                    statements.InsertRange(at, annotated);
                    var lineEnd = Statements.DocumentLineEnd(oneLine);
                    if (!statements[0].GetLeadingTrivia().Any(SyntaxKind.EndOfLineTrivia))
                    {
                        statements[0] = statements[0].WithLeadingTrivia(statements[0].GetLeadingTrivia().Insert(0, lineEnd));
                    }

                    if (!statements[statements.Count - 1].GetTrailingTrivia().Any(SyntaxKind.EndOfLineTrivia))
                    {
                        statements[statements.Count - 1] = statements[statements.Count - 1].WithTrailingTrivia(statements[statements.Count - 1].GetTrailingTrivia().Add(lineEnd));
                    }

                    return root.ReplaceNode(oneLine, oneLine.WithStatements(List(statements)).WithAdditionalAnnotations(Formatter.Annotation));
                }

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

    /// <summary>The value is part of an expression body: of a lambda, or of a method, property, accessor or local function.</summary>
    public static void AddForExpressionBody(ReleaseChooser chooser, SyntaxNode owner, ExpressionSyntax body, ExpressionSyntax value, ITypeSymbol type, ImmutableArray<LeakFix>.Builder fixes)
    {
        var model = chooser.Model;
        if (Statements.IsConditionallyEvaluated(value, body) || EvaluationOrder.WorkRunsBefore(model, value, body, type))
        {
            return;
        }

        var returnsNothing = FunctionContext.ReturnsNothing(model, owner);
        if (body == value && returnsNothing)
        {
            // A discarded result: release it right there.
            if (ReleaseDiscardedFix.Released(chooser, value, type, body) is not { } released)
            {
                return;
            }

            if (released is ExpressionStatementSyntax { Expression: var call } && owner is AnonymousFunctionExpressionSyntax)
            {
                fixes.Add(LeakFix.ReleaseDiscarded(root => root.ReplaceNode(Statements.Find(root, value), call.WithTriviaFrom(value))));
                return;
            }

            fixes.Add(LeakFix.ReleaseDiscarded(root => WithBlockBody(root, owner, Block(released))));
            return;
        }

        var name = Statements.UniqueName(model, body.SpanStart, BaseName);
        var rewritten = body.ReplaceNode(value, IdentifierName(name).WithTriviaFrom(value)).WithoutTrivia();
        StatementSyntax work = returnsNothing ? ExpressionStatement(rewritten) : ReturnStatement(rewritten);
        var usingKind = UsingInstead(chooser, type, body);
        if (usingKind != UsingKind.None)
        {
            fixes.Add(LeakFix.UseUsing(usingKind == UsingKind.Async, root => WithBlockBody(root, owner, Block(Declaration(name, value, usingKind), work))));
            return;
        }

        if (chooser.ChooseFor(type, IdentifierName(name), body, ReleaseNeeds.None) is not { } release)
        {
            return;
        }

        var block = Block(Declaration(name, value, UsingKind.None), TryStatement(Block(work), default, FinallyClause(Block(release))));
        fixes.Add(LeakFix.ReleaseInFinally(root => WithBlockBody(root, owner, block)));
    }

    /// <summary>
    /// A <c>using</c> declaration when the type's release is a dispose and the language version has one; a type with its
    /// own release call gets a <c>finally</c>.
    /// </summary>
    private static UsingKind UsingInstead(ReleaseChooser chooser, ITypeSymbol type, SyntaxNode position)
    {
        var disposes = ReleaseChooser.IsDispose(chooser.ChooseFor(type, IdentifierName(BaseName), position, ReleaseNeeds.None));
        return disposes && chooser.HasUsingDeclarations ? chooser.UsingToWrite(type, position) : UsingKind.None;
    }

    private static LocalDeclarationStatementSyntax Declaration(string name, ExpressionSyntax value, UsingKind usingKind)
    {
        // The whole initializer needs no parentheses: '(await pool.GetConnectionAsync()).Execute(...)' keeps the await.
        while (value is ParenthesizedExpressionSyntax parenthesized)
        {
            value = parenthesized.Expression;
        }

        var declaration = LocalDeclarationStatement(
            VariableDeclaration(IdentifierName("var"), SingletonSeparatedList(VariableDeclarator(name).WithInitializer(EqualsValueClause(value.WithoutTrivia())))));
        return usingKind switch
        {
            UsingKind.Async => declaration.WithAwaitKeyword(Token(SyntaxKind.AwaitKeyword)).WithUsingKeyword(Token(SyntaxKind.UsingKeyword)),
            UsingKind.Sync => declaration.WithUsingKeyword(Token(SyntaxKind.UsingKeyword)),
            _ => declaration,
        };
    }

    /// <summary>Replaces the expression body of the owner (as it is in <paramref name="root"/>) with <paramref name="block"/>.</summary>
    private static SyntaxNode WithBlockBody(SyntaxNode root, SyntaxNode owner, BlockSyntax block)
    {
        var current = Statements.Find(root, owner);

        // A new block has no line breaks yet, and the formatter keeps single-line blocks as they are. The line ends are
        // the file's once LineEnds.FormatAsync has laid out what the fix wrote.
        var annotated = block.NormalizeWhitespace("    ", "\n").WithAdditionalAnnotations(Formatter.Annotation);
        SyntaxNode replacement = current switch
        {
            ParenthesizedLambdaExpressionSyntax parenthesized => parenthesized.WithExpressionBody(null).WithBlock(annotated),
            SimpleLambdaExpressionSyntax simple => simple.WithExpressionBody(null).WithBlock(annotated),
            AnonymousMethodExpressionSyntax anonymous => anonymous.WithBlock(annotated),
            BaseMethodDeclarationSyntax method => method.WithExpressionBody(null).WithSemicolonToken(default).WithBody(annotated).WithTrailingTrivia(method.GetTrailingTrivia()),
            LocalFunctionStatementSyntax local => local.WithExpressionBody(null).WithSemicolonToken(default).WithBody(annotated).WithTrailingTrivia(local.GetTrailingTrivia()),
            AccessorDeclarationSyntax accessor => accessor.WithExpressionBody(null).WithSemicolonToken(default).WithBody(annotated).WithTrailingTrivia(accessor.GetTrailingTrivia()),
            PropertyDeclarationSyntax property => property
                .WithExpressionBody(null)
                .WithSemicolonToken(default)
                .WithAccessorList(AccessorList(SingletonList(AccessorDeclaration(SyntaxKind.GetAccessorDeclaration, annotated))))
                .WithTrailingTrivia(property.GetTrailingTrivia()),
            _ => current,
        };
        return root.ReplaceNode(current, replacement.WithAdditionalAnnotations(Formatter.Annotation));
    }
}
