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
    private static readonly SyntaxAnnotation UnwrapMarker = new();

    /// <summary>A block a removed release left empty (see <see cref="Collapse"/>).</summary>
    private static readonly SyntaxAnnotation EmptiedMarker = new();

    private static readonly SymbolDisplayFormat DeclaredTypeFormat = SymbolDisplayFormat.MinimallyQualifiedFormat
        .AddMiscellaneousOptions(SymbolDisplayMiscellaneousOptions.IncludeNullableReferenceTypeModifier);

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

    /// <summary>
    /// Is the local assigned, incremented or passed by <c>ref</c>/<c>out</c> anywhere in the statements? A <c>x!</c> only
    /// reads it.
    /// </summary>
    public static bool IsWritten(SemanticModel model, ILocalSymbol local, IEnumerable<SyntaxNode> statements) =>
        statements.SelectMany(s => s.DescendantNodesAndSelf()).Any(node => node switch
        {
            AssignmentExpressionSyntax assignment => assignment.Left is IdentifierNameSyntax id && Is(model, id, local),
            ArgumentSyntax { RefKindKeyword.RawKind: not 0, Expression: IdentifierNameSyntax id } => Is(model, id, local),
            PrefixUnaryExpressionSyntax { RawKind: (int)SyntaxKind.PreIncrementExpression or (int)SyntaxKind.PreDecrementExpression, Operand: IdentifierNameSyntax id } => Is(model, id, local),
            PostfixUnaryExpressionSyntax { RawKind: (int)SyntaxKind.PostIncrementExpression or (int)SyntaxKind.PostDecrementExpression, Operand: IdentifierNameSyntax id } => Is(model, id, local),
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

        return ThroughUsesOfDeclared(model, block, start, end);
    }

    /// <summary>
    /// The index of the last statement of <paramref name="block"/> that names something declared in the statements
    /// from <paramref name="start"/> to <paramref name="end"/>, or in a statement this takes in (at least
    /// <paramref name="end"/>): where a block that moves those statements out of the block's scope has to end.
    /// </summary>
    public static int ThroughUsesOfDeclared(SemanticModel model, BlockSyntax block, int start, int end) =>
        ThroughUsesOfDeclared(model, block.Statements, start, end);

    /// <summary>
    /// <see cref="ThroughUsesOfDeclared(SemanticModel, BlockSyntax, int, int)"/> over a list of statements that share a
    /// scope without a block (top-level statements).
    /// </summary>
    public static int ThroughUsesOfDeclared(
        SemanticModel model, IReadOnlyList<StatementSyntax> statements, int start, int end)
    {
        var declared = new HashSet<ISymbol>(SymbolEqualityComparer.Default);
        var scanned = start;
        while (scanned <= end)
        {
            declared.UnionWith(Declared(model, statements.Skip(scanned).Take(end - scanned + 1)));
            scanned = end + 1;
            for (var i = end + 1; i < statements.Count; i++)
            {
                if (ReferencesAny(model, statements[i], declared))
                {
                    end = i;
                }
            }
        }

        return end;
    }

    /// <summary>
    /// What <paramref name="statements"/> declare that later statements of their block can name: the locals of
    /// declarations and deconstructions, <c>out</c> and pattern variables, local functions, labels. Names of the scopes
    /// nested in them come too; nothing outside a scope can name them, so they never count as used later.
    /// </summary>
    public static List<ISymbol> Declared(SemanticModel model, IEnumerable<StatementSyntax> statements) =>
        statements
            .SelectMany(s => s.DescendantNodesAndSelf())
            .Select(node => node is VariableDeclaratorSyntax or SingleVariableDesignationSyntax or LocalFunctionStatementSyntax or LabeledStatementSyntax
                ? model.GetDeclaredSymbol(node)
                : null)
            .OfType<ISymbol>()
            .ToList();

    /// <summary>Does the node name one of <paramref name="symbols"/> (a local, a local function, a label)?</summary>
    public static bool ReferencesAny(SemanticModel model, SyntaxNode node, IReadOnlyCollection<ISymbol> symbols)
    {
        if (symbols.Count == 0)
        {
            return false;
        }

        var names = new HashSet<string>(symbols.Select(s => s.Name));
        return node.DescendantNodesAndSelf()
            .OfType<IdentifierNameSyntax>()
            .Any(id => names.Contains(id.Identifier.ValueText)
                       && model.GetSymbolInfo(id).Symbol is { } symbol
                       && symbols.Contains(symbol.OriginalDefinition, SymbolEqualityComparer.Default));
    }

    /// <summary>
    /// The statements after <paramref name="statement"/> up to the last one that names something it declares (or
    /// something declared by a statement in between): a block around them keeps those names in reach.
    /// </summary>
    public static List<StatementSyntax> UsingDeclaredLocals(SemanticModel model, BlockSyntax block, StatementSyntax statement)
    {
        var index = block.Statements.IndexOf(statement);
        var end = ThroughUsesOfDeclared(model, block, index, index);
        return block.Statements.Skip(index + 1).Take(end - index).ToList();
    }

    /// <summary>
    /// The locals declared in <paramref name="statements"/> (moving into a new block, a try) that <paramref name="after"/>
    /// reads: each is declared before the block and assigned in it (see <see cref="Declarations"/>, <see cref="AssignInstead"/>). Null when something the try declares and later code names cannot be
    /// (several in one declaration, no initializer, a using declaration, a constant, a ref local, a type that cannot be named, a
    /// span or other ref struct, a deconstruction, an <c>out</c> or pattern variable, a local function, a label).
    /// </summary>
    public static Dictionary<LocalDeclarationStatementSyntax, ILocalSymbol>? Hoisted(SemanticModel model, List<StatementSyntax> statements, List<StatementSyntax> after)
    {
        var hoisted = new Dictionary<LocalDeclarationStatementSyntax, ILocalSymbol>();
        foreach (var symbol in Declared(model, statements))
        {
            if (!after.Any(a => ReferencesAny(model, a, new[] { symbol })))
            {
                continue;
            }

            if (symbol is not ILocalSymbol { IsRef: false, IsConst: false } local
                || CannotBeNamed(local.Type)
                || local.Type.IsRefLikeType
                || local.DeclaringSyntaxReferences[0].GetSyntax() is not VariableDeclaratorSyntax { Initializer: not null, Parent: VariableDeclarationSyntax { Variables.Count: 1, Parent: LocalDeclarationStatementSyntax declaration } }
                || !statements.Contains(declaration)
                || !declaration.UsingKeyword.IsKind(SyntaxKind.None)
                || declaration.Modifiers.Count > 0
                || declaration.Declaration.Type is RefTypeSyntax)
            {
                return null;
            }

            hoisted.Add(declaration, local);
        }

        return hoisted;
    }

    /// <summary>
    /// A type no declaration can name: an anonymous type or a lambda's own delegate type, also as a type argument, a
    /// tuple's element or an array's element (<c>List&lt;'a&gt;</c> of a query's <c>select new { ... }</c>).
    /// </summary>
    private static bool CannotBeNamed(ITypeSymbol type) => type switch
    {
        IErrorTypeSymbol => true,
        { IsAnonymousType: true } => true,
        IArrayTypeSymbol array => CannotBeNamed(array.ElementType),
        IPointerTypeSymbol pointer => CannotBeNamed(pointer.PointedAtType),
        INamedTypeSymbol named => !named.CanBeReferencedByName
                                  || named.TypeArguments.Any(CannotBeNamed)
                                  || (named.ContainingType is { } outer && CannotBeNamed(outer)),
        _ => false,
    };

    /// <summary><c>T x;</c> for each local, its type written as it reads at <paramref name="position"/>.</summary>
    public static IEnumerable<StatementSyntax> Declarations(SemanticModel model, IEnumerable<ILocalSymbol> locals, int position) =>
        locals.Select(local => (StatementSyntax)LocalDeclarationStatement(VariableDeclaration(
            ParseTypeName(local.Type.ToMinimalDisplayString(model, position, DeclaredTypeFormat)),
            SingletonSeparatedList(VariableDeclarator(local.Name)))));

    /// <summary>
    /// Does <paramref name="earlier"/> run on every path to <paramref name="later"/>: is it a statement before
    /// <paramref name="later"/> (or before a statement that holds it) in the same block or switch section?
    /// </summary>
    public static bool RunsBefore(StatementSyntax earlier, SyntaxNode later)
    {
        for (var node = later; node.Parent is { } parent && !FunctionContext.IsFunction(node); node = parent)
        {
            if (node is StatementSyntax statement && Siblings(parent) is { } siblings && siblings.IndexOf(earlier) is var index and >= 0 && index < siblings.IndexOf(statement))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Can control go from <paramref name="from"/> on to <paramref name="to"/> (at least on some path)? Conservative:
    /// true unless a <c>return</c> or <c>throw</c> after <paramref name="from"/> ends every way there, or
    /// <paramref name="to"/> is in another branch of an <c>if</c> or <c>switch</c>, or comes first outside any loop and
    /// any <c>finally</c> that holds <paramref name="from"/>.
    /// </summary>
    public static bool MayReach(StatementSyntax from, SyntaxNode to)
    {
        var enclosing = from.Ancestors().TakeWhile(a => !FunctionContext.IsFunction(a)).ToList();
        if (enclosing.Any(a => a is ForStatementSyntax or CommonForEachStatementSyntax or WhileStatementSyntax or DoStatementSyntax && a.Span.Contains(to.Span))
            || enclosing.LastOrDefault() is { } body && body.DescendantNodes(n => !FunctionContext.IsFunction(n)).Any(n => n is GotoStatementSyntax))
        {
            // A loop (or a goto) can bring control back to a statement written before.
            return true;
        }

        if (enclosing.Any(a => a is FinallyClauseSyntax { Parent: { } tryStatement } && tryStatement.Span.Contains(to.Span)))
        {
            // A finally runs after every return of its try and catches.
            return true;
        }

        if (from.SpanStart > to.SpanStart)
        {
            return false;
        }

        for (SyntaxNode node = from; node.Parent is { } parent && !FunctionContext.IsFunction(node); node = parent)
        {
            var siblings = Siblings(parent);
            if (parent.Span.Contains(to.Span))
            {
                if (siblings is null)
                {
                    // Another branch of an if or a switch cannot follow; a catch or finally can follow its try.
                    return parent is TryStatementSyntax;
                }

                var target = siblings.FirstOrDefault(s => s.Span.Contains(to.Span));
                return !siblings.SkipWhile(s => s != node).Skip(1).TakeWhile(s => s != target).Any(IsExit);
            }

            if (siblings is not null && siblings.SkipWhile(s => s != node).Skip(1).Any(IsExit))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// The statements that can run right after <paramref name="statement"/> in its function, up to the <c>return</c> or
    /// <c>throw</c> that ends the way out (inclusive): the later ones of its block, then of each enclosing block it
    /// falls through to.
    /// </summary>
    public static List<StatementSyntax> RunsAfter(StatementSyntax statement)
    {
        var after = new List<StatementSyntax>();
        for (SyntaxNode node = statement; node.Parent is { } parent && !FunctionContext.IsFunction(node); node = parent)
        {
            if (Siblings(parent) is not { } siblings)
            {
                continue;
            }

            foreach (var next in siblings.SkipWhile(s => s != node).Skip(1))
            {
                after.Add(next);
                if (IsExit(next))
                {
                    return after;
                }
            }
        }

        return after;
    }

    private static List<StatementSyntax>? Siblings(SyntaxNode parent) => parent switch
    {
        BlockSyntax block => block.Statements.ToList(),
        SwitchSectionSyntax section => section.Statements.ToList(),
        _ => null,
    };

    private static bool IsExit(StatementSyntax statement) =>
        statement is ReturnStatementSyntax or ThrowStatementSyntax or YieldStatementSyntax { RawKind: (int)SyntaxKind.YieldBreakStatement };

    /// <summary>The statement of <paramref name="block"/> that holds <paramref name="node"/>.</summary>
    public static StatementSyntax TopLevel(SyntaxNode node, BlockSyntax block) =>
        node.AncestorsAndSelf().OfType<StatementSyntax>().First(s => s.Parent == block);

    /// <summary>
    /// The acquisition with what completes it: <c>await</c>, <c>ConfigureAwait</c>, parentheses, casts; with
    /// <paramref name="throughChoices"/>, also <c>!</c>, <c>as</c>, <c>??</c>, <c>?:</c> and switch arms, which pass
    /// the value on (to find out where it goes).
    /// </summary>
    public static ExpressionSyntax OutermostValue(ExpressionSyntax acquisition, bool throughChoices = false)
    {
        var current = acquisition;
        while (true)
        {
            switch (current.Parent)
            {
                case AwaitExpressionSyntax or ParenthesizedExpressionSyntax or CastExpressionSyntax:
                case PostfixUnaryExpressionSyntax { RawKind: (int)SyntaxKind.SuppressNullableWarningExpression } when throughChoices:
                case BinaryExpressionSyntax { RawKind: (int)SyntaxKind.AsExpression or (int)SyntaxKind.CoalesceExpression } when throughChoices:
                case ConditionalExpressionSyntax conditional when throughChoices && conditional.Condition != current:
                    current = (ExpressionSyntax)current.Parent;
                    continue;
                case SwitchExpressionArmSyntax { Parent: SwitchExpressionSyntax switchExpression } when throughChoices:
                    current = switchExpression;
                    continue;
                case MemberAccessExpressionSyntax { Name.Identifier.ValueText: "ConfigureAwait", Parent: InvocationExpressionSyntax configureAwait } access when access.Expression == current:
                    current = configureAwait;
                    continue;
                default:
                    return current;
            }
        }
    }

    /// <summary>
    /// The call whose value <paramref name="expression"/> is, through <c>await</c>, parentheses, casts and
    /// <c>ConfigureAwait</c> (what <see cref="OutermostValue"/> climbs), or <c>null</c> when it is not a call's value. The
    /// expression may itself sit inside such a wrapper (a parenthesised branch of a <c>?:</c>).
    /// </summary>
    public static InvocationExpressionSyntax? AcquisitionIn(ExpressionSyntax expression)
    {
        var current = expression;
        while (true)
        {
            switch (current)
            {
                case AwaitExpressionSyntax awaited:
                    current = awaited.Expression;
                    continue;
                case ParenthesizedExpressionSyntax parenthesized:
                    current = parenthesized.Expression;
                    continue;
                case CastExpressionSyntax cast:
                    current = cast.Expression;
                    continue;
                case InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax { Name.Identifier.ValueText: "ConfigureAwait", Expression: { } configured } }:
                    current = configured;
                    continue;
                case InvocationExpressionSyntax call:
                    return call;
                default:
                    return null;
            }
        }
    }

    /// <summary>
    /// Does the expression only run under a condition, more than once, or later (a clause of a query expression, which
    /// runs for each element when the query is enumerated), within <paramref name="container"/>?
    /// </summary>
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
                WhileStatementSyntax or DoStatementSyntax or ForStatementSyntax or QueryBodySyntax => true,
                _ => false,
            };
            if (conditional)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Removes the given release statements from a node. An <c>if</c> left with nothing to do goes too, and so do a
    /// <c>catch</c> left with nothing but <c>throw;</c> and a <c>finally</c> left with nothing at all (a <c>try</c> left
    /// with nothing to handle gives its statements to the block around it, or stays as a block where that would change
    /// which names are in scope or when a <c>using</c> declaration ends).
    /// </summary>
    /// <returns>The node without them, or <c>null</c> when the node itself was one of them.</returns>
    public static TNode? RemoveReleases<TNode>(TNode node, IReadOnlyCollection<StatementSyntax> releases, StatementSyntax? moved = null, SemanticModel? model = null)
        where TNode : SyntaxNode
    {
        var units = releases
            .Where(release => release.AncestorsAndSelf().Contains(node))
            .Select(RemovalUnit)
            .ToList();
        if (units.Count == 0)
        {
            return node;
        }

        if (units.Contains(node))
        {
            return null;
        }

        var unwrapped = new List<TryStatementSyntax>();
        var types = new CatchTypes(model, releases.Where(r => r.SyntaxTree == model?.SyntaxTree).Select(r => (int?)r.SpanStart).FirstOrDefault());
        var removable = units.Select(unit => EmptiedHandler(unit, node, unwrapped, types) ?? unit).ToList();

        // Drop the statement with its line; keep a comment or directive that stood above it or after it on its
        // line, unless the statement moves (with its comments) into the finally.
        var result = node.TrackNodes(removable.Concat(unwrapped));
        foreach (var unit in removable)
        {
            var moves = moved is not null
                && unit.DescendantNodesAndSelf().OfType<StatementSyntax>().Any(n =>
                    n.IsEquivalentTo(moved, topLevel: false)
                    && (SameComments(n.GetLeadingTrivia(), moved.GetLeadingTrivia())
                        || SameComments(n.GetTrailingTrivia(), moved.GetTrailingTrivia())));
            if (result.GetCurrentNode(unit) is { } current)
            {
                var commented = AuthorTrivia.HasCommentsOrDirectives(unit.GetLeadingTrivia())
                                || AuthorTrivia.HasCommentsOrDirectives(unit.GetTrailingTrivia());
                result = Remove(result, current, keepComments: !moves && commented);
            }
        }

        foreach (var tryStatement in unwrapped)
        {
            if (result.GetCurrentNode(tryStatement) is { Catches.Count: 0, Finally: null } current)
            {
                result = result.ReplaceNode(current, Unwrapped(current));
            }
        }

        if (result is StatementSyntax statement && typeof(TNode).IsAssignableFrom(typeof(ExpressionStatementSyntax))
            && result.GetAnnotatedNodes(EmptiedMarker).OfType<BlockSyntax>().FirstOrDefault(b => b == result || b.Parent == result) is { } emptied)
        {
            // The statement itself is left with nothing to do (a block, an if): settle it as it would be in its block.
            var holder = Block(statement);
            holder = Collapse(holder, holder.GetAnnotatedNodes(EmptiedMarker).OfType<BlockSyntax>().First(b => b.IsEquivalentTo(emptied) && (b.Parent == holder || b.Parent?.Parent == holder)));
            return holder.Statements.Count == 0 ? null : (TNode)(SyntaxNode)holder.Statements[0];
        }

        return result;
    }

    /// <summary>
    /// Do two trivia lists hold the same comments and directives, at least one? A release that moves into the finally
    /// takes its comments with it; another release written the same way keeps its own.
    /// </summary>
    private static bool SameComments(SyntaxTriviaList trivia, SyntaxTriviaList moved)
    {
        static IEnumerable<string> Comments(SyntaxTriviaList list) =>
            list.Where(t => AuthorTrivia.IsComment(t) || t.IsDirective).Select(t => t.ToString().Trim());
        return AuthorTrivia.HasCommentsOrDirectives(moved) && Comments(trivia).SequenceEqual(Comments(moved));
    }

    /// <summary>
    /// Removes a statement (or a clause) from <paramref name="root"/>, and then what that leaves with nothing to do
    /// (see <see cref="Collapse"/>). A statement of a block or switch section goes with its line, as <see cref="Kept"/>
    /// says; one that is the body of an <c>if</c>, a loop or a label cannot go, and an empty block takes its place.
    /// With <paramref name="keepComments"/>, a comment or directive above it stays, above what follows.
    /// </summary>
    public static TRoot Remove<TRoot>(TRoot root, SyntaxNode node, bool keepComments)
        where TRoot : SyntaxNode
    {
        var emptied = new SyntaxAnnotation();
        var marks = new[] { emptied, EmptiedMarker };
        switch (node)
        {
            case StatementSyntax { Parent: BlockSyntax block } statement:
            {
                var list = Kept(block.Statements.Select(s => (s, s == statement ? null : s)), keepComments, out var left);
                var closeBrace = block.CloseBraceToken.WithLeadingTrivia(left.AddRange(block.CloseBraceToken.LeadingTrivia));
                root = root.ReplaceNode(block, block.WithStatements(List(list)).WithCloseBraceToken(closeBrace).WithAdditionalAnnotations(marks));
                break;
            }

            case StatementSyntax { Parent: SwitchSectionSyntax section } statement:
            {
                var list = Kept(section.Statements.Select(s => (s, s == statement ? null : s)), keepComments, out var left);
                if (left.Count > 0)
                {
                    return root.RemoveNode(node, SyntaxRemoveOptions.KeepLeadingTrivia | SyntaxRemoveOptions.KeepDirectives)!;
                }

                return root.ReplaceNode(section, section.WithStatements(List(list)));
            }

            case StatementSyntax { Parent: not GlobalStatementSyntax } embedded:
                root = root.ReplaceNode(embedded, Block().WithTriviaFrom(embedded).WithAdditionalAnnotations(marks));
                break;
            default:
                return root.RemoveNode(node, keepComments ? SyntaxRemoveOptions.KeepLeadingTrivia | SyntaxRemoveOptions.KeepDirectives : SyntaxRemoveOptions.KeepNoTrivia)!;
        }

        return root.GetAnnotatedNodes(emptied).FirstOrDefault() is BlockSyntax block1 ? Collapse(root, block1) : root;
    }

    /// <summary>
    /// A block a removal left empty, with what holds it: a block of its own goes; an <c>if</c> with nothing to do goes
    /// when its condition only reads, becomes its condition as a statement when that does work (<c>Audited();</c>,
    /// <c>_ = n++ &gt; 0;</c>), and stays when the condition declares a variable (its scope would change); an <c>if</c>
    /// with an <c>else</c> becomes the <c>else</c> under the opposite condition (which still runs once); an empty
    /// <c>else</c> goes. Anything else (a loop, a <c>lock</c>, a <c>using</c>, a <c>catch</c>) stays: it does
    /// something even with an empty body. A block with a comment or directive inside stays.
    /// </summary>
    private static TRoot Collapse<TRoot>(TRoot root, BlockSyntax empty)
        where TRoot : SyntaxNode
    {
        if (empty.Statements.Count > 0 || AuthorTrivia.HasCommentsOrDirectives(TriviaList(empty.DescendantTrivia())) || empty.Parent is null
            || (empty.Parent is IfStatementSyntax or ElseClauseSyntax && empty.Parent.Parent is null))
        {
            // What holds it is the node being rewritten: RemoveReleases settles it.
            return root;
        }

        switch (empty.Parent)
        {
            case BlockSyntax or SwitchSectionSyntax:
                return Remove(root, empty, keepComments: AuthorTrivia.HasCommentsOrDirectives(empty.GetLeadingTrivia()));
            case ElseClauseSyntax elseClause:
                return root.RemoveNode(elseClause, SyntaxRemoveOptions.KeepNoTrivia)!;
            case IfStatementSyntax ifStatement when ifStatement.Statement == empty:
                if (Declares(ifStatement.Condition))
                {
                    return root;
                }

                if (ifStatement.Else is { } otherwise)
                {
                    var body = otherwise.Statement is IfStatementSyntax elseIf ? Block(elseIf.WithoutTrivia()) : otherwise.Statement.WithoutTrivia();
                    var opposite = ifStatement.WithCondition(Negated(ifStatement.Condition)).WithStatement(body).WithElse(null)
                        .WithTriviaFrom(ifStatement).WithAdditionalAnnotations(Formatter.Annotation);
                    return root.ReplaceNode(ifStatement, opposite);
                }

                if (IsPure(ifStatement.Condition))
                {
                    return Remove(root, ifStatement, keepComments: AuthorTrivia.HasCommentsOrDirectives(ifStatement.GetLeadingTrivia()));
                }

                StatementSyntax evaluated = ExpressionStatement(IsStatementExpression(ifStatement.Condition)
                    ? ifStatement.Condition.WithoutTrivia()
                    : AssignmentExpression(SyntaxKind.SimpleAssignmentExpression, IdentifierName("_"), ifStatement.Condition.WithoutTrivia()));
                evaluated = ifStatement.Parent is BlockSyntax or SwitchSectionSyntax ? evaluated : Block(evaluated);
                return root.ReplaceNode(ifStatement, evaluated.WithTriviaFrom(ifStatement).WithAdditionalAnnotations(Formatter.Annotation));
            default:
                return root;
        }
    }

    /// <summary>Does the condition declare a variable (<c>out var x</c>, <c>is T t</c>) outside its lambdas?</summary>
    private static bool Declares(ExpressionSyntax condition) =>
        condition.DescendantNodesAndSelf(n => !FunctionContext.IsFunction(n))
            .Any(n => n is DeclarationExpressionSyntax or SingleVariableDesignationSyntax);

    /// <summary>
    /// Can the condition stand as a statement of its own? Otherwise it is kept as <c>_ = condition;</c> (an increment of a
    /// type that converts to <c>bool</c> is kept so too, which compiles as well).
    /// </summary>
    private static bool IsStatementExpression(ExpressionSyntax condition) =>
        condition is InvocationExpressionSyntax or AwaitExpressionSyntax or AssignmentExpressionSyntax or BaseObjectCreationExpressionSyntax;

    private static readonly SyntaxAnnotation WrittenNotPattern = new();

    /// <summary>
    /// The root with each <c>x is not null</c> that <see cref="Negated"/> wrote as <c>!(x is null)</c>: the same test
    /// for a project whose language version (before C# 9) has no <c>not</c> pattern.
    /// </summary>
    public static SyntaxNode WithoutWrittenNotPatterns(SyntaxNode root) =>
        root.ReplaceNodes(root.GetAnnotatedNodes(WrittenNotPattern).OfType<IsPatternExpressionSyntax>(), (_, current) =>
            current.Pattern is UnaryPatternSyntax { Pattern: var inner }
                ? PrefixUnaryExpression(
                        SyntaxKind.LogicalNotExpression,
                        ParenthesizedExpression(current.WithPattern(inner).WithoutTrivia())).WithTriviaFrom(current)
                : current);

    /// <summary>
    /// The opposite condition, evaluated as the condition was: <c>!x</c> becomes <c>x</c>, <c>==</c> and <c>!=</c> swap,
    /// <c>is null</c> becomes <c>is not null</c>; anything else gets a <c>!</c> (in parentheses where it needs them). A
    /// comparison (<c>&lt;</c>, <c>&gt;=</c>) is not turned around: with a NaN both are false.
    /// </summary>
    public static ExpressionSyntax Negated(ExpressionSyntax condition)
    {
        var bare = condition.WithoutTrivia();
        switch (bare)
        {
            case PrefixUnaryExpressionSyntax { RawKind: (int)SyntaxKind.LogicalNotExpression } not:
                return not.Operand is ParenthesizedExpressionSyntax inner ? inner.Expression : not.Operand;
            case BinaryExpressionSyntax { RawKind: (int)SyntaxKind.EqualsExpression } equals:
                return BinaryExpression(SyntaxKind.NotEqualsExpression, equals.Left, Token(equals.OperatorToken.LeadingTrivia, SyntaxKind.ExclamationEqualsToken, equals.OperatorToken.TrailingTrivia), equals.Right);
            case BinaryExpressionSyntax { RawKind: (int)SyntaxKind.NotEqualsExpression } notEquals:
                return BinaryExpression(SyntaxKind.EqualsExpression, notEquals.Left, Token(notEquals.OperatorToken.LeadingTrivia, SyntaxKind.EqualsEqualsToken, notEquals.OperatorToken.TrailingTrivia), notEquals.Right);
            case IsPatternExpressionSyntax { Pattern: UnaryPatternSyntax { RawKind: (int)SyntaxKind.NotPattern } notPattern } isNot:
                return isNot.WithPattern(notPattern.Pattern is ParenthesizedPatternSyntax parenthesized ? parenthesized.Pattern : notPattern.Pattern);
            case IsPatternExpressionSyntax { Pattern: ConstantPatternSyntax or TypePatternSyntax } isPattern:
                var opposite = UnaryPattern(Token(SyntaxKind.NotKeyword).WithTrailingTrivia(Space), isPattern.Pattern);
                return isPattern.WithPattern(opposite).WithAdditionalAnnotations(WrittenNotPattern);
            case IdentifierNameSyntax or MemberAccessExpressionSyntax or InvocationExpressionSyntax or ElementAccessExpressionSyntax or ParenthesizedExpressionSyntax or LiteralExpressionSyntax:
                return PrefixUnaryExpression(SyntaxKind.LogicalNotExpression, bare);
            default:
                return PrefixUnaryExpression(SyntaxKind.LogicalNotExpression, ParenthesizedExpression(bare));
        }
    }

    /// <summary>
    /// What a <c>try</c> left with no handler becomes inside its block: its statements; or its own block when one of
    /// them is a <c>using</c> declaration and statements follow the <c>try</c> (they would run before that declaration
    /// ends), when a name it declares is declared elsewhere in the block too, or when a comment or directive on its
    /// braces would be lost with them.
    /// </summary>
    private static IEnumerable<StatementSyntax> Unwrapped(TryStatementSyntax bare)
    {
        var statements = bare.Block.Statements;
        var outer = bare.Parent as BlockSyntax;
        var others = outer?.Statements.Where(s => s != bare).ToList() ?? new List<StatementSyntax>();
        var last = outer is null || outer.Statements.Last() == bare;
        var scoped = !last && statements.Any(s => s is LocalDeclarationStatementSyntax { UsingKeyword.RawKind: (int)SyntaxKind.UsingKeyword });
        var clash = ScopedNames(bare).Intersect(others.SelectMany(s => s.DescendantTokens()).Where(Declares).Select(t => t.ValueText)).Any();
        return statements.Count == 0 || scoped || clash || HasOwnComments(bare) ? new StatementSyntax[] { AsBlock(bare) } : MovedOut(bare, statements);
    }

    /// <summary>
    /// The names the try's statements declare in its block's own scope (not in a block nested in it): what they would
    /// bring into the block around it.
    /// </summary>
    private static IEnumerable<string> ScopedNames(TryStatementSyntax bare) =>
        bare.Block.Statements.SelectMany(s => s.DescendantTokens())
            .Where(t => Declares(t) && t.Parent!.Ancestors().OfType<BlockSyntax>().First() == bare.Block)
            .Select(t => t.ValueText);

    /// <summary>
    /// Does a comment or directive sit on the try's own tokens (after <c>try</c>, around its block's braces), where it
    /// would go with them if the statements moved out? One above <c>try</c> moves with the first statement.
    /// </summary>
    private static bool HasOwnComments(TryStatementSyntax bare) =>
        AuthorTrivia.HasCommentsOrDirectives(bare.TryKeyword.TrailingTrivia)
        || new[] { bare.Block.OpenBraceToken, bare.Block.CloseBraceToken }.Any(brace => AuthorTrivia.HasCommentsOrDirectives(brace.LeadingTrivia) || AuthorTrivia.HasCommentsOrDirectives(brace.TrailingTrivia));

    /// <summary>A try left with no handler as a block in its place, with the comments around <c>try</c> and its braces.</summary>
    private static BlockSyntax AsBlock(TryStatementSyntax bare)
    {
        var beforeBrace = bare.TryKeyword.TrailingTrivia.AddRange(bare.Block.OpenBraceToken.LeadingTrivia);
        var leading = AuthorTrivia.HasCommentsOrDirectives(beforeBrace) ? bare.GetLeadingTrivia().AddRange(beforeBrace) : bare.GetLeadingTrivia();
        return bare.Block.WithLeadingTrivia(leading).WithTrailingTrivia(bare.GetTrailingTrivia());
    }

    /// <summary>
    /// A try's statements in its place: the first takes the try's leading trivia and keeps its own comments after it.
    /// </summary>
    private static IEnumerable<StatementSyntax> MovedOut(TryStatementSyntax bare, SyntaxList<StatementSyntax> statements) =>
        statements.Select((s, i) => i == 0
            ? s.WithLeadingTrivia(bare.GetLeadingTrivia().AddRange(s.GetLeadingTrivia().SkipWhile(t => t.IsKind(SyntaxKind.WhitespaceTrivia))))
            : s);

    /// <summary>
    /// The handler to remove instead of <paramref name="unit"/> when the release is all it does: a <c>catch</c> that
    /// then only rethrows (<c>throw;</c>), or a <c>finally</c> with nothing else in it. Its try is unwrapped when that
    /// leaves it with no handler and its block's locals clash with nothing.
    /// </summary>
    private static SyntaxNode? EmptiedHandler(SyntaxNode unit, SyntaxNode node, List<TryStatementSyntax> unwrapped, CatchTypes types)
    {
        TryStatementSyntax tryStatement;
        SyntaxNode clause;
        int othersLeft;
        if (unit.Parent is BlockSyntax { Statements.Count: 2, Parent: CatchClauseSyntax { Parent: TryStatementSyntax catchTry } catchClause } catchBlock
            && catchBlock.Statements[0] == unit
            && catchBlock.Statements[1] is ThrowStatementSyntax { Expression: null }
            && (catchClause.Filter is null || IsPure(catchClause.Filter.FilterExpression))
            && !catchTry.Catches.SkipWhile(c => c != catchClause).Skip(1).Any(later => types.Overlap(catchClause, later)))
        {
            // A catch that only rethrows is dead unless its filter does work, or it keeps what it catches from a later
            // catch that would take it (one of a base type, a derived one, or any type it cannot tell).
            (tryStatement, clause, othersLeft) = (catchTry, catchClause, catchTry.Catches.Count - 1 + (catchTry.Finally is null ? 0 : 1));
        }
        else if (unit.Parent is BlockSyntax { Statements.Count: 1, Parent: FinallyClauseSyntax { Parent: TryStatementSyntax finallyTry } finallyClause })
        {
            (tryStatement, clause, othersLeft) = (finallyTry, finallyClause, finallyTry.Catches.Count);
        }
        else
        {
            return null;
        }

        if (AuthorTrivia.HasCommentsOrDirectives(TriviaList(clause.DescendantTrivia())))
        {
            // A comment anywhere in the handler (after its brace, above the release) stays, and the handler with it.
            return null;
        }

        if (othersLeft > 0 || tryStatement == node)
        {
            // Another handler stays; or the try is the node itself, which its caller unwraps (WithoutBareTry).
            return clause;
        }

        // The only handler: the try has nothing left to do, and its statements move out of it (or its block stays).
        if (tryStatement.Parent is not BlockSyntax)
        {
            return null;
        }

        unwrapped.Add(tryStatement);
        return clause;
    }

    /// <summary>
    /// A statement that <see cref="RemoveReleases"/> left as a <c>try</c> with no handler (its only <c>catch</c> did nothing
    /// but release and rethrow, or its <c>finally</c> nothing but release): its statements, or its block when they
    /// declare locals or a comment sits on its braces; any other statement as it is.
    /// </summary>
    public static IEnumerable<StatementSyntax> WithoutBareTry(StatementSyntax statement)
    {
        if (statement is not TryStatementSyntax { Catches.Count: 0, Finally: null } bare)
        {
            return new[] { statement };
        }

        var inner = bare.Block.Statements;
        return inner.Count == 0 || ScopedNames(bare).Any() || HasOwnComments(bare)
            ? new StatementSyntax[] { AsBlock(bare) }
            : MovedOut(bare, inner);
    }

    /// <summary>
    /// The statements that stay, in order, when some are removed: one that sat right under a removed statement
    /// loses the blank line above it, so that the removal leaves no gap; one that now follows a closing brace starts
    /// after a blank line, as hand-written code does (StyleCop's SA1513, an error where warnings are). Directives above
    /// a removed statement (an <c>#if ... #endif</c> group that ends there) stay in their place, above the next
    /// statement that stays.
    /// </summary>
    public static List<StatementSyntax> Kept(IEnumerable<(StatementSyntax Original, StatementSyntax? Kept)> statements) => Kept(statements, keepComments: false, out _);

    /// <summary>
    /// <see cref="Kept(IEnumerable{ValueTuple{StatementSyntax, StatementSyntax}})"/>; with <paramref name="keepComments"/>,
    /// the comments above a removed statement stay too, and one after it on its line takes a line of its own. What
    /// stood above removed statements at the end, with nothing after them to take it, is <paramref name="left"/>.
    /// </summary>
    public static List<StatementSyntax> Kept(IEnumerable<(StatementSyntax Original, StatementSyntax? Kept)> statements, bool keepComments, out SyntaxTriviaList left)
    {
        var kept = new List<StatementSyntax>();

        // Since the last statement kept: nothing removed (null), or whether the first removed one sat right under it.
        bool? removedTight = null;
        SyntaxTrivia? lineEnd = null;
        var directives = SyntaxTriviaList.Empty;
        foreach (var (original, statement) in statements)
        {
            if (statement is null)
            {
                if (removedTight is null)
                {
                    removedTight = !StartsWithBlankLine(original);
                    lineEnd = original.GetLeadingTrivia().Concat(original.GetTrailingTrivia()).Cast<SyntaxTrivia?>().FirstOrDefault(t => t!.Value.IsKind(SyntaxKind.EndOfLineTrivia));
                }

                var above = original.GetLeadingTrivia().Any(t => t.IsDirective)
                            || (keepComments && AuthorTrivia.HasCommentsOrDirectives(original.GetLeadingTrivia()));
                if (above)
                {
                    directives = directives.AddRange(original.GetLeadingTrivia());
                }

                if (keepComments && AuthorTrivia.HasCommentsOrDirectives(original.GetTrailingTrivia()))
                {
                    // A comment after it on its line gets a line of its own, at its indentation.
                    var indentation = above
                        ? Enumerable.Empty<SyntaxTrivia>()
                        : original.GetLeadingTrivia().Reverse().TakeWhile(t => t.IsKind(SyntaxKind.WhitespaceTrivia));
                    directives = directives.AddRange(indentation)
                        .AddRange(original.GetTrailingTrivia().SkipWhile(t => t.IsKind(SyntaxKind.WhitespaceTrivia)));
                }

                continue;
            }

            var next = directives.Count == 0 ? statement : statement.WithLeadingTrivia(directives.AddRange(statement.GetLeadingTrivia()));
            if (removedTight is { } tight)
            {
                if (kept.Count > 0 && kept[kept.Count - 1].GetLastToken().IsKind(SyntaxKind.CloseBraceToken))
                {
                    // It now follows a closing brace: a blank line between them.
                    if (!StartsWithBlankLine(next) && (lineEnd ?? FirstLineEnd(new[] { kept[kept.Count - 1] })) is { } blankLine)
                    {
                        next = next.WithLeadingTrivia(next.GetLeadingTrivia().Insert(0, blankLine));
                    }
                }
                else if (tight && StartsWithBlankLine(next))
                {
                    next = next.WithLeadingTrivia(next.GetLeadingTrivia().SkipWhile(t => !t.IsKind(SyntaxKind.EndOfLineTrivia)).Skip(1));
                }
            }

            kept.Add(next);
            directives = SyntaxTriviaList.Empty;
            removedTight = null;
        }

        left = directives;
        return kept;
    }

    private static bool StartsWithBlankLine(SyntaxNode statement) =>
        statement.GetLeadingTrivia().SkipWhile(t => t.IsKind(SyntaxKind.WhitespaceTrivia)).FirstOrDefault().IsKind(SyntaxKind.EndOfLineTrivia);

    /// <summary>The release with the <c>if</c> that only guards it (<c>if (x != null) x.Release();</c>).</summary>
    public static SyntaxNode RemovalUnit(StatementSyntax statement)
    {
        SyntaxNode unit = statement;
        while (true)
        {
            switch (unit.Parent)
            {
                case BlockSyntax { Statements.Count: 1, Parent: IfStatementSyntax { Else: null } ifStatement } when IsPure(ifStatement.Condition):
                    unit = ifStatement;
                    continue;
                case IfStatementSyntax { Else: null } ifStatement when IsPure(ifStatement.Condition):
                    // 'if (x != null) x.Release();': the if's own statement (an else's statement has the else clause for parent).
                    unit = ifStatement;
                    continue;
                case BlockSyntax { Statements.Count: 1, Parent: ElseClauseSyntax elseClause }:
                    unit = elseClause;
                    continue;
                case ElseClauseSyntax elseClause when elseClause.Statement == unit:
                    unit = elseClause;
                    continue;
                default:
                    return unit;
            }
        }
    }

    /// <summary>
    /// A condition that only reads: no call, <c>await</c>, assignment, increment or object creation. An <c>if</c> left
    /// with nothing to do goes only then; otherwise it stays, empty, so that its condition still runs.
    /// </summary>
    private static bool IsPure(ExpressionSyntax condition) =>
        !condition.DescendantNodesAndSelf().Any(n => RunsCode(n) || n is AssignmentExpressionSyntax
            or PrefixUnaryExpressionSyntax { RawKind: (int)SyntaxKind.PreIncrementExpression or (int)SyntaxKind.PreDecrementExpression }
            or PostfixUnaryExpressionSyntax { RawKind: (int)SyntaxKind.PostIncrementExpression or (int)SyntaxKind.PostDecrementExpression });

    /// <summary>A call, an <c>await</c> or an object creation: an expression that runs code of its own.</summary>
    public static bool RunsCode(SyntaxNode node) =>
        node is InvocationExpressionSyntax or AwaitExpressionSyntax or BaseObjectCreationExpressionSyntax;

    /// <summary>
    /// The line ends of a statement's trailing trivia, for a statement that wraps it: a comment after the statement
    /// stays with the statement (or with the release that moves), not written a second time after the wrapper.
    /// </summary>
    public static SyntaxTriviaList LineEnds(SyntaxTriviaList trailing) => TriviaList(trailing.Where(t => t.IsKind(SyntaxKind.EndOfLineTrivia)));

    /// <summary>
    /// A new block around statements that move into it (a <c>try</c>'s), laid out before formatting as the formatter
    /// needs: the open brace ends its line and the first statement starts a line of its own with its own indentation,
    /// without the blank lines above it. The formatter moves a statement's continuation lines (the rest of a call split
    /// over several lines) by as much as it moves the statement's first line: a first statement left on the brace's
    /// line, or with no indentation, had them moved too far.
    /// </summary>
    public static BlockSyntax MovedInto(List<StatementSyntax> body, IEnumerable<SyntaxNode> original)
    {
        var openBrace = Token(TriviaList(), SyntaxKind.OpenBraceToken, TriviaList(FirstLineEnd(original) ?? ElasticCarriageReturnLineFeed));
        if (body.Count > 0)
        {
            var leading = body[0].GetLeadingTrivia();
            var layout = leading.TakeWhile(t => t.IsKind(SyntaxKind.EndOfLineTrivia) || t.IsKind(SyntaxKind.WhitespaceTrivia)).Count();
            var indentation = layout > 0 && leading[layout - 1].IsKind(SyntaxKind.WhitespaceTrivia) ? layout - 1 : layout;
            var own = leading.Skip(indentation);
            if (indentation == layout && layout == leading.Count && original.FirstOrDefault() is { } first && LineIndentation(first) is { } lineIndentation)
            {
                // It shared its line with the statement before it ('var c = Get(); var n = c.Execute(...'): the
                // indentation of that line.
                own = new[] { lineIndentation };
            }

            body = new List<StatementSyntax>(body) { [0] = body[0].WithLeadingTrivia(own) };
            (SyntaxTrivia LineEnd, SyntaxTrivia? Indentation)? newLine = null;
            for (var i = 1; i < body.Count; i++)
            {
                if (!body[i - 1].GetTrailingTrivia().Any(SyntaxKind.EndOfLineTrivia) && !body[i].GetLeadingTrivia().Any(SyntaxKind.EndOfLineTrivia))
                {
                    // Statements written on one line ('{ var n = c.Execute(sql); return n; }'): each starts a line of its
                    // own in the new block, as the formatter keeps statements that share a line together.
                    newLine ??= (FirstLineEnd(original) ?? DocumentLineEnd(original.First()), LineIndentation(original.First()));
                    var kept = CodeFixes.LineEnds.WithoutTrailingWhitespace(body[i - 1].GetTrailingTrivia());
                    body[i - 1] = body[i - 1].WithTrailingTrivia(TriviaList(kept.Append(newLine.Value.LineEnd)));
                    body[i] = body[i].WithLeadingTrivia(newLine.Value.Indentation is { } whitespace ? TriviaList(whitespace).AddRange(body[i].GetLeadingTrivia()) : body[i].GetLeadingTrivia());
                }
            }
        }

        return Block(openBrace, List(body), Token(SyntaxKind.CloseBraceToken));
    }

    /// <summary>The whitespace that starts the line <paramref name="node"/> starts on, if any.</summary>
    private static SyntaxTrivia? LineIndentation(SyntaxNode node)
    {
        var text = node.SyntaxTree.GetText();
        var line = text.Lines.GetLineFromPosition(node.SpanStart);
        var end = line.Start;
        while (end < line.End && text[end] is ' ' or '\t')
        {
            end++;
        }

        return end > line.Start ? Whitespace(text.ToString(new Microsoft.CodeAnalysis.Text.TextSpan(line.Start, end - line.Start))) : null;
    }

    /// <summary>
    /// The statement that follows the block statement marked with <paramref name="annotation"/> (a new <c>try</c>)
    /// starts after a blank line, as hand-written code does after a closing brace (and as StyleCop's SA1513 asks):
    /// a release removed from between them took its blank line with it, or there was none. A statement that shared
    /// the line of the last one the <c>try</c> took in (<c>conn.Release(); Log.Info("done");</c>) starts a line of its
    /// own after that blank line.
    /// </summary>
    public static SyntaxNode WithBlankLineAfter(SyntaxNode root, SyntaxAnnotation annotation)
    {
        if (root.GetAnnotatedNodes(annotation).FirstOrDefault() is not StatementSyntax statement
            || statement.Parent is not BlockSyntax block)
        {
            return root;
        }

        var index = block.Statements.IndexOf(statement);
        if (index + 1 >= block.Statements.Count || StartsWithBlankLine(block.Statements[index + 1]))
        {
            return root;
        }

        var next = block.Statements[index + 1];
        // The formatter ends the try's line before a statement that shared it: one line end more makes the blank line.
        // LineEnds later ends it as the lines around it are ended.
        var lineEnd = DocumentLineEnd(statement);
        return root.ReplaceNode(next, next.WithLeadingTrivia(next.GetLeadingTrivia().Insert(0, lineEnd)));
    }

    /// <summary>The first line end of the file <paramref name="node"/> is in (an elastic one when the file is one line).</summary>
    public static SyntaxTrivia DocumentLineEnd(SyntaxNode node) => FirstLineEnd(new[] { node.SyntaxTree.GetRoot() }) ?? ElasticCarriageReturnLineFeed;

    /// <summary>The first line end written in <paramref name="nodes"/> (new lines then end as the file's do), or null when they have none.</summary>
    public static SyntaxTrivia? FirstLineEnd(IEnumerable<SyntaxNode> nodes)
    {
        foreach (var node in nodes)
        {
            foreach (var trivia in node.DescendantTrivia())
            {
                if (trivia.IsKind(SyntaxKind.EndOfLineTrivia))
                {
                    return trivia;
                }
            }
        }

        return null;
    }

    /// <summary>
    /// A name for a new local that nothing in scope uses yet, nor any local or parameter declared elsewhere in the
    /// member (one in a nested block further down would clash with it): <c>connection</c>, <c>connection2</c>, ...
    /// </summary>
    public static string UniqueName(SemanticModel model, int position, string baseName)
    {
        var root = model.SyntaxTree.GetRoot();
        var member = root.FindToken(position).Parent?.AncestorsAndSelf().FirstOrDefault(a => a is MemberDeclarationSyntax and not GlobalStatementSyntax) ?? root;
        var declared = new HashSet<string>(member.DescendantTokens().Where(Declares).Select(t => t.ValueText));
        var name = baseName;
        for (var i = 2; declared.Contains(name) || model.LookupSymbols(position, name: name).Length > 0; i++)
        {
            name = baseName + i;
        }

        return name;
    }

    /// <summary>Is the token the name of a local, a parameter, a local function or a query's range variable?</summary>
    private static bool Declares(SyntaxToken identifier) =>
        identifier.IsKind(SyntaxKind.IdentifierToken) && identifier.Parent is VariableDeclaratorSyntax or SingleVariableDesignationSyntax or ForEachStatementSyntax or CatchDeclarationSyntax
            or ParameterSyntax or LocalFunctionStatementSyntax or FromClauseSyntax or LetClauseSyntax or JoinClauseSyntax or JoinIntoClauseSyntax
            or QueryContinuationSyntax;

    /// <summary><c>var x = value;</c> becomes <c>x = value;</c> (its declaration moved before the try).</summary>
    public static StatementSyntax AssignInstead(LocalDeclarationStatementSyntax declaration)
    {
        var variable = declaration.Declaration.Variables[0];
        return ExpressionStatement(AssignmentExpression(SyntaxKind.SimpleAssignmentExpression, IdentifierName(variable.Identifier.WithoutTrivia()), variable.Initializer!.Value.WithoutTrivia()))
            .WithTriviaFrom(declaration);
    }

    /// <summary>
    /// <c>return x;</c> becomes <c>{ release; return x; }</c>, or the release goes before it in its block or switch section.
    /// A comment after the <c>return</c> stays after it, inside the new block.
    /// </summary>
    public static StatementSyntax ReleaseBefore(ReturnStatementSyntax returnStatement, StatementSyntax release)
    {
        var released = release.WithoutLeadingTrivia().WithAdditionalAnnotations(Formatter.Annotation);
        var block = Block(released, returnStatement.WithoutLeadingTrivia()).WithLeadingTrivia(returnStatement.GetLeadingTrivia());
        return returnStatement.Parent is BlockSyntax or SwitchSectionSyntax
            ? block.WithAdditionalAnnotations(UnwrapMarker, Formatter.Annotation)
            : block.WithAdditionalAnnotations(Formatter.Annotation);
    }

    /// <summary>Splices the blocks <see cref="ReleaseBefore"/> marked into the block or switch section around them.</summary>
    public static TNode Flatten<TNode>(TNode node)
        where TNode : SyntaxNode => (TNode)new BlockFlattener().Visit(node)!;

    /// <summary>
    /// The node in <paramref name="root"/> at the span <paramref name="original"/> had when the fix was planned: the
    /// innermost <typeparamref name="TNode"/> there (no two statements, blocks or expressions share a span).
    /// </summary>
    public static TNode Find<TNode>(SyntaxNode root, TNode original)
        where TNode : SyntaxNode =>
        root.FindNode(original.Span, getInnermostNodeForTie: true).FirstAncestorOrSelf<TNode>(n => n.Span == original.Span)!;

    private static bool CallsFunctionUsing(SemanticModel model, IdentifierNameSyntax identifier, ILocalSymbol local) =>
        identifier.Parent is InvocationExpressionSyntax invocation && invocation.Expression == identifier
        && model.GetSymbolInfo(identifier).Symbol is IMethodSymbol { MethodKind: MethodKind.LocalFunction } function
        && function.DeclaringSyntaxReferences.FirstOrDefault()?.GetSyntax() is LocalFunctionStatementSyntax declaration
        && Uses(model, declaration, local).Any();

    /// <summary>
    /// The exception types of catch clauses, bound at a position of the method they are in (the clauses may be of a
    /// rewritten copy that the model does not know). With no model or no position, every type is unknown.
    /// </summary>
    private sealed class CatchTypes
    {
        private readonly SemanticModel? model;
        private readonly int? position;

        public CatchTypes(SemanticModel? model, int? position) => (this.model, this.position) = (model, position);

        /// <summary>Can one exception be caught by both clauses (is one's type the other's or derived from it)? True when either type is unknown.</summary>
        public bool Overlap(CatchClauseSyntax first, CatchClauseSyntax second)
        {
            if (TypeOf(first) is not { } a || TypeOf(second) is not { } b)
            {
                return true;
            }

            return Derives(a, b) || Derives(b, a);

            static bool Derives(ITypeSymbol type, ITypeSymbol baseType)
            {
                for (var current = type; current is not null; current = current.BaseType)
                {
                    if (SymbolEqualityComparer.Default.Equals(current, baseType))
                    {
                        return true;
                    }
                }

                return false;
            }
        }

        private ITypeSymbol? TypeOf(CatchClauseSyntax clause)
        {
            if (model is null || position is not { } at)
            {
                return null;
            }

            var type = clause.Declaration is { } declaration
                ? model.GetSpeculativeTypeInfo(at, declaration.Type, SpeculativeBindingOption.BindAsTypeOrNamespace).Type
                : model.Compilation.GetTypeByMetadataName("System.Exception");
            return type is null or IErrorTypeSymbol ? null : type;
        }
    }

    private sealed class BlockFlattener : CSharpSyntaxRewriter
    {
        public override SyntaxNode? VisitBlock(BlockSyntax node)
        {
            var visited = (BlockSyntax)base.VisitBlock(node)!;
            return visited.WithStatements(Spliced(visited.Statements));
        }

        public override SyntaxNode? VisitSwitchSection(SwitchSectionSyntax node)
        {
            var visited = (SwitchSectionSyntax)base.VisitSwitchSection(node)!;
            return visited.WithStatements(Spliced(visited.Statements));
        }

        private static SyntaxList<StatementSyntax> Spliced(SyntaxList<StatementSyntax> statements)
        {
            if (!statements.Any(s => s.HasAnnotation(UnwrapMarker)))
            {
                return statements;
            }

            var spliced = new List<StatementSyntax>();
            foreach (var statement in statements)
            {
                if (statement is BlockSyntax inner && inner.HasAnnotation(UnwrapMarker))
                {
                    spliced.Add(inner.Statements[0].WithLeadingTrivia(inner.GetLeadingTrivia()));
                    spliced.AddRange(inner.Statements.Skip(1));
                }
                else
                {
                    spliced.Add(statement);
                }
            }

            return List(spliced);
        }
    }
}
