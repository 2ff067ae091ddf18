using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace TenantDbGuard.CodeFixes.ConnectionLeak;

internal enum OwnershipKind
{
    /// <summary>The connection stays in the method: it may be released where its last use ends.</summary>
    Stays,

    /// <summary>The connection leaves at a known point; only the failures before that point may release it.</summary>
    HandedOff,

    /// <summary>The connection may leave in a way the fix cannot follow: no fix.</summary>
    Unknown,
}

/// <summary>
/// Where a connection goes after its acquisition, seen by the fix on its own (whatever the analyzer concluded):
/// returned (itself, or inside a reader opened with <c>CommandBehavior.CloseConnection</c> or an object of the
/// code's own types that takes it), stored (a field, a property, an element, a collection, <c>Interlocked</c>, a
/// helper of the compilation that keeps its argument, a <c>using</c> that takes it over), or gone where nothing can
/// follow it (an alias, a <c>ref</c>, a lambda that may run later, a command, transaction or lazy query that leaves).
/// </summary>
internal sealed class Ownership
{
    private readonly ReleaseChooser _chooser;
    private readonly SemanticModel _model;
    private readonly List<StatementSyntax> _stores = new();
    private readonly List<SyntaxNode> _returns = new();
    private readonly List<SyntaxNode> _returnedDependents = new();
    private int _from;
    private int _to = int.MaxValue;
    private bool _unknown;
    private ITypeSymbol? _connectionType;

    private Ownership(ReleaseChooser chooser)
    {
        _chooser = chooser;
        _model = chooser.Model;
    }

    public OwnershipKind Kind { get; private set; }

    /// <summary>The connection leaves by <c>return</c> or <c>yield return</c> (and by nothing earlier).</summary>
    public bool ByReturn { get; private set; }

    /// <summary>The statement of the block where a store or a <c>using</c> takes the connection over.</summary>
    public StatementSyntax? HandOff { get; private set; }

    /// <summary>
    /// Where the connection (or its owner) goes to the caller: the <c>return</c> and <c>yield return</c> statements, the
    /// statement a returned lambda is in, or a member's <c>=&gt;</c> body.
    /// </summary>
    public IReadOnlyList<SyntaxNode> HandOffReturns => _returns;

    /// <summary>Where a value that is never stored in a local goes (an acquisition inside a larger expression).</summary>
    public static Ownership AnalyzeValue(ReleaseChooser chooser, ExpressionSyntax value)
    {
        var ownership = new Ownership(chooser) { _connectionType = chooser.Model.GetTypeInfo(value).Type };
        ownership.Classify(value, owner: true, depth: 0, isValue: true);
        ownership.Conclude(block: null);
        return ownership;
    }

    /// <summary>
    /// Follows the uses of the local's value from <paramref name="from"/> up to <paramref name="to"/> (where the local
    /// takes another value); hand-off points must be statements of <paramref name="block"/>.
    /// </summary>
    public static Ownership Analyze(ReleaseChooser chooser, ILocalSymbol local, BlockSyntax? block, int from = 0, int to = int.MaxValue)
    {
        var ownership = new Ownership(chooser) { _from = from, _to = to, _connectionType = local.Type };
        ownership.Follow(local, owner: true, depth: 0);
        ownership.Conclude(block);
        return ownership;
    }

    /// <summary>Is a value of this type something that can keep a connection alive: disposable, a delegate, a lazy sequence?</summary>
    public static bool CarriesConnection(ITypeSymbol? type) =>
        type is not null && type.SpecialType != SpecialType.System_String && !IsTask(type)
        && (type.TypeKind == TypeKind.Delegate
            || type.AllInterfaces.Any(i => i.Name is "IDisposable" or "IAsyncDisposable")
            || type.Name is "IDisposable" or "IAsyncDisposable"
            || (type.TypeKind == TypeKind.Interface && (type.Name is "IEnumerable" or "IAsyncEnumerable" or "IQueryable" || type.AllInterfaces.Any(i => i.Name == "IEnumerable"))));

