// TDG005's walks. A method of a type that owns a connection in a field or an auto-property (its Dispose, DisposeAsync,
// or a helper they call on 'this'), started with the member holding the connection: conditions that only say "already
// disposed" (a disposed flag this method sets, an Interlocked guard) or "not ours" (a readonly ownership flag, or a flag
// the type sets right after it opens the member and nowhere else, false when it did not open it) end the duty to release;
// so does a condition beside that flag that keeps open what the type opened ('_openedHere && !_keepOpen': the type's own
// decision). Any other condition, and any call or other dispose before the release that can throw, is a path.
// And each constructor, from the acquisition it stores in the member: an exception after the store loses it, since
// the object is never handed to anyone who could dispose it.
using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.FlowAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>Walks a method of an owning type with one of its fields holding the connection.</summary>
internal static class OwnerWalk
{
    /// <summary>Walks <paramref name="graph"/> with <paramref name="member"/> (a field, or an auto-property) holding the connection.</summary>
    public static FlowObservations? Run(ControlFlowGraph graph, ISymbol member, FlowContext context, Dictionary<IParameterSymbol, bool>? knownParameters) =>
        LeakFlowAnalysis.Observe(graph, site: null, member, context, AcquisitionSites.OwnLocals(graph), ownerFields: true, knownParameters);

    /// <summary>
    /// Does some path of <paramref name="method"/>, walked with <paramref name="member"/> holding the connection as a
    /// Dispose method is, release it? The walk sees the copies a release method makes first (<c>var c = _connection;
    /// _connection = null; c?.Dispose();</c>, <c>Interlocked.Exchange(ref _connection, null)?.Dispose()</c>);
    /// overwriting the member is a loss, not a release. False when the walk gives up.
    /// </summary>
    public static bool ReleasesOnSomePath(IMethodSymbol method, ISymbol member, MethodSummaries summaries, CancellationToken cancellationToken)
    {
        if (summaries.GraphOf(method, cancellationToken) is not var (graph, names))
        {
            return false;
        }

        var observations = Run(graph, member, new FlowContext(summaries.Rules, names, summaries, cancellationToken), knownParameters: null);
        return observations is { Releases: true };
    }

    /// <summary>
    /// The line of the first statement of a constructor of <paramref name="type"/> that can throw after the constructor stored
    /// a connection it acquired in <paramref name="member"/> (the object is never returned, so nothing can dispose it);
    /// null when every constructor releases it on those paths or never stores one.
    /// </summary>
    public static int? ConstructorLeak(INamedTypeSymbol type, ISymbol member, AcquisitionRules rules, MethodSummaries summaries, CancellationToken cancellationToken)
    {
        foreach (var constructor in type.InstanceConstructors)
        {
            if (!rules.IsInSource(constructor) || summaries.GraphOf(constructor, cancellationToken) is not var (graph, names))
            {
                continue;
            }

            var context = new FlowContext(rules, names, summaries, cancellationToken);
            var ownLocals = AcquisitionSites.OwnLocals(graph);
            foreach (var site in StoresInto(graph, member, context))
            {
                var observations = LeakFlowAnalysis.Observe(graph, site, holder: null, context, ownLocals, ownerFields: true);
                var thrown = observations?.Leaks
                    .Where(leak => leak.Reason == LeakReason.ExceptionThrown && leak.At is not null)
                    .OrderBy(leak => leak.At!.SpanStart)
                    .FirstOrDefault();
                if (thrown?.At is { } at)
                {
                    return at.GetLocation().GetLineSpan().StartLinePosition.Line + 1;
                }
            }
        }

        return null;
    }

