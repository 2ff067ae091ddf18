using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Formatting;
using static Microsoft.CodeAnalysis.CSharp.SyntaxFactory;

namespace TenantDbGuard.CodeFixes.ConnectionLeak;

/// <summary>What the fixes ask of the statements around an acquisition: who uses the local, where its uses end, how a release is removed.</summary>
internal static class Statements
{
    private static readonly SyntaxAnnotation UnwrapMarker = new("TenantDbGuard.Unwrap");

    /// <summary>
    /// Does the node use the local: by name, or by calling a local function that uses it (the call is where the
    /// connection is needed)?
    /// </summary>
    public static bool References(SemanticModel model, SyntaxNode node, ILocalSymbol local) =>
        node.DescendantNodesAndSelf().OfType<IdentifierNameSyntax>().Any(id => Is(model, id, local) || CallsFunctionUsing(model, id, local));

    public static bool Is(SemanticModel model, IdentifierNameSyntax identifier, ILocalSymbol local) =>
        identifier.Identifier.ValueText == local.Name && SymbolEqualityComparer.Default.Equals(model.GetSymbolInfo(identifier).Symbol, local);

    /// <summary>The identifiers in the node that name the local (lambdas and local functions included).</summary>
    public static IEnumerable<IdentifierNameSyntax> Uses(SemanticModel model, SyntaxNode node, ILocalSymbol local) =>
        node.DescendantNodesAndSelf().OfType<IdentifierNameSyntax>().Where(id => Is(model, id, local));

    /// <summary><c>x = ...;</c> as a statement of its own.</summary>
    public static bool IsAssignmentTo(SemanticModel model, StatementSyntax statement, ILocalSymbol local) =>
        statement is ExpressionStatementSyntax { Expression: AssignmentExpressionSyntax { Left: IdentifierNameSyntax target } }
        && Is(model, target, local);

    /// <summary>Is the local assigned, incremented or passed by <c>ref</c>/<c>out</c> anywhere in the statements?</summary>
    public static bool IsWritten(SemanticModel model, ILocalSymbol local, IEnumerable<SyntaxNode> statements) =>
        statements.SelectMany(s => s.DescendantNodesAndSelf()).Any(node => node switch
        {
            AssignmentExpressionSyntax assignment => assignment.Left is IdentifierNameSyntax id && Is(model, id, local),
            ArgumentSyntax { RefKindKeyword.RawKind: not 0, Expression: IdentifierNameSyntax id } => Is(model, id, local),
            PrefixUnaryExpressionSyntax { RawKind: (int)SyntaxKind.PreIncrementExpression or (int)SyntaxKind.PreDecrementExpression, Operand: IdentifierNameSyntax id } => Is(model, id, local),
            PostfixUnaryExpressionSyntax { Operand: IdentifierNameSyntax id } => Is(model, id, local),
            _ => false,
        });

    /// <summary>
    /// The index of the last statement from <paramref name="start"/> on that uses the local, or that declares a local
    /// used later (a command, a reader made from the connection must stay covered).
    /// </summary>
    public static int LastStatementUsing(SemanticModel model, BlockSyntax block, int start, ILocalSymbol local)
    {
        var statements = block.Statements;
        var end = start - 1;
        for (var i = start; i < statements.Count; i++)
        {
            // A local function's declaration is not a use; a call of it is.
            if (statements[i] is not LocalFunctionStatementSyntax && References(model, statements[i], local))
            {
                end = i;
            }
        }

        var changed = true;
        while (changed)
        {
            changed = false;
            var declared = statements.Skip(start).Take(end - start + 1)
                .OfType<LocalDeclarationStatementSyntax>()
                .SelectMany(d => d.Declaration.Variables)
                .Select(v => model.GetDeclaredSymbol(v))
                .OfType<ILocalSymbol>()
                .ToList();
            for (var i = end + 1; i < statements.Count; i++)
            {
                if (declared.Any(d => References(model, statements[i], d)))
                {
                    end = i;
                    changed = true;
                }
            }
        }

        return end;
    }

    /// <summary>The statements after <paramref name="declaration"/> up to the last one that uses a local it declares.</summary>
    public static List<StatementSyntax> UsingDeclaredLocals(SemanticModel model, BlockSyntax block, LocalDeclarationStatementSyntax declaration)
    {
        var declared = declaration.Declaration.Variables.Select(v => model.GetDeclaredSymbol(v)).OfType<ILocalSymbol>().ToList();
        var start = block.Statements.IndexOf(declaration) + 1;
        var end = start - 1;
        for (var i = start; i < block.Statements.Count; i++)
        {
            if (declared.Any(local => References(model, block.Statements[i], local)))
            {
                end = i;
            }
        }

        return block.Statements.Skip(start).Take(end - start + 1).ToList();
    }