    private void Conclude(BlockSyntax? block)
    {
        // A command or reader that needs the connection may go to the caller with the connection itself
        // ('return new QueryResult(db, command.ExecuteReader(), command);'): the caller owns them all. Alone, it may not.
        if (_returnedDependents.Any(r => !_returns.Contains(r)))
        {
            // Unknown: something that needs the connection is returned.
            Unknown();
        }

        if (_unknown)
        {
            Kind = OwnershipKind.Unknown;
            return;
        }

        if (_stores.Count > 0)
        {
            var tops = _stores.Select(s => block is not null && s.Parent == block ? s : null).ToList();
            if (tops.Any(t => t is null))
            {
                // Stored inside a branch or a loop: no one point where the store takes the connection over.
                Kind = OwnershipKind.Unknown;
                return;
            }

            Kind = OwnershipKind.HandedOff;
            HandOff = tops.OrderBy(t => t!.SpanStart).First();
            return;
        }

        Kind = _returns.Count > 0 ? OwnershipKind.HandedOff : OwnershipKind.Stays;
        ByReturn = _returns.Count > 0;
    }

    /// <summary>Somewhere the fix cannot follow the connection (each call says where): it offers nothing.</summary>
    private void Unknown() => _unknown = true;

    /// <summary>Classifies every use of a value that carries the connection (the local, or something made from it).</summary>
    private void Follow(ILocalSymbol value, bool owner, int depth, bool windowed = true, bool? isValue = null)
    {
        if (depth > 4)
        {
            // Unknown: the connection passes through too many values.
            Unknown();
            return;
        }

        var function = _chooser.Context.Node;
        foreach (var use in Statements.Uses(_model, function, value))
        {
            if (windowed && depth == 0 && (use.SpanStart < _from || use.SpanStart >= _to))
            {
                continue;
            }

            Classify(use, owner, depth, isValue: isValue ?? depth == 0);
        }
    }