    /// <summary>
    /// The methods of <paramref name="type"/> that open <paramref name="member"/> and close it again on every path of their
    /// own (open, then close in a <c>finally</c>, or under the flag it was opened under), and how many opens they hold
    /// between them. Such a method uses the member for the length of a call; it does not hand the type a connection to
    /// release.
    /// </summary>
    public static (List<IMethodSymbol> Methods, int Opens) OpenersThatClose(INamedTypeSymbol type, ISymbol member, AcquisitionRules rules, MethodSummaries summaries, CancellationToken cancellationToken)
    {
        var methods = new List<IMethodSymbol>();
        var opens = 0;
        foreach (var method in type.GetMembers().OfType<IMethodSymbol>())
        {
            if (method.IsStatic || method.IsAbstract || !rules.IsInSource(method) || summaries.GraphOf(method, cancellationToken) is not var (graph, names))
            {
                continue;
            }

            var context = new FlowContext(rules, names, summaries, cancellationToken);
            var sites = StoresInto(graph, member, context).ToList();
            if (sites.Count == 0 || sites.Any(site => site.Kind != AcquisitionKind.Opened))
            {
                continue;
            }

            var ownLocals = AcquisitionSites.OwnLocals(graph);
            if (sites.All(site => LeakFlowAnalysis.Observe(graph, site, holder: null, context, ownLocals, ownerFields: true) is { Leaks.Count: 0 }))
            {
                methods.Add(method);
                opens += sites.Count;
            }
        }

        return (methods, opens);
    }

    /// <summary>The acquisitions of <paramref name="graph"/> that land in <paramref name="member"/>: stored into it, or Open on it.</summary>
    private static IEnumerable<AcquisitionSite> StoresInto(ControlFlowGraph graph, ISymbol member, FlowContext context)
    {
        foreach (var site in AcquisitionSites.Find(graph, context, lambdas: null))
        {
            if (site.Kind == AcquisitionKind.Returned && StoredMember(site.EffectPoint) is { } stored && SymbolEqualityComparer.Default.Equals(stored, member))
            {
                yield return site;
            }
        }

        foreach (var block in graph.Blocks)
        {
            foreach (var operation in block.Operations)
            {
                foreach (var node in operation.DescendantsAndSelf())
                {
                    if (node is IInvocationOperation invocation && context.Rules.Classify(invocation, context.Names) == AcquisitionKind.Opened
                        && MemberOf(invocation.Instance) is { } opened && SymbolEqualityComparer.Default.Equals(opened, member))
                    {
                        yield return new AcquisitionSite(invocation, invocation.Parent is IAwaitOperation awaited ? awaited : invocation, AcquisitionKind.Opened, member);
                    }
                }
            }
        }
    }

    /// <summary>
    /// The field or auto-property of <c>this</c> that the value of <paramref name="effectPoint"/> is assigned to directly.
    /// An acquisition's effect point already lies past its conversions, <c>ConfigureAwait</c> and <c>await</c>.
    /// </summary>
    private static ISymbol? StoredMember(IOperation effectPoint) =>
        effectPoint.Parent is IAssignmentOperation assignment && assignment.Value == effectPoint ? MemberOf(assignment.Target) : null;

    private static ISymbol? MemberOf(IOperation? operation) => TrackedVariables.Unwrap(operation) switch
    {
        IFieldReferenceOperation { Instance: IInstanceReferenceOperation } field => field.Field,
        IPropertyReferenceOperation { Instance: IInstanceReferenceOperation } property when IsAutoProperty(property.Property) => property.Property,
        _ => null,
    };