    /// <summary>The statement of <paramref name="block"/> that holds <paramref name="node"/>.</summary>
    public static StatementSyntax TopLevel(SyntaxNode node, BlockSyntax block) =>
        node.AncestorsAndSelf().OfType<StatementSyntax>().First(s => s.Parent == block);

    /// <summary>The acquisition with what completes it: <c>await</c>, <c>ConfigureAwait</c>, parentheses, casts.</summary>
    public static ExpressionSyntax OutermostValue(ExpressionSyntax acquisition)
    {
        var current = acquisition;
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

    /// <summary>Does the expression only run under a condition, or more than once, within <paramref name="container"/>?</summary>
    public static bool IsConditionallyEvaluated(SyntaxNode expression, SyntaxNode container)
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

    /// <summary>Removes the given release statements from a node; an <c>if</c> left with nothing to do goes too.</summary>
    /// <returns>The node without them, or <c>null</c> when the node itself was one of them.</returns>
    public static TNode? RemoveReleases<TNode>(TNode node, IReadOnlyCollection<StatementSyntax> releases, StatementSyntax? moved = null)
        where TNode : SyntaxNode
    {
        var removable = releases
            .Where(release => node.Span.Contains(release.Span) && node.DescendantNodesAndSelf().Contains(release))
            .Select(RemovalUnit)
            .ToList();
        if (removable.Count == 0)
        {
            return node;
        }

        if (removable.Contains(node))
        {
            return null;
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

    /// <summary>The release with the <c>if</c> that only guards it (<c>if (x != null) x.Release();</c>).</summary>
    public static SyntaxNode RemovalUnit(StatementSyntax statement)
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

    public static bool HasCommentsOrDirectives(SyntaxTriviaList trivia) =>
        trivia.Any(t => t.IsKind(SyntaxKind.SingleLineCommentTrivia) || t.IsKind(SyntaxKind.MultiLineCommentTrivia) || t.IsDirective);

    /// <summary>A name for a new local that nothing in scope uses yet: <c>connection</c>, <c>connection2</c>, ...</summary>
    public static string UniqueName(SemanticModel model, int position, string baseName)
    {
        var name = baseName;
        for (var i = 2; model.LookupSymbols(position, name: name).Length > 0; i++)
        {
            name = baseName + i;
        }

        return name;
    }

    /// <summary><c>var x = value;</c> becomes <c>x = value;</c> (its declaration moved before the try).</summary>
    public static StatementSyntax AssignInstead(LocalDeclarationStatementSyntax declaration)
    {
        var variable = declaration.Declaration.Variables[0];
        return ExpressionStatement(AssignmentExpression(SyntaxKind.SimpleAssignmentExpression, IdentifierName(variable.Identifier.ValueText), variable.Initializer!.Value.WithoutTrivia()))
            .WithTriviaFrom(declaration);
    }

    /// <summary><c>return x;</c> becomes <c>{ release; return x; }</c>, or the release goes before it in its block.</summary>
    public static StatementSyntax ReleaseBefore(ReturnStatementSyntax returnStatement, StatementSyntax release)
    {
        var released = release.WithoutLeadingTrivia().WithAdditionalAnnotations(Formatter.Annotation);
        return returnStatement.Parent is BlockSyntax
            ? Block(released, returnStatement.WithoutLeadingTrivia()).WithLeadingTrivia(returnStatement.GetLeadingTrivia()).WithAdditionalAnnotations(UnwrapMarker, Formatter.Annotation)
            : Block(released, returnStatement.WithoutTrivia()).WithTriviaFrom(returnStatement).WithAdditionalAnnotations(Formatter.Annotation);
    }

    /// <summary>Splices the blocks <see cref="ReleaseBefore"/> marked into the block around them.</summary>
    public static TNode Flatten<TNode>(TNode node)
        where TNode : SyntaxNode => (TNode)new BlockFlattener().Visit(node)!;

    /// <summary>The node in <paramref name="root"/> at the span <paramref name="original"/> had when the fix was planned.</summary>
    public static TNode Find<TNode>(SyntaxNode root, TNode original)
        where TNode : SyntaxNode =>
        root.FindNode(original.Span, getInnermostNodeForTie: true).FirstAncestorOrSelf<TNode>(n => n.Span == original.Span && n.RawKind == original.RawKind)!;

    private static bool CallsFunctionUsing(SemanticModel model, IdentifierNameSyntax identifier, ILocalSymbol local) =>
        identifier.Parent is InvocationExpressionSyntax invocation && invocation.Expression == identifier
        && model.GetSymbolInfo(identifier).Symbol is IMethodSymbol { MethodKind: MethodKind.LocalFunction } function
        && function.DeclaringSyntaxReferences.FirstOrDefault()?.GetSyntax() is LocalFunctionStatementSyntax declaration
        && Uses(model, declaration, local).Any();

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
}