    private void Classify(ExpressionSyntax reference, bool owner, int depth, bool isValue)
    {
        var captured = reference.Ancestors().TakeWhile(a => a != _chooser.Context.Node).FirstOrDefault(FunctionContext.IsFunction);
        if (captured is not null && !Callees.RunsBeforeItsStatementEnds(_model, _chooser.Context.Node, captured))
        {
            if (depth == 0 && captured is AnonymousFunctionExpressionSyntax lambda && Climb(lambda).Parent is ReturnStatementSyntax or ArrowExpressionClauseSyntax
                && Statements.Uses(_model, lambda, (ILocalSymbol)_model.GetSymbolInfo(reference).Symbol!).Any(use => ReleasesHere(use)))
            {
                // A returned callback that gives the connection back owns it from the return on.
                Returned(Climb(lambda).Parent!, owner: true);
                return;
            }

            // Unknown: the connection is captured by code that may run later.
            Unknown();
            return;
        }

        var expression = Climb(reference);

        // What is released here may be the connection under another expression: made from it by a call
        // ('conn.Warm().Release()'), chosen between it and another ('(spare ?? conn).Release()'), or seen as 'dynamic'
        // ('((dynamic)conn).Release()', a call bound at run time that the fix cannot find as a release).
        var aliased = depth > 0 || ThroughChoice(reference, expression) || _model.GetTypeInfo(expression).Type is { TypeKind: TypeKind.Dynamic };
        switch (expression.Parent)
        {
            case MemberAccessExpressionSyntax access when access.Expression == expression:
                if (access.Parent is InvocationExpressionSyntax invocation && invocation.Expression == access)
                {
                    if (isValue && invocation.ArgumentList.Arguments.Count == 0 && _chooser.Names.Contains(access.Name.Identifier.ValueText))
                    {
                        Released(captured, aliased);
                        return;
                    }

                    if (isValue && Callees.ReleasesInBody(_model, _model.GetSymbolInfo(invocation).Symbol as IMethodSymbol, null, _chooser.Names))
                    {
                        // Unknown: the connection is given back inside a method of the code.
                        Unknown();
                        return;
                    }

                    if (!isValue && DisposesWhatTheCodeMade(expression, invocation, access.Name.Identifier.ValueText))
                    {
                        // Unknown: an object of the code made from the connection is disposed ('scope.Dispose()' of
                        // a 'new Scope(conn)', or a method of the code that disposes it), which may give the
                        // connection back.
                        Unknown();
                        return;
                    }

                    Derived(invocation, IsCloseConnectionReader(invocation), depth);
                    return;
                }

                if (_model.GetSymbolInfo(access).Symbol is IMethodSymbol)
                {
                    // 'Action release = conn.Release;': a delegate that may release it, or use it, whenever it is called.
                    // Unknown: a method of the connection is taken as a delegate.
                    Unknown();
                    return;
                }

                // A member of an object made from the connection may be it ('scope.Lease', followed as the connection),
                // or an object of the code that has a member that may be it ('scope.Inner' of 'scope.Inner.Lease'): a
                // release through it is one the fix could neither move nor remove.
                Derived(access, owner: false, depth, carries: depth > 0 && MayHoldTheConnection(_model.GetTypeInfo(access).Type, levels: 2));
                return;
            case ConditionalAccessExpressionSyntax conditional:
                // The connection is its expression: what is accessed through it is a binding, never the connection.
                if (conditional.WhenNotNull is InvocationExpressionSyntax { Expression: MemberBindingExpressionSyntax binding } bound)
                {
                    if (isValue && bound.ArgumentList.Arguments.Count == 0 && _chooser.Names.Contains(binding.Name.Identifier.ValueText))
                    {
                        Released(captured, aliased);
                    }
                    else if (!isValue && DisposesWhatTheCodeMade(expression, bound, binding.Name.Identifier.ValueText))
                    {
                        // Unknown: an object of the code made from the connection is disposed ('scope?.Dispose()',
                        // 'scope?.Finish()').
                        Unknown();
                    }
                }

                return;
            case ArgumentSyntax argument:
                Passed(argument, owner, depth, isValue, aliased);
                return;
            case AssignmentExpressionSyntax assignment when assignment.Right == expression:
                Assigned(assignment, owner, depth);
                return;
            case EqualsValueClauseSyntax { Parent: VariableDeclaratorSyntax declarator }:
                Declared(declarator, owner, depth);
                return;
            case WithExpressionSyntax copy when copy.Expression == expression:
                // 'scope with { Tenant = other }': the copy holds what the object held.
                Derived(copy, owner, depth, carries: true);
                return;
            case UsingStatementSyntax usingStatement when usingStatement.Expression == expression:
                Store(usingStatement);
                return;
            case ReturnStatementSyntax or YieldStatementSyntax:
                Returned(expression.Parent, owner);
                return;
            case ArrowExpressionClauseSyntax { Parent: { } member and not LocalFunctionStatementSyntax } when !FunctionContext.ReturnsNothing(_model, member):
                // The body of a member that returns a value; of one that returns nothing ('void M() => ...', 'async Task
                // M() => await ...') the value is dropped.
                Returned(expression.Parent, owner);
                return;
            case AnonymousFunctionExpressionSyntax { ExpressionBody: { } body } lambda when body == expression && ReturnsItsBody(lambda):
                // '() => new Holder(pool.GetConnection())': what the lambda's body makes from the connection is its result.
                Returned(lambda, owner);
                return;
            case IsPatternExpressionSyntax pattern when pattern.Expression == expression:
                if (pattern.Parent is IfStatementSyntax ifStatement && ifStatement.Condition == pattern && isValue && Releases(ifStatement))
                {
                    Released(captured, aliased);
                    return;
                }

                PatternAliases(new[] { pattern.Pattern }, owner, depth, isValue);
                return;
            case SwitchStatementSyntax switchStatement when switchStatement.Expression == expression:
                // 'switch (conn) { case ConnectionLease lease: ... }'
                PatternAliases(switchStatement.Sections.SelectMany(s => s.Labels).OfType<CasePatternSwitchLabelSyntax>().Select(l => l.Pattern), owner, depth, isValue);
                return;
            case SwitchExpressionSyntax switchExpression when switchExpression.GoverningExpression == expression:
                // 'conn switch { ConnectionLease lease => lease, _ => null }': its arms may name the connection, and its
                // value may be the connection.
                PatternAliases(switchExpression.Arms.Select(a => a.Pattern), owner, depth, isValue);
                Derived(switchExpression, owner: false, depth);
                return;
            case RefExpressionSyntax:
                // Unknown: 'ref var r = ref conn;' gives the variable a second name, through which it may be released.
                Unknown();
                return;
            case InitializerExpressionSyntax or AnonymousObjectMemberDeclaratorSyntax or CollectionExpressionSyntax or ExpressionElementSyntax:
                if (expression.Parent.AncestorsAndSelf().TakeWhile(n => n is not StatementSyntax).OfType<ExpressionSyntax>().FirstOrDefault(e => e is not InitializerExpressionSyntax) is { } container)
                {
                    Contained(container, owner);
                }
                else
                {
                    // Unknown: the connection is put in an array a declaration makes ('PooledConnection[] all = { conn };').
                    Unknown();
                }

                return;
        }
    }