    /// <summary>An auto-property stores like a field: its backing field is the storage.</summary>
    public static bool IsAutoProperty(IPropertySymbol property)
    {
        if (property.IsStatic || property.IsIndexer || property.ContainingType is null)
        {
            return false;
        }

        foreach (var member in property.ContainingType.GetMembers())
        {
            if (member is IFieldSymbol { IsImplicitlyDeclared: true } field && SymbolEqualityComparer.Default.Equals(field.AssociatedSymbol, property))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// When <paramref name="condition"/> is one of the owner's guards: the state on the branch where it is
    /// <paramref name="outcome"/> (null when that branch cannot be taken). Not handled: refine as usual.
    /// </summary>
    public static (bool Handled, PathState? State) Refine(LeakFlowAnalysis analysis, PathState state, IOperation condition, bool outcome)
    {
        var guarded = RefineGuard(analysis, state, condition, outcome);
        if (!guarded.Handled && analysis.HeldMember is { } held && KeepsOpenBesideTheOwnershipFlag(analysis, held, condition, outcome))
        {
            // 'if (_openedHere && !_keepOpen) Connection.Close();' with '_keepOpen' true: the type keeps open what it
            // opened, by its own decision, as when it did not open it.
            return (true, new PathState(ResourceStatus.Escaped, HolderSet.Empty, 0, state.Flags));
        }

        return guarded;
    }

    /// <summary>
    /// Is <paramref name="condition"/> an operand of a <c>&amp;&amp;</c> beside the flag the type sets right after it opens
    /// <paramref name="held"/> (<c>_openedHere &amp;&amp; !_keepOpen</c>), or of a <c>||</c> beside its negation
    /// (<c>!_openedHere || _keepOpen</c>), on the <paramref name="outcome"/> that decides the whole condition the way
    /// the flag does when the type did not open the connection? The type then leaves it open on purpose. A condition
    /// without the ownership flag beside it (<c>_closeOnDispose &amp;&amp; !_keepOpen</c>) is not one.
    /// </summary>
    private static bool KeepsOpenBesideTheOwnershipFlag(LeakFlowAnalysis analysis, ISymbol held, IOperation condition, bool outcome)
    {
        var node = condition.Syntax;
        var value = outcome;
        while (node.Parent is ParenthesizedExpressionSyntax or PrefixUnaryExpressionSyntax { RawKind: (int)SyntaxKind.LogicalNotExpression })
        {
            value ^= node.Parent is PrefixUnaryExpressionSyntax;
            node = node.Parent;
        }

        if (node.Parent is not BinaryExpressionSyntax { RawKind: (int)SyntaxKind.LogicalAndExpression or (int)SyntaxKind.LogicalOrExpression } junction
            || value != junction.IsKind(SyntaxKind.LogicalOrExpression)
            || analysis.Graph.OriginalOperation.SemanticModel is not { } model || model.SyntaxTree != node.SyntaxTree)
        {
            return false;
        }

        // The whole chain of the same operator: 'a && b && c' is '(a && b) && c'.
        var top = junction;
        while (top.Parent is BinaryExpressionSyntax outer && outer.IsKind(junction.Kind()))
        {
            top = outer;
        }

        var pending = new Stack<ExpressionSyntax>();
        pending.Push(top);
        while (pending.Count > 0)
        {
            var operand = Unparenthesized(pending.Pop());

            if (operand is BinaryExpressionSyntax same && same.IsKind(junction.Kind()))
            {
                pending.Push(same.Left);
                pending.Push(same.Right);
                continue;
            }

            if (operand == node)
            {
                continue;
            }

            // '&&' needs the flag itself, '||' its negation.
            var negated = operand is PrefixUnaryExpressionSyntax { RawKind: (int)SyntaxKind.LogicalNotExpression };
            var flag = Unparenthesized(operand is PrefixUnaryExpressionSyntax not && negated ? not.Operand : operand);

            if (negated == junction.IsKind(SyntaxKind.LogicalOrExpression)
                && flag is IdentifierNameSyntax or MemberAccessExpressionSyntax { Expression: ThisExpressionSyntax }
                && model.GetSymbolInfo(flag, analysis.Context.CancellationToken).Symbol is IFieldSymbol { Type.SpecialType: SpecialType.System_Boolean, IsStatic: false } field
                && analysis.Context.Summaries.MemberOpenedUnder(field, analysis.Context.CancellationToken) == held.Name)
            {
                return true;
            }
        }

        return false;
    }

    private static ExpressionSyntax Unparenthesized(ExpressionSyntax expression)
    {
        while (expression is ParenthesizedExpressionSyntax parenthesized)
        {
            expression = parenthesized.Expression;
        }

        return expression;
    }

    /// <summary>The owner's guards of <see cref="Refine"/>: handled or not.</summary>
    private static (bool Handled, PathState? State) RefineGuard(LeakFlowAnalysis analysis, PathState state, IOperation condition, bool outcome)
    {
        var done = new PathState(ResourceStatus.Released, HolderSet.Empty, 0, state.Flags);
        switch (TrackedVariables.Unwrap(condition))
        {
            case IParameterReferenceOperation parameter when analysis.KnownParameters is { } known && known.TryGetValue(parameter.Parameter.OriginalDefinition, out var value):
                return (true, value == outcome ? state : null);
            case IPropertyReferenceOperation { Instance: IInstanceReferenceOperation, Property: { Type.SpecialType: SpecialType.System_Boolean, SetMethod: null or { IsInitOnly: true } } flagProperty }
                when IsAutoProperty(flagProperty):
                // A get-only bool auto-property is set by the constructor only: an ownership flag like a readonly field.
                return (true, new PathState(ResourceStatus.Escaped, HolderSet.Empty, 0, state.Flags));
            case IFieldReferenceOperation { Instance: IInstanceReferenceOperation, Field: { Type.SpecialType: SpecialType.System_Boolean } flag }:
                if (flag.IsReadOnly)
                {
                    // An ownership flag set by the constructor ('leaveOpen'): a release under it is the owner's choice.
                    return (true, new PathState(ResourceStatus.Escaped, HolderSet.Empty, 0, state.Flags));
                }

                // 'if (_disposed) return;' with '_disposed = true' further on: the true branch was disposed before.
                if (SetsTrue(analysis.Graph, flag) && outcome)
                {
                    return (true, done);
                }

                // 'if (_openedHere) Connection.Close();' where '_openedHere' is set only right after 'Connection.Open()': while
                // it is false, the type did not open the connection and has nothing to give back.
                if (analysis.HeldMember is { } held && analysis.Context.Summaries.MemberOpenedUnder(flag, analysis.Context.CancellationToken) == held.Name)
                {
                    return (true, outcome ? state : new PathState(ResourceStatus.Escaped, HolderSet.Empty, 0, state.Flags));
                }

                if (analysis.Context.Summaries.IsSetOnlyByConstructors(flag, analysis.Context.CancellationToken))
                {
                    // 'protected bool DisposeConnection = true;' set to false only by the constructor that is given the
                    // connection: an ownership flag like a readonly field, which it lacks only the keyword of.
                    return (true, new PathState(ResourceStatus.Escaped, HolderSet.Empty, 0, state.Flags));
                }

                return (false, null);
            case IInvocationOperation invocation when IsInterlockedGuard(invocation, out _):
                // 'if (Interlocked.Exchange(ref _disposed, true)) return;'
                return (true, outcome ? done : state);
            case { } guard when FirstCallOutcome(analysis, guard, depth: 0) is { } firstCallOutcome:
                // 'Interlocked.Exchange(ref _disposed, 1) != 0', '... is not 0', 'Interlocked.Increment(ref _count) > 1',
                // a 'switch' on such a value, a local that keeps such a test: what the first call sees, and what every
                // later call sees, each make the condition one way.
                return (true, outcome == firstCallOutcome ? state : done);

            default:
                return (false, null);
        }
    }

    /// <summary>
    /// For a test of an Interlocked guard's value against constants (<c>Interlocked.Exchange(ref _disposed, 1) != 0</c>,
    /// <c>Interlocked.CompareExchange(ref _state, 1, 0) is not 0</c>, <c>Interlocked.Increment(ref _disposeCount) &gt; 1</c>):
    /// the condition's value on the first call, when it tells the first call from every later one. The first call sees 0
    /// (Exchange, CompareExchange) or 1 (Increment); a later one sees the value stored, or a count from 2 up. Null when
    /// it is no such test, or the test does not tell them apart. The guard's value may be the graph's capture of a
    /// <c>switch</c> statement's or expression's value
    /// (<c>switch (Interlocked.Exchange(ref _disposed, 1)) { case 0: ... }</c>): each case compares the capture, which
    /// stands for the one call it captured.
    /// </summary>
    private static bool? FirstCallOutcome(LeakFlowAnalysis analysis, IOperation condition, int depth)
    {
        if (depth > 4)
        {
            return null;
        }

        switch (Captured(analysis, condition))
        {
            case IUnaryOperation { OperatorKind: UnaryOperatorKind.Not, OperatorMethod: null } not:
                return !FirstCallOutcome(analysis, not.Operand, depth + 1);
            case IInvocationOperation { Type.SpecialType: SpecialType.System_Boolean } invocation
                when IsInterlockedGuard(invocation, out _) && invocation.Arguments[1].Value.ConstantValue.Value is true:
                // 'Interlocked.Exchange(ref _disposed, true)': the first call sees false.
                return false;
            case IBinaryOperation binary:
                return CounterGuard(analysis, binary);
            case IIsPatternOperation isPattern:
                return CounterGuard(analysis, isPattern);
            case ILocalReferenceOperation { Local: { Type.SpecialType: SpecialType.System_Boolean } local }
                when OnlyValue(analysis, local) is { } value:
                // 'var first = Interlocked.Exchange(ref _disposed, 1) == 0; if (first) ...': the local keeps the test.
                return FirstCallOutcome(analysis, value, depth + 1);
            case IFlowCaptureReferenceOperation capture:
                // 'Interlocked.Exchange(ref _disposed, 1) switch { 0 => true, _ => false }': the graph captures each
                // arm's value.
                return SwitchOutcome(analysis, capture);
            default:
                return null;
        }
    }

    /// <summary>
    /// The value on the first call of a switch expression on an Interlocked guard whose arms (without <c>when</c>) are
    /// the constants <c>true</c> and <c>false</c>, read through the graph's capture of its result; null otherwise.
    /// </summary>
    private static bool? SwitchOutcome(LeakFlowAnalysis analysis, IFlowCaptureReferenceOperation capture)
    {
        if (analysis.Variables.AssignedCaptures.Contains(capture.Id)
            || analysis.Facts.CapturedValues(capture.Id) is not { Count: > 1 } values
            || values[0].Syntax.Parent is not SwitchExpressionArmSyntax { Parent: SwitchExpressionSyntax syntax }
            || analysis.Graph.OriginalOperation.SemanticModel?.GetOperation(syntax, analysis.Context.CancellationToken) is not ISwitchExpressionOperation switchExpression
            || TrackedVariables.Unwrap(switchExpression.Value) is not IInvocationOperation call
            || CounterValues(call) is not var (first, later))
        {
            return null;
        }

        bool? Arm(long value)
        {
            foreach (var arm in switchExpression.Arms)
            {
                if (arm.Guard is not null || arm.Value.ConstantValue.Value is not bool result)
                {
                    return null;
                }

                switch (Matches(arm.Pattern, value))
                {
                    case true:
                        return result;
                    case null:
                        return null;
                }
            }

            return null;
        }

        if (Arm(first) is not { } onFirst)
        {
            return null;
        }

        return later.All(value => Arm(value) == !onFirst) ? onFirst : null;
    }

    /// <summary>
    /// The one value <paramref name="local"/> is ever given in <paramref name="analysis"/>'s graph (its initializer),
    /// when nothing else writes it (no other assignment, no <c>ref</c>/<c>out</c>, no lambda that mentions it).
    /// </summary>
    private static IOperation? OnlyValue(LeakFlowAnalysis analysis, ILocalSymbol local)
    {
        IOperation? only = null;
        foreach (var block in analysis.Graph.Blocks)
        {
            foreach (var operation in block.Operations)
            {
                foreach (var node in operation.DescendantsAndSelf())
                {
                    switch (node)
                    {
                        case ISimpleAssignmentOperation { Target: ILocalReferenceOperation target } assignment
                            when SymbolEqualityComparer.Default.Equals(target.Local, local):
                            if (only is not null)
                            {
                                return null;
                            }

                            only = assignment.Value;
                            break;
                        case IAssignmentOperation { Target: ILocalReferenceOperation target }
                            when SymbolEqualityComparer.Default.Equals(target.Local, local):
                        case IArgumentOperation { Parameter.RefKind: not RefKind.None, Value: ILocalReferenceOperation byRef }
                            when SymbolEqualityComparer.Default.Equals(byRef.Local, local):
                        case IFlowAnonymousFunctionOperation:
                            return null;
                    }
                }
            }
        }

        return only;
    }

    private static bool? CounterGuard(LeakFlowAnalysis analysis, IOperation condition)
    {
        IInvocationOperation? call;
        Func<long, bool?> test;
        switch (condition)
        {
            case IBinaryOperation binary when Relation(binary.OperatorKind) is { } relation:
            {
                var left = Captured(analysis, binary.LeftOperand);
                var right = Captured(analysis, binary.RightOperand);
                if (left is IInvocationOperation l && Number(binary.RightOperand) is { } onRight)
                {
                    (call, test) = (l, value => relation(value, onRight));
                }
                else if (right is IInvocationOperation r && Number(binary.LeftOperand) is { } onLeft)
                {
                    (call, test) = (r, value => relation(onLeft, value));
                }
                else
                {
                    return null;
                }

                break;
            }

            case IIsPatternOperation isPattern when Captured(analysis, isPattern.Value) is IInvocationOperation matched:
                (call, test) = (matched, value => Matches(isPattern.Pattern, value));
                break;
            default:
                return null;
        }

        if (CounterValues(call) is not var (first, later))
        {
            return null;
        }

        if (test(first) is not { } onFirst)
        {
            return null;
        }

        foreach (var value in later)
        {
            if (test(value) != !onFirst)
            {
                return null;
            }
        }

        return onFirst;
    }

    /// <summary>
    /// What an Interlocked guard's call returns on the first call (0 for Exchange and CompareExchange, a count of 1 for
    /// Increment) and some values it returns on later ones (the value stored, or a count from 2 up); null when it is no
    /// such call.
    /// </summary>
    private static (long First, long[] Later)? CounterValues(IInvocationOperation call)
    {
        if (IsInterlockedGuard(call, out _) && call.TargetMethod.Name is "Exchange" or "CompareExchange" && Number(call.Arguments[1].Value) is { } stored and not 0)
        {
            return (0, new[] { stored });
        }

        if (call.TargetMethod is { Name: "Increment", ContainingType: { Name: "Interlocked", ContainingNamespace.Name: "Threading" } }
            && call.Arguments.Length == 1 && TrackedVariables.Unwrap(call.Arguments[0].Value) is IFieldReferenceOperation)
        {
            return (1, new long[] { 2, 3, 4, 100, int.MaxValue });
        }

        return null;
    }

    /// <summary>
    /// <paramref name="operation"/>, or the one value the graph captured when it is a capture that nothing assigns
    /// again (the value a <c>switch</c> compares in each of its cases).
    /// </summary>
    private static IOperation? Captured(LeakFlowAnalysis analysis, IOperation operation)
    {
        var value = TrackedVariables.Unwrap(operation);
        for (var depth = 0; depth < 4 && value is IFlowCaptureReferenceOperation capture; depth++)
        {
            if (analysis.Variables.AssignedCaptures.Contains(capture.Id) || analysis.Facts.CapturedValues(capture.Id) is not { Count: 1 } values)
            {
                return value;
            }

            value = TrackedVariables.Unwrap(values[0]);
        }

        return value;
    }

    private static Func<long, long, bool>? Relation(BinaryOperatorKind kind) => kind switch
    {
        BinaryOperatorKind.Equals => (a, b) => a == b,
        BinaryOperatorKind.NotEquals => (a, b) => a != b,
        BinaryOperatorKind.GreaterThan => (a, b) => a > b,
        BinaryOperatorKind.GreaterThanOrEqual => (a, b) => a >= b,
        BinaryOperatorKind.LessThan => (a, b) => a < b,
        BinaryOperatorKind.LessThanOrEqual => (a, b) => a <= b,
        _ => null,
    };

    private static long? Number(IOperation operation) => operation.ConstantValue is { HasValue: true, Value: var value } && value is int or long or uint or short or byte or sbyte or ushort
        ? System.Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture)
        : null;

    /// <summary>Does <paramref name="value"/> match <paramref name="pattern"/> (constants, relations, not, and, or)? Null when not known.</summary>
    private static bool? Matches(IPatternOperation pattern, long value)
    {
        switch (pattern)
        {
            case IConstantPatternOperation constant when Number(constant.Value) is { } expected:
                return value == expected;
            case IRelationalPatternOperation relational when Relation(relational.OperatorKind) is { } relation && Number(relational.Value) is { } bound:
                return relation(value, bound);
            case INegatedPatternOperation negated:
                return !Matches(negated.Pattern, value);
            case IBinaryPatternOperation binary when Matches(binary.LeftPattern, value) is { } left && Matches(binary.RightPattern, value) is { } right:
                return binary.OperatorKind == BinaryOperatorKind.Or ? left || right : left && right;
            case IDiscardPatternOperation:
                // The '_' arm of a switch expression.
                return true;
            default:
                return null;
        }
    }

    /// <summary>
    /// The member that <paramref name="flag"/> records the opening of: every <c>flag = true</c> in its type is the statement
    /// right after an <c>X.Open()</c> / <c>await X.OpenAsync()</c> of one and the same member <c>X</c>, and the flag is
    /// otherwise only set to <c>false</c> (its initializer too). Null when it is any other flag.
    /// </summary>
    public static string? MemberOpenedUnder(IFieldSymbol flag, CancellationToken cancellationToken)
    {
        string? opened = null;
        foreach (var reference in flag.ContainingType.DeclaringSyntaxReferences)
        {
            foreach (var node in reference.GetSyntax(cancellationToken).DescendantNodes())
            {
                switch (node)
                {
                    case VariableDeclaratorSyntax { Initializer.Value: var initial } declarator when declarator.Identifier.ValueText == flag.Name
                        && !initial.IsKind(SyntaxKind.FalseLiteralExpression):
                    case ArgumentSyntax { RefKindKeyword.RawKind: not 0, Expression: var passed } when NamesField(passed, flag.Name):
                        return null;
                    case AssignmentExpressionSyntax assignment when NamesField(assignment.Left, flag.Name):
                        if (!assignment.IsKind(SyntaxKind.SimpleAssignmentExpression))
                        {
                            return null;
                        }

                        if (assignment.Right.IsKind(SyntaxKind.FalseLiteralExpression))
                        {
                            break;
                        }

                        if (!assignment.Right.IsKind(SyntaxKind.TrueLiteralExpression) || OpenedJustBefore(assignment) is not { } member
                            || opened is not null && opened != member)
                        {
                            return null;
                        }

                        opened = member;
                        break;
                }
            }
        }

        return opened;
    }

    /// <summary>
    /// Is the instance field <paramref name="flag"/> written only by its initializer and by simple assignments in the
    /// constructors of its type (not in a lambda or local function there), and never passed by <c>ref</c> or <c>out</c>?
    /// </summary>
    public static bool IsSetOnlyByConstructors(IFieldSymbol flag, CancellationToken cancellationToken)
    {
        if (flag.IsStatic || flag.IsConst)
        {
            return false;
        }

        foreach (var reference in flag.ContainingType.DeclaringSyntaxReferences)
        {
            foreach (var node in reference.GetSyntax(cancellationToken).DescendantNodes())
            {
                switch (node)
                {
                    case ArgumentSyntax { RefKindKeyword.RawKind: not 0, Expression: var passed } when NamesField(passed, flag.Name):
                        return false;
                    case AssignmentExpressionSyntax assignment when NamesField(assignment.Left, flag.Name):
                        if (!assignment.IsKind(SyntaxKind.SimpleAssignmentExpression)
                            || assignment.FirstAncestorOrSelf<SyntaxNode>(n => n is ConstructorDeclarationSyntax or MemberDeclarationSyntax or AnonymousFunctionExpressionSyntax or LocalFunctionStatementSyntax)
                                is not ConstructorDeclarationSyntax { Modifiers: var modifiers } || modifiers.Any(SyntaxKind.StaticKeyword))
                        {
                            return false;
                        }

                        break;
                }
            }
        }

        return true;
    }

    private static bool NamesField(ExpressionSyntax expression, string name) => expression switch
    {
        IdentifierNameSyntax identifier => identifier.Identifier.ValueText == name,
        MemberAccessExpressionSyntax { Expression: ThisExpressionSyntax } access => access.Name.Identifier.ValueText == name,
        _ => false,
    };

    /// <summary>The member opened by the statement before the one <paramref name="assignment"/> makes up ('Connection.Open(); _opened = true;').</summary>
    private static string? OpenedJustBefore(AssignmentExpressionSyntax assignment)
    {
        if (assignment.Parent is not ExpressionStatementSyntax statement || statement.Parent is not BlockSyntax block)
        {
            return null;
        }

        var index = block.Statements.IndexOf(statement);
        if (index < 1 || block.Statements[index - 1] is not ExpressionStatementSyntax { Expression: var previous })
        {
            return null;
        }

        if (previous is AwaitExpressionSyntax awaited)
        {
            previous = awaited.Expression;
        }

        if (previous is InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax { Name.Identifier.ValueText: "ConfigureAwait", Expression: var configured } })
        {
            previous = configured;
        }

        return previous is InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax { Name.Identifier.ValueText: "Open" or "OpenAsync", Expression: var receiver } }
            && receiver is IdentifierNameSyntax or MemberAccessExpressionSyntax { Expression: ThisExpressionSyntax }
            ? ((SimpleNameSyntax)(receiver is MemberAccessExpressionSyntax access ? access.Name : receiver)).Identifier.ValueText
            : null;
    }

    private static bool IsInterlockedGuard(IInvocationOperation invocation, out IFieldSymbol? field)
    {
        field = null;
        if (!HandOffRules.IsInterlockedSwap(invocation.TargetMethod) || invocation.Arguments.Length < 2)
        {
            return false;
        }

        field = (TrackedVariables.Unwrap(invocation.Arguments[0].Value) as IFieldReferenceOperation)?.Field;
        return field is not null && invocation.Arguments[1].Value.ConstantValue.HasValue;
    }

    private static bool SetsTrue(ControlFlowGraph graph, IFieldSymbol flag)
    {
        foreach (var block in graph.Blocks)
        {
            foreach (var operation in block.Operations)
            {
                foreach (var node in operation.DescendantsAndSelf())
                {
                    if (node is ISimpleAssignmentOperation { Target: IFieldReferenceOperation target, Value.ConstantValue: { HasValue: true, Value: true } }
                        && SymbolEqualityComparer.Default.Equals(target.Field, flag))
                    {
                        return true;
                    }
                }
            }
        }

        return false;
    }
}