    /// <summary>
    /// 'x is ConnectionLease lease', 'case ConnectionLease lease:': each name a pattern declares stands for the same
    /// connection. A release through that name is one the fix would neither move nor remove: its own release would give
    /// the connection back twice.
    /// </summary>
    private void PatternAliases(IEnumerable<PatternSyntax> patterns, bool owner, int depth, bool isValue)
    {
        foreach (var alias in patterns.SelectMany(p => p.DescendantNodesAndSelf()).OfType<SingleVariableDesignationSyntax>())
        {
            if (_model.GetDeclaredSymbol(alias) is ILocalSymbol local)
            {
                // A member of an object made from the connection ('scope is { Lease: var lease }') may be it.
                var value = isValue || (depth > 0 && MayBeTheConnection(local.Type));
                if (value && Statements.Uses(_model, _chooser.Context.Node, local).Any(ReleasesHere))
                {
                    // Unknown: the connection is released through a pattern variable.
                    Unknown();
                    return;
                }

                Follow(local, owner, depth, windowed: false, isValue: value);
            }
        }
    }

    /// <summary>Is the use the receiver (or argument) of a release call, as a statement of its own?</summary>
    private bool ReleasesHere(IdentifierNameSyntax use) =>
        use.FirstAncestorOrSelf<StatementSyntax>() is ExpressionStatementSyntax statement
        && _model.GetSymbolInfo(use).Symbol is ILocalSymbol local
        && _chooser.ReleasedBy(statement.Expression, local, out _, out _);

    private bool Releases(IfStatementSyntax ifStatement) =>
        _model.GetSymbolInfo(((IsPatternExpressionSyntax)ifStatement.Condition).Expression).Symbol is ILocalSymbol local
        && _chooser.Releases(ifStatement, local, out _, out _);

    /// <summary>
    /// A release of the connection. The fix knows the local's own releases; one inside a lambda or a local function, or
    /// through another expression (<paramref name="aliased"/>), it could neither move nor remove.
    /// </summary>
    private void Released(SyntaxNode? captured, bool aliased)
    {
        if (captured is not null)
        {
            // Unknown: the connection is released inside a lambda or a local function.
            Unknown();
        }
        else if (aliased)
        {
            // Unknown: the connection is released through what a call made from it, a choice ('(spare ?? conn).Release()')
            // or 'dynamic'.
            Unknown();
        }
    }

    /// <summary>Does <paramref name="reference"/> reach <paramref name="value"/> through a conditional, a <c>??</c> or a switch expression?</summary>
    private static bool ThroughChoice(ExpressionSyntax reference, ExpressionSyntax value)
    {
        for (var node = reference.Parent; node is not null && node != value.Parent; node = node.Parent)
        {
            if (node is ConditionalExpressionSyntax or SwitchExpressionSyntax || node.IsKind(SyntaxKind.CoalesceExpression))
            {
                return true;
            }
        }

        return false;
    }

    private void Returned(SyntaxNode at, bool owner)
    {
        (owner ? _returns : _returnedDependents).Add(at as StatementSyntax ?? at.FirstAncestorOrSelf<StatementSyntax>() ?? at);
    }

    /// <summary>
    /// Put in a tuple, a collection or an anonymous object: returned as it is, the caller gets the connection; kept
    /// anywhere else, the fix cannot tell which element gives it back.
    /// </summary>
    private void Contained(ExpressionSyntax container, bool owner)
    {
        if (Climb(container).Parent is ReturnStatementSyntax or YieldStatementSyntax or ArrowExpressionClauseSyntax { Parent: not LocalFunctionStatementSyntax })
        {
            Returned(Climb(container).Parent!, owner);
        }
        else
        {
            // Unknown: the connection is put in a tuple, a collection or an object.
            Unknown();
        }
    }

    private void Store(SyntaxNode at)
    {
        if (at.FirstAncestorOrSelf<StatementSyntax>() is { } statement)
        {
            _stores.Add(statement);
        }
    }

    /// <summary>A value made from the connection: follow it if it may keep the connection alive.</summary>
    private void Derived(ExpressionSyntax made, bool owner, int depth, bool carries = false)
    {
        var outer = Climb(made);
        var awaited = outer is AwaitExpressionSyntax || outer.DescendantNodesAndSelf().OfType<AwaitExpressionSyntax>().Any(a => a.Expression.Span.Contains(made.Span));
        var type = _model.GetTypeInfo(awaited ? outer : made).Type;
        if (IsTask(type) && !awaited)
        {
            // A task that is not awaited here may still be working with the connection when it is kept or returned.
            carries = true;
        }

        // A value that may be the connection itself ('conn.Warm()') is followed as the connection: a release through it
        // ('conn.Warm().Release()') is one the fix could neither move nor remove.
        var alias = MayBeTheConnection(type);
        if (carries || alias || CarriesConnection(type))
        {
            Classify(made, owner, depth + 1, isValue: alias);
        }
    }

    /// <summary>
    /// Is <paramref name="madeFromConnection"/>, an object made from the connection, of a type of the code, and does
    /// <paramref name="call"/> on it (of <paramref name="member"/>) dispose or release it: a release method without
    /// arguments, or a method that gives it back (see <see cref="GivesBackWhatTheCodeMade"/>)? Such a type may keep the
    /// connection and give it back when it is disposed: a release the fix added for the connection would then be a
    /// second one.
    /// </summary>
    private bool DisposesWhatTheCodeMade(ExpressionSyntax madeFromConnection, InvocationExpressionSyntax call, string member) =>
        call.ArgumentList.Arguments.Count == 0 && _chooser.Names.Contains(member) && IsOfTheCode(madeFromConnection)
        || GivesBackWhatTheCodeMade(madeFromConnection, _model.GetSymbolInfo(call).Symbol as IMethodSymbol, argument: null);

    /// <summary>
    /// Is <paramref name="madeFromConnection"/>, an object made from the connection, of a type of the code, and does
    /// <paramref name="method"/> (given it by <paramref name="argument"/>, or called on it when that is null) dispose
    /// or release it: a release call on its parameter or receiver, a <c>using</c> of it, or, for an instance method of
    /// the object, any release call in its body (<c>public int Finish() { ...; Dispose(); }</c>)?
    /// </summary>
    private bool GivesBackWhatTheCodeMade(ExpressionSyntax madeFromConnection, IMethodSymbol? method, ArgumentSyntax? argument)
    {
        if (method is null || !IsOfTheCode(madeFromConnection))
        {
            return false;
        }

        if (argument is not null || method.IsExtensionMethod)
        {
            return _chooser.Names.Contains(method.Name) && argument?.Parent is ArgumentListSyntax { Arguments.Count: 1 }
                || Callees.ReleasesInBody(_model, method, argument, _chooser.Names);
        }

        return !method.IsStatic && method.DeclaringSyntaxReferences.Any(reference =>
            reference.GetSyntax().DescendantNodes().OfType<InvocationExpressionSyntax>().Any(call => CallsARelease(call.Expression)));
    }

    private bool CallsARelease(ExpressionSyntax invoked) => invoked switch
    {
        IdentifierNameSyntax name => _chooser.Names.Contains(name.Identifier.ValueText),
        MemberAccessExpressionSyntax access => _chooser.Names.Contains(access.Name.Identifier.ValueText),
        MemberBindingExpressionSyntax binding => _chooser.Names.Contains(binding.Name.Identifier.ValueText),
        _ => false,
    };

    /// <summary>
    /// Is <paramref name="expression"/>'s type one of the code's own (a wrapper that may keep the connection)?
    /// </summary>
    private bool IsOfTheCode(ExpressionSyntax expression) => IsOfTheCode(_model.GetTypeInfo(expression).Type);

    /// <summary>Is <paramref name="type"/> declared in the compilation's source?</summary>
    private static bool IsOfTheCode(ITypeSymbol? type) => type?.Locations.Any(l => l.IsInSource) == true;

    /// <summary>
    /// Can a value of <paramref name="type"/> made from the connection be the connection itself (a helper of the code
    /// that gives back what it was given: <c>var warm = conn.Warm();</c>)? Its type is then the connection's, or one
    /// the connection's type derives from or implements.
    /// </summary>
    private bool MayBeTheConnection(ITypeSymbol? type)
    {
        if (type is null || _connectionType is null || type.SpecialType == SpecialType.System_Object)
        {
            return false;
        }

        return IsOrDerivesFrom(_connectionType, type);
    }

    /// <summary>
    /// Is <paramref name="type"/> a type of the code with an instance field or property that may be the connection, or
    /// (up to <paramref name="levels"/> deep) that may hold one so: <c>Inner</c> of <c>scope.Inner.Lease.Release()</c>.
    /// </summary>
    private bool MayHoldTheConnection(ITypeSymbol? type, int levels) =>
        levels > 0 && IsOfTheCode(type)
        && type!.GetMembers().Where(member => !member.IsStatic)
            .Select(member => member switch
            {
                IFieldSymbol field => field.Type,
                IPropertySymbol property => property.Type,
                _ => null,
            })
            .Any(memberType => MayBeTheConnection(memberType) || MayHoldTheConnection(memberType, levels - 1));

    /// <summary>
    /// Is <paramref name="type"/> <paramref name="baseType"/>, or derived from it, or an implementation of it (generic
    /// types compared by their definitions)?
    /// </summary>
    public static bool IsOrDerivesFrom(ITypeSymbol type, ITypeSymbol baseType)
    {
        for (var current = type; current is not null; current = current.BaseType)
        {
            if (SymbolEqualityComparer.Default.Equals(current.OriginalDefinition, baseType.OriginalDefinition))
            {
                return true;
            }
        }

        return type.AllInterfaces.Any(i => SymbolEqualityComparer.Default.Equals(i.OriginalDefinition, baseType.OriginalDefinition));
    }

    private static bool IsTask(ITypeSymbol? type) =>
        type is INamedTypeSymbol { Name: "Task" or "ValueTask", ContainingNamespace: { Name: "Tasks", ContainingNamespace.Name: "Threading" } };

    private void Passed(ArgumentSyntax argument, bool owner, int depth, bool isValue, bool aliased)
    {
        if (!argument.RefKindKeyword.IsKind(SyntaxKind.None))
        {
            // Unknown: the connection is passed by reference.
            Unknown();
            return;
        }

        if (argument.Parent is TupleExpressionSyntax tuple)
        {
            Contained(tuple, owner);
            return;
        }

        switch (argument.Parent?.Parent)
        {
            case InvocationExpressionSyntax invocation:
                var method = _model.GetSymbolInfo(invocation).Symbol as IMethodSymbol;
                var name = method?.Name ?? string.Empty;
                if (!isValue && GivesBackWhatTheCodeMade(argument.Expression, method, argument))
                {
                    // Unknown: an object of the code made from the connection is given to a method that disposes it
                    // ('Finish(scope)'), which may give the connection back.
                    Unknown();
                    return;
                }

                if (isValue && _chooser.Names.Contains(name) && invocation.ArgumentList.Arguments.Count == 1)
                {
                    Released(captured: null, aliased);
                    return;
                }

                if (isValue && Callees.ReleasesInBody(_model, method, argument, _chooser.Names))
                {
                    // Unknown: the connection is given back inside a method of the code.
                    Unknown();
                    return;
                }

                var kept = Callees.Keeps(_model, method, argument);
                if (kept == Kept.Stored)
                {
                    if (owner)
                    {
                        Store(invocation);
                    }
                    else
                    {
                        // Unknown: something that needs the connection is stored.
                        Unknown();
                    }

                    return;
                }

                // A helper that returns the connection, or something made from it: follow that.
                Derived(invocation, owner && (kept == Kept.Returned || IsOfTheCode(method?.ReturnType)), depth, carries: kept == Kept.Returned);
                return;
            case BaseObjectCreationExpressionSyntax creation:
                // An object of the code's own types that keeps the connection owns it from here on.
                var constructor = _model.GetSymbolInfo(creation).Symbol as IMethodSymbol;
                var type = _model.GetTypeInfo(creation).Type;
                Derived(creation, owner && IsOfTheCode(type), depth, carries: Callees.Keeps(_model, constructor, argument) != Kept.No);
                return;
        }
    }

    private void Assigned(AssignmentExpressionSyntax assignment, bool owner, int depth)
    {
        switch (_model.GetSymbolInfo(assignment.Left).Symbol)
        {
            case ILocalSymbol local when assignment.Parent is ExpressionStatementSyntax:
                // Unknown: the connection is also held by another local.
                Unknown();
                return;
            case IFieldSymbol or IPropertySymbol or IParameterSymbol:
            case null when assignment.Left is ElementAccessExpressionSyntax:
                if (owner)
                {
                    Store(assignment);
                }
                else
                {
                    // Unknown: something that needs the connection is stored.
                    Unknown();
                }

                return;
            default:
                // Unknown: the connection is assigned where the fix cannot follow it.
                Unknown();
                return;
        }
    }

    private void Declared(VariableDeclaratorSyntax declarator, bool owner, int depth)
    {
        if (depth > 0 && _model.GetDeclaredSymbol(declarator) is ILocalSymbol made && MayBeTheConnection(made.Type)
            && (declarator.Parent?.Parent is LocalDeclarationStatementSyntax { UsingKeyword.RawKind: not 0 } or UsingStatementSyntax
                || Statements.Uses(_model, _chooser.Context.Node, made).Any(ReleasesHere)))
        {
            // 'var warm = conn.Warm(); ... warm.Release();': a release under another name, which the fix would neither
            // move nor remove; its own would give the connection back twice.
            // Unknown: the connection may be given back through what is made from it.
            Unknown();
            return;
        }

        if (depth > 0 && declarator.Parent?.Parent is LocalDeclarationStatementSyntax { UsingKeyword.RawKind: not 0 } or UsingStatementSyntax
            && _model.GetDeclaredSymbol(declarator) is ILocalSymbol disposed && IsOfTheCode(disposed.Type))
        {
            // 'using var scope = new Scope(conn);': disposing an object of the code made from the connection may give
            // the connection back, and a release of the fix's own would be a second one.
            // Unknown: the connection may be given back by disposing what is made from it.
            Unknown();
            return;
        }

        if (declarator.Parent?.Parent is LocalDeclarationStatementSyntax { UsingKeyword.RawKind: not 0 } usingDeclaration)
        {
            if (owner && depth == 0)
            {
                Store(usingDeclaration);
            }

            return;
        }

        if (_model.GetDeclaredSymbol(declarator) is not ILocalSymbol local)
        {
            // Unknown: the connection is held where the fix cannot follow it.
            Unknown();
            return;
        }

        if (depth == 0)
        {
            // Unknown: the connection is also held by another local.
            Unknown();
            return;
        }

        Follow(local, owner, depth);
    }

    private bool IsCloseConnectionReader(InvocationExpressionSyntax invocation) =>
        invocation.Expression is MemberAccessExpressionSyntax { Name.Identifier.ValueText: var name } && name.StartsWith("ExecuteReader", System.StringComparison.Ordinal)
        && invocation.ArgumentList.DescendantNodes().OfType<IdentifierNameSyntax>()
            .Any(id => id.Identifier.ValueText == "CloseConnection" && _model.GetSymbolInfo(id).Symbol is IFieldSymbol { ContainingType.Name: "CommandBehavior" });

    /// <summary>Does the lambda return the value of its expression body (not a <c>void</c> lambda, nor an <c>async</c> one that returns a plain <c>Task</c>)?</summary>
    private bool ReturnsItsBody(AnonymousFunctionExpressionSyntax lambda) =>
        _model.GetSymbolInfo(lambda).Symbol is IMethodSymbol { ReturnsVoid: false } method
        && !(method.IsAsync && method.ReturnType is INamedTypeSymbol { IsGenericType: false });

    /// <summary>The expression whose parent says what happens to the value: through parentheses, casts, <c>?:</c>, <c>??</c>, <c>await</c>.</summary>
    private static ExpressionSyntax Climb(ExpressionSyntax expression) => Statements.OutermostValue(expression, throughChoices: true);
}
