// 'Released' flags: a bool local that a branch tests and that is only ever assigned true or false
// ('var released = false; ... released = true;'). Its value on the path is part of the path state, so that
// 'if (!released) conn.Release();' is followed exactly. A method with more flags than the state holds keeps the first
// ones; a branch on one of the others would fork paths that cannot both happen, so the analysis gives up there
// (it says nothing rather than something wrong). A flag given by 'ref' or 'out' to a call the analysis cannot see
// into (a virtual, abstract or interface method, a delegate) may say anything afterwards, in step with what the path
// did: a path that tests it after such a call while it holds or has released the resource is not followed.
using System.Collections.Generic;
using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.FlowAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>The flags of one graph and their values in a <see cref="PathState"/>.</summary>
internal sealed class ReleaseFlags
{
    private const int MaxFlags = 16;

    private readonly ControlFlowGraph _graph;
    private Dictionary<ILocalSymbol, int>? _flagIndexes;
    private HashSet<ILocalSymbol>? _untracked;
    private Dictionary<IMethodSymbol, (ILocalSymbol Flag, bool Value)>? _setters;
    private Dictionary<IInvocationOperation, (ILocalSymbol Flag, bool Value)>? _referenceSetters;
    private Dictionary<IInvocationOperation, List<ILocalSymbol>>? _unseenSetters;
    private Dictionary<ILocalSymbol, List<SyntaxNode>>? _setInClosures;

    public ReleaseFlags(ControlFlowGraph graph)
    {
        _graph = graph;
    }

    /// <summary>The state after <paramref name="local"/> is assigned <paramref name="value"/>: known when a constant, unknown otherwise.</summary>
    public PathState Set(PathState state, ILocalSymbol local, IOperation value)
    {
        if (!FlagIndexes.TryGetValue(local, out var index))
        {
            return state;
        }

        return With(state, index, ConstantConditions.Outcome(analysis: null, value));
    }

    /// <summary>
    /// The state after <c>flag |= true</c>, <c>flag &amp;= false</c> or <c>flag ^= true</c> (and their no-op forms with the
    /// other constant): the flag's value follows from the one it had. Any other compound assignment leaves the state as
    /// it is (a flag is only ever written with constants, see <see cref="FindFlags"/>).
    /// </summary>
    public PathState Compound(PathState state, ICompoundAssignmentOperation compound)
    {
        if (TrackedVariables.Unwrap(compound.Target) is not ILocalReferenceOperation { Local: var local }
            || !FlagIndexes.TryGetValue(local, out var index) || ConstantConditions.Outcome(analysis: null, compound.Value) is not { } operand)
        {
            return state;
        }

        var current = Value(state, local);
        bool? next = compound.OperatorKind switch
        {
            BinaryOperatorKind.Or => operand ? true : current,
            BinaryOperatorKind.And => operand ? current : false,
            BinaryOperatorKind.ExclusiveOr => operand ? !current : current,
            _ => current,
        };
        return next == current ? state : With(state, index, next);
    }

    /// <summary>
    /// The state after a call of <paramref name="method"/> returned: a local function whose last statement sets a flag
    /// (<c>void Done() { conn.Release(); released = true; }</c>) has set it. A call that throws did not get there; the
    /// path of its exception keeps the state from before the call.
    /// </summary>
    public PathState AfterCall(PathState state, IInvocationOperation invocation)
    {
        var method = invocation.TargetMethod;
        _ = FlagIndexes;
        if (_referenceSetters is not null && _referenceSetters.TryGetValue(invocation, out var byReference)
            && FlagIndexes.TryGetValue(byReference.Flag, out var referenceIndex))
        {
            // 'Mark(ref released)' with 'void Mark(ref bool flag) { ...; flag = true; }'.
            return With(state, referenceIndex, byReference.Value);
        }

        if (_unseenSetters is not null && _unseenSetters.TryGetValue(invocation, out var unseen))
        {
            // '_marker.Mark(ref released)': the flag may now be either; both of its bits set say so.
            foreach (var flag in unseen)
            {
                if (FlagIndexes.TryGetValue(flag, out var unseenIndex))
                {
                    var bits = (1UL | 1UL << 32) << unseenIndex;
                    state = new PathState(state.Status, state.Holders, state.ReleasedAt, state.Flags | bits);
                }
            }

            return state;
        }

        if (method.MethodKind != MethodKind.LocalFunction)
        {
            return state;
        }

        if (_setters is null || !_setters.TryGetValue(method, out var setter) || !FlagIndexes.TryGetValue(setter.Flag, out var index))
        {
            return state;
        }

        return With(state, index, setter.Value);
    }

    /// <summary>The state with flag <paramref name="index"/> known to be <paramref name="value"/> (null: not known).</summary>
    private static PathState With(PathState state, int index, bool? value)
    {
        var known = value is { } isTrue ? (isTrue ? 1UL : 1UL << 32) << index : 0;
        var flags = (state.Flags & ~((1UL | 1UL << 32) << index)) | known;
        return flags != state.Flags ? new PathState(state.Status, state.Holders, state.ReleasedAt, flags) : state;
    }

    /// <summary>The value of a flag on the path of <paramref name="config"/>, when it is known.</summary>
    public bool? Value(PathState config, ILocalSymbol local)
    {
        if (config.Flags == 0 || !FlagIndexes.TryGetValue(local, out var index))
        {
            return null;
        }

        return (config.Flags & (1UL << index)) != 0
            ? ((config.Flags & (1UL << (32 + index))) != 0 ? null : true)
            : (config.Flags & (1UL << (32 + index))) != 0 ? false : null;
    }

    /// <summary>
    /// Does <paramref name="condition"/> test a flag that a call the analysis cannot see into was given by reference on
    /// the path of <paramref name="state"/>, and not assigned since? That call may have set it either way, in step with
    /// what the path did (<c>Mark(ref released); conn.Release();</c>), so neither branch can be taken as the truth.
    /// </summary>
    public bool IsSetByAnUnseenCall(PathState state, IOperation condition)
    {
        if (_unseenSetters is null || state.Flags == 0 || TestedLocal(condition) is not { } local
            || !FlagIndexes.TryGetValue(local, out var index))
        {
            return false;
        }

        var bits = (1UL | 1UL << 32) << index;
        return (state.Flags & bits) == bits;
    }

    /// <summary>
    /// Does <paramref name="condition"/> test a flag that the state has no room for? Its value on the path is not known,
    /// so both branches would be followed, including the one that contradicts what the path did.
    /// </summary>
    public bool IsUntracked(IOperation condition)
    {
        _ = FlagIndexes;
        if (_untracked is null)
        {
            return false;
        }

        return TestedLocal(condition) is { } local && _untracked.Contains(local);
    }

    /// <summary>
    /// Does a write of <paramref name="name"/> in <paramref name="closure"/> set the captured variable by the time the
    /// function returns? Not when the function declares a variable of that name (the write is to its own), nor when it
    /// is <c>async</c> (the write may come after the caller went on).
    /// </summary>
    private static bool SetsCapturedNow(SyntaxNode closure, string name)
    {
        if (closure is AnonymousFunctionExpressionSyntax { AsyncKeyword.RawKind: not 0 } || closure is LocalFunctionStatementSyntax local && local.Modifiers.Any(SyntaxKind.AsyncKeyword))
        {
            return false;
        }

        foreach (var node in closure.DescendantNodesAndSelf())
        {
            var declared = node switch
            {
                VariableDeclaratorSyntax declarator => declarator.Identifier,
                ParameterSyntax parameter => parameter.Identifier,
                SingleVariableDesignationSyntax designation => designation.Identifier,
                ForEachStatementSyntax forEach => forEach.Identifier,
                CatchDeclarationSyntax catchDeclaration => catchDeclaration.Identifier,
                _ => default,
            };
            if (declared.ValueText == name)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Is the name assigned there (<c>x = ...</c>, <c>x |= ...</c>, <c>ref x</c>, <c>out x</c>)?</summary>
    private static bool IsWritten(IdentifierNameSyntax name) =>
        name.Parent is AssignmentExpressionSyntax assignment && assignment.Left == name
        || name.Parent is ArgumentSyntax argument && !argument.RefKindKeyword.IsKind(SyntaxKind.None);

    /// <summary>The local a condition tests: <c>released</c>, <c>!released</c>, <c>released == false</c>, ...</summary>
    private static ILocalSymbol? TestedLocal(IOperation? condition)
    {
        var tested = TrackedVariables.Unwrap(condition);
        while (true)
        {
            if (tested is IUnaryOperation { OperatorKind: UnaryOperatorKind.Not } not)
            {
                tested = TrackedVariables.Unwrap(not.Operand);
            }
            else if (ConditionFacts.ComparedToBool(tested) is var (operand, _))
            {
                tested = TrackedVariables.Unwrap(operand);
            }
            else
            {
                return (tested as ILocalReferenceOperation)?.Local;
            }
        }
    }

    /// <summary>
    /// Bool locals that a branch tests and that are written only with constants (<c>= true</c>, <c>|= true</c>, a
    /// deconstruction's <c>(true, 0)</c>), never by reference or from a lambda; at most <see cref="MaxFlags"/>, so that flags cannot multiply the configurations without bound
    /// (the others are untracked: <see cref="IsUntracked"/>).
    /// </summary>
    private Dictionary<ILocalSymbol, int> FlagIndexes => _flagIndexes ??= FindFlags(_graph, out _untracked, out _setters, out _setInClosures, out _referenceSetters, out _unseenSetters);

    /// <summary>
    /// Does <paramref name="condition"/> test a flag that a lambda or local function sets (not followed: it may change
    /// behind the path's back), or that a call is given by reference, where that code also releases a variable holding
    /// the resource on the path of <paramref name="state"/>? It may have released it and said so with the flag
    /// (<c>Action done = () => { conn.Release(); released = true; };</c>, <c>Release(conn, ref released);</c>), so neither
    /// branch can be taken as a leak. Releasing is <c>conn.Release()</c>, <c>conn?.Dispose()</c>, <c>using (conn)</c> with
    /// any release name, or giving the variable to a call named like a release (<c>pool.Release(conn)</c>) or to a method
    /// of the code that releases or takes over that parameter (<c>CloseQuietly(conn)</c>); a call given both the variable
    /// and the flag by reference may do either. A function that calls another one that sets the flag sets it too.
    /// A flag set by code that does not release the resource (<c>ct.Register(() => cancelled = true)</c>,
    /// <c>() => { conn.Execute(sql); ok = true; }</c>) says nothing about its release, and both branches are followed.
    /// </summary>
    public bool IsSetWhereTheResourceIsReleased(IOperation condition, PathState state, TrackedVariables variables, FlowContext context)
    {
        _ = FlagIndexes;
        if (_setInClosures is null || TestedLocal(condition) is not { } local || !_setInClosures.TryGetValue(local, out var closures))
        {
            return false;
        }

        HashSet<string>? holders = null;
        foreach (var holder in variables.HoldersOf(state))
        {
            if (holder is ILocalSymbol or IParameterSymbol)
            {
                (holders ??= new HashSet<string>()).Add(((ISymbol)holder).Name);
            }
        }

        if (holders is null)
        {
            return false;
        }

        foreach (var closure in closures)
        {
            foreach (var node in closure.DescendantNodesAndSelf())
            {
                (IdentifierNameSyntax? Receiver, string Name) released = node switch
                {
                    MemberAccessExpressionSyntax { Expression: IdentifierNameSyntax receiver, Name: var name } => (receiver, name.Identifier.ValueText),
                    ConditionalAccessExpressionSyntax { Expression: IdentifierNameSyntax receiver, WhenNotNull: InvocationExpressionSyntax { Expression: MemberBindingExpressionSyntax { Name: var name } } } => (receiver, name.Identifier.ValueText),
                    UsingStatementSyntax { Expression: IdentifierNameSyntax receiver } => (receiver, "Dispose"),
                    _ => (null, ""),
                };
                if (released.Receiver is { } named && holders.Contains(named.Identifier.ValueText)
                    && (context.Names.ReleaseNames.Contains(released.Name) || node is UsingStatementSyntax))
                {
                    return true;
                }

                if (node is InvocationExpressionSyntax invocation && GivesAwayAHolder(invocation, holders, local.Name, context))
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>
    /// Is a variable named in <paramref name="holders"/> an argument of <paramref name="invocation"/> that may release it:
    /// a call named like a release, a method of the code that releases or takes over that parameter, or a call that is
    /// also given the flag <paramref name="flag"/> by reference?
    /// </summary>
    private bool GivesAwayAHolder(InvocationExpressionSyntax invocation, HashSet<string> holders, string flag, FlowContext context)
    {
        ArgumentSyntax? given = null;
        var flagByReference = false;
        foreach (var argument in invocation.ArgumentList.Arguments)
        {
            if (argument.Expression is not IdentifierNameSyntax { Identifier.ValueText: var name })
            {
                continue;
            }

            if (holders.Contains(name))
            {
                given ??= argument;
            }
            else if (name == flag && !argument.RefKindKeyword.IsKind(SyntaxKind.None) && !argument.RefKindKeyword.IsKind(SyntaxKind.InKeyword))
            {
                flagByReference = true;
            }
        }

        if (given is null)
        {
            return false;
        }

        if (flagByReference)
        {
            return true;
        }

        var calledName = SummaryCandidates.InvokedName(invocation.Expression);
        if (calledName is not null && context.Names.ReleaseNames.Contains(calledName))
        {
            return true;
        }

        if (_graph.OriginalOperation.SemanticModel is not { } model || model.SyntaxTree != invocation.SyntaxTree
            || model.GetOperation(invocation, context.CancellationToken) is not IInvocationOperation call)
        {
            return false;
        }

        foreach (var argument in call.Arguments)
        {
            if (argument.Syntax == given && argument.Parameter is { } parameter)
            {
                return context.Summaries.EffectOn(call.TargetMethod.OriginalDefinition, parameter.Ordinal, context.CancellationToken)
                    is ParameterEffect.Releases or ParameterEffect.ReleasesUnlessItThrows or ParameterEffect.TakesOver;
            }
        }

        return false;
    }

    private static Dictionary<ILocalSymbol, int> FindFlags(
        ControlFlowGraph graph,
        out HashSet<ILocalSymbol>? untracked,
        out Dictionary<IMethodSymbol, (ILocalSymbol Flag, bool Value)>? setters,
        out Dictionary<ILocalSymbol, List<SyntaxNode>>? setInClosures,
        out Dictionary<IInvocationOperation, (ILocalSymbol Flag, bool Value)>? referenceSetters,
        out Dictionary<IInvocationOperation, List<ILocalSymbol>>? unseenSetters)
    {
        referenceSetters = null;
        unseenSetters = null;
        untracked = null;
        setters = null;
        setInClosures = null;
        var flags = new Dictionary<ILocalSymbol, int>(SymbolEqualityComparer.Default);
        HashSet<ILocalSymbol>? tested = null;
        foreach (var block in graph.Blocks)
        {
            if (block.ConditionalSuccessor is not null && TestedLocal(block.BranchValue) is { Type.SpecialType: SpecialType.System_Boolean } local)
            {
                (tested ??= new HashSet<ILocalSymbol>(SymbolEqualityComparer.Default)).Add(local);
            }
        }

        if (tested is null)
        {
            return flags;
        }

        var candidates = new Dictionary<ILocalSymbol, int>(SymbolEqualityComparer.Default);
        HashSet<ILocalSymbol>? excluded = null;
        List<SyntaxNode>? closures = null;
        HashSet<IMethodSymbol>? delegates = null;
        Dictionary<ILocalSymbol, List<SyntaxNode>>? byReference = null;
        foreach (var block in graph.Blocks)
        {
            foreach (var operation in block.Operations)
            {
                foreach (var node in operation.DescendantsAndSelf())
                {
                    switch (node)
                    {
                        case ISimpleAssignmentOperation { Target: ILocalReferenceOperation { Local: var local } } assignment when tested.Contains(local):
                            if (ConstantConditions.Outcome(analysis: null, assignment.Value) is not null && !local.IsRef)
                            {
                                AddCandidate(local);
                            }
                            else
                            {
                                Exclude(local);
                            }

                            break;
                        case ICompoundAssignmentOperation { Target: ILocalReferenceOperation { Local: var local }, OperatorMethod: null } compound
                            when tested.Contains(local) && IsConstantLogicalAssignment(compound) && !local.IsRef:
                            // 'released |= true;': as good as 'released = true;' (see Compound).
                            AddCandidate(local);

                            break;
                        case IDeconstructionAssignmentOperation deconstruction
                            when TrackedVariables.Unwrap(deconstruction.Target) is ITupleOperation targets
                                && TrackedVariables.Unwrap(deconstruction.Value) is ITupleOperation values && values.Elements.Length == targets.Elements.Length:
                            // '(released, rows) = (true, 0);': each element is assigned its own value (see Set).
                            for (var i = 0; i < targets.Elements.Length; i++)
                            {
                                if (TrackedVariables.Unwrap(targets.Elements[i]) is ILocalReferenceOperation { Local: var element }
                                    && tested.Contains(element) && !element.IsRef && ConstantConditions.Outcome(analysis: null, values.Elements[i]) is not null)
                                {
                                    AddCandidate(element);
                                }
                                else
                                {
                                    ExcludeLocalsIn(targets.Elements[i]);
                                }
                            }

                            break;
                        case IAssignmentOperation { Target: var target } and not ISimpleAssignmentOperation:
                            ExcludeLocalsIn(target);
                            break;
                        case IArgumentOperation { Parameter: { RefKind: RefKind.Ref or RefKind.Out } parameter, Value: ILocalReferenceOperation { Local: var setByCall }, Parent: IInvocationOperation setter }
                            when tested.Contains(setByCall) && ValueSetAtTheEnd(setter.TargetMethod, parameter) is { } set:
                            // 'Mark(ref released)' whose last statement is 'flag = true;': the call sets the flag when it returns.
                            (referenceSetters ??= new Dictionary<IInvocationOperation, (ILocalSymbol, bool)>()).Add(setter, (setByCall, set));
                            AddCandidate(setByCall);

                            break;
                        case IArgumentOperation { Parameter.RefKind: RefKind.Ref or RefKind.Out, Value: ILocalReferenceOperation { Local: var unseen }, Parent: IInvocationOperation unseenCall }
                            when tested.Contains(unseen) && CannotBeSeenInto(unseenCall.TargetMethod):
                            // '_marker.Mark(ref released)': followed as a flag, unknown after the call (see IsSetByAnUnseenCall).
                            unseenSetters ??= new Dictionary<IInvocationOperation, List<ILocalSymbol>>();
                            if (!unseenSetters.TryGetValue(unseenCall, out var given))
                            {
                                unseenSetters.Add(unseenCall, given = new List<ILocalSymbol>());
                            }

                            given.Add(unseen);
                            break;
                        case IArgumentOperation { Parameter.RefKind: not RefKind.None and not RefKind.In, Value: ILocalReferenceOperation { Local: var byRef } } argument:
                            Exclude(byRef);
                            if (argument.Parent is IInvocationOperation { Syntax: InvocationExpressionSyntax call } && tested.Contains(byRef))
                            {
                                // 'Release(conn, ref released)': the call may set the flag (see IsSetWhereTheResourceIsReleased).
                                byReference ??= new Dictionary<ILocalSymbol, List<SyntaxNode>>(SymbolEqualityComparer.Default);
                                if (!byReference.TryGetValue(byRef, out var calls))
                                {
                                    byReference.Add(byRef, calls = new List<SyntaxNode>());
                                }

                                calls.Add(call);
                            }

                            break;
                        case IFlowAnonymousFunctionOperation lambda:
                            (closures ??= new List<SyntaxNode>()).Add(lambda.Syntax);
                            break;
                        case IMethodReferenceOperation { Method.MethodKind: MethodKind.LocalFunction } reference:
                            // 'Action done = Done;': the local function may run whenever the delegate is called.
                            (delegates ??= new HashSet<IMethodSymbol>(SymbolEqualityComparer.Default)).Add(reference.Method.OriginalDefinition);
                            break;
                    }
                }
            }
        }

        foreach (var localFunction in graph.LocalFunctions)
        {
            foreach (var reference in localFunction.DeclaringSyntaxReferences)
            {
                (closures ??= new List<SyntaxNode>()).Add(reference.GetSyntax());
            }
        }

        // A local function whose last statement sets a flag, called only directly from this graph, sets it when a call
        // returns (see AfterCall); that assignment is not a change behind the path's back.
        var setterTargets = FindSetters(graph, closures, delegates, tested, ref setters);

        // A lambda or local function that names the flag may change it behind the path's back; those that set it are
        // remembered (see IsSetWhereTheResourceIsReleased).
        var captured = new HashSet<string>();
        Dictionary<string, List<SyntaxNode>>? setIn = null;
        if (closures is not null)
        {
            foreach (var closure in closures)
            {
                foreach (var identifier in closure.DescendantNodes())
                {
                    if (identifier is IdentifierNameSyntax name && setterTargets?.Contains(name) != true)
                    {
                        captured.Add(name.Identifier.ValueText);
                        if (IsWritten(name) && SetsCapturedNow(closure, name.Identifier.ValueText))
                        {
                            setIn ??= new Dictionary<string, List<SyntaxNode>>();
                            if (!setIn.TryGetValue(name.Identifier.ValueText, out var settingIt))
                            {
                                setIn.Add(name.Identifier.ValueText, settingIt = new List<SyntaxNode>());
                            }

                            settingIt.Add(closure);
                        }
                    }
                }
            }
        }

        if (setIn is not null)
        {
            AddCallersOfSetters(setIn, closures!);
        }

        foreach (var candidate in candidates.Keys)
        {
            if (excluded?.Contains(candidate) == true || captured.Contains(candidate.Name))
            {
                List<SyntaxNode>? settingIt = null;
                if (setIn is not null && setIn.TryGetValue(candidate.Name, out var closuresSettingIt)
                    && (excluded?.Contains(candidate) != true || byReference?.ContainsKey(candidate) == true))
                {
                    settingIt = new List<SyntaxNode>(closuresSettingIt);
                }

                if (byReference is not null && byReference.TryGetValue(candidate, out var calls))
                {
                    (settingIt ??= new List<SyntaxNode>()).AddRange(calls);
                }

                if (settingIt is not null)
                {
                    (setInClosures ??= new Dictionary<ILocalSymbol, List<SyntaxNode>>(SymbolEqualityComparer.Default)).Add(candidate, settingIt);
                }

                continue;
            }

            if (flags.Count < MaxFlags)
            {
                flags.Add(candidate, flags.Count);
            }
            else
            {
                (untracked ??= new HashSet<ILocalSymbol>(SymbolEqualityComparer.Default)).Add(candidate);
            }
        }

        return flags;

        void AddCandidate(ILocalSymbol local)
        {
            if (!candidates.ContainsKey(local))
            {
                candidates.Add(local, candidates.Count);
            }
        }

        void Exclude(ILocalSymbol local) => (excluded ??= new HashSet<ILocalSymbol>(SymbolEqualityComparer.Default)).Add(local);

        // Every local a target names ('(a, (b, c)) = ...', 'x |= y'): written in a way a flag is not.
        void ExcludeLocalsIn(IOperation target)
        {
            foreach (var written in target.DescendantsAndSelf())
            {
                if (written is ILocalReferenceOperation { Local: var local })
                {
                    Exclude(local);
                }
            }
        }
    }

    /// <summary>A bool <c>|=</c>, <c>&amp;=</c> or <c>^=</c> of a constant.</summary>
    private static bool IsConstantLogicalAssignment(ICompoundAssignmentOperation compound) =>
        compound.OperatorKind is BinaryOperatorKind.Or or BinaryOperatorKind.And or BinaryOperatorKind.ExclusiveOr
        && compound.Type?.SpecialType == SpecialType.System_Boolean
        && ConstantConditions.Outcome(analysis: null, compound.Value) is not null;

    /// <summary>
    /// A function that calls a local function setting a flag (<c>void Done() { conn.Release(); Mark(); }</c> with
    /// <c>void Mark() => released = true;</c>) sets it too, unless it is <c>async</c> or has a variable of the flag's name.
    /// </summary>
    private static void AddCallersOfSetters(Dictionary<string, List<SyntaxNode>> setIn, List<SyntaxNode> closures)
    {
        foreach (var entry in setIn)
        {
            var setting = entry.Value;
            for (var added = true; added;)
            {
                added = false;
                foreach (var closure in closures)
                {
                    if (!setting.Contains(closure) && CallsAnyOf(closure, setting) && SetsCapturedNow(closure, entry.Key))
                    {
                        setting.Add(closure);
                        added = true;
                    }
                }
            }
        }
    }

    /// <summary>Does <paramref name="closure"/> call, by name, one of the local functions in <paramref name="functions"/>?</summary>
    private static bool CallsAnyOf(SyntaxNode closure, List<SyntaxNode> functions)
    {
        foreach (var node in closure.DescendantNodes())
        {
            if (node is InvocationExpressionSyntax { Expression: IdentifierNameSyntax { Identifier.ValueText: var called } })
            {
                foreach (var function in functions)
                {
                    if (function is LocalFunctionStatementSyntax declaration && declaration.Identifier.ValueText == called)
                    {
                        return true;
                    }
                }
            }
        }

        return false;
    }

    /// <summary>
    /// The local functions of <paramref name="graph"/> that set a tested flag to a constant as their last statement
    /// (<c>released = true;</c>, or <c>=&gt; released = true</c>): not async, no <c>return</c>, <c>goto</c> or
    /// <c>yield</c> that could skip it, the flag named nowhere else in them, and called only directly from the graph
    /// itself (not made a delegate, not called from another lambda or local function). Returns the assignments' targets.
    /// </summary>
    private static HashSet<SyntaxNode>? FindSetters(ControlFlowGraph graph, List<SyntaxNode>? closures, HashSet<IMethodSymbol>? delegates, HashSet<ILocalSymbol> tested, ref Dictionary<IMethodSymbol, (ILocalSymbol Flag, bool Value)>? setters)
    {
        HashSet<SyntaxNode>? targets = null;
        foreach (var localFunction in graph.LocalFunctions)
        {
            if (localFunction.IsAsync || delegates?.Contains(localFunction.OriginalDefinition) == true
                || localFunction.DeclaringSyntaxReferences.Length != 1
                || localFunction.DeclaringSyntaxReferences[0].GetSyntax() is not LocalFunctionStatementSyntax declaration)
            {
                continue;
            }

            if (LastConstantAssignment(declaration.Body, declaration.ExpressionBody) is not ({ } target, var value))
            {
                continue;
            }

            // The local the assignment writes, by symbol: a variable of the function's own with the flag's name, or a
            // flag of the same name in another block of the method, is not the one tested.
            if (graph.OriginalOperation.SemanticModel?.GetSymbolInfo(target).Symbol is not ILocalSymbol flag || !tested.Contains(flag)
                || !IsOnlyDirectlyCalled(localFunction, closures) || !SetsOnlyAtTheEnd(declaration, target))
            {
                continue;
            }

            (setters ??= new Dictionary<IMethodSymbol, (ILocalSymbol, bool)>(SymbolEqualityComparer.Default))[localFunction.OriginalDefinition] = (flag, value);
            (targets ??= new HashSet<SyntaxNode>()).Add(target);
        }

        return targets;
    }

    /// <summary>
    /// Is <paramref name="method"/> one whose body the call may not run: virtual, abstract (an interface's too) or an
    /// override that may be overridden again, or a delegate's <c>Invoke</c>?
    /// </summary>
    private static bool CannotBeSeenInto(IMethodSymbol method) =>
        method.IsVirtual || method.IsAbstract || (method.IsOverride && !method.IsSealed) || method.MethodKind == MethodKind.DelegateInvoke;

    /// <summary>
    /// The constant a method of the code (or a local function) always leaves in its <c>ref</c>/<c>out</c> bool
    /// <paramref name="parameter"/> when it returns: its last statement is <c>flag = true;</c> (or <c>false</c>), nothing
    /// can skip it (no <c>return</c>, <c>goto</c> or <c>yield</c>), it names the parameter nowhere else, and it is neither
    /// <c>async</c> nor overridable. Null for any other method.
    /// </summary>
    private static bool? ValueSetAtTheEnd(IMethodSymbol method, IParameterSymbol parameter)
    {
        method = PartialParts.WithBody(method);
        if (parameter.Ordinal >= method.Parameters.Length)
        {
            return null;
        }

        // The implementing part of a partial method may name its parameters differently.
        parameter = method.Parameters[parameter.Ordinal];
        // An abstract method has no body: its declaration has no last statement to read.
        if (parameter.Type.SpecialType != SpecialType.System_Boolean || method.IsAsync || method.IsVirtual || method.IsOverride
            || method.DeclaringSyntaxReferences.Length != 1)
        {
            return null;
        }

        var declaration = method.DeclaringSyntaxReferences[0].GetSyntax();
        var last = declaration switch
        {
            MethodDeclarationSyntax ordinary => LastConstantAssignment(ordinary.Body, ordinary.ExpressionBody),
            LocalFunctionStatementSyntax local => LastConstantAssignment(local.Body, local.ExpressionBody),
            _ => null,
        };
        return last is ({ } target, var value) && target.Identifier.ValueText == parameter.Name && SetsOnlyAtTheEnd(declaration, target) ? value : null;
    }

    /// <summary>
    /// The name and constant of a body's last statement when it is <c>name = true;</c> or <c>name = false;</c> (or an
    /// expression body <c>=&gt; name = true</c>); null otherwise.
    /// </summary>
    private static (IdentifierNameSyntax Target, bool Value)? LastConstantAssignment(BlockSyntax? body, ArrowExpressionClauseSyntax? expressionBody)
    {
        var last = body is not null
            ? (body.Statements.Count > 0 ? body.Statements[body.Statements.Count - 1] as ExpressionStatementSyntax : null)?.Expression
            : expressionBody?.Expression;
        return last is AssignmentExpressionSyntax { RawKind: (int)SyntaxKind.SimpleAssignmentExpression, Left: IdentifierNameSyntax target } assignment
               && assignment.Right is LiteralExpressionSyntax { RawKind: (int)SyntaxKind.TrueLiteralExpression or (int)SyntaxKind.FalseLiteralExpression } literal
            ? (target, literal.IsKind(SyntaxKind.TrueLiteralExpression))
            : null;
    }

    /// <summary>No closure of the graph (the function itself included) names <paramref name="localFunction"/>: the graph alone calls it.</summary>
    private static bool IsOnlyDirectlyCalled(IMethodSymbol localFunction, List<SyntaxNode>? closures)
    {
        foreach (var closure in closures ?? new List<SyntaxNode>())
        {
            foreach (var node in closure.DescendantNodes())
            {
                if (node is IdentifierNameSyntax name && name.Identifier.ValueText == localFunction.Name)
                {
                    return false;
                }
            }
        }

        return true;
    }

    /// <summary>Nothing in the function can skip its last statement or name the flag elsewhere.</summary>
    private static bool SetsOnlyAtTheEnd(SyntaxNode declaration, IdentifierNameSyntax target)
    {
        foreach (var node in declaration.DescendantNodes())
        {
            switch (node)
            {
                case ReturnStatementSyntax or GotoStatementSyntax or YieldStatementSyntax:
                    return false;
                case IdentifierNameSyntax name when name != target && name.Identifier.ValueText == target.Identifier.ValueText:
                    // Read or written elsewhere in it (a nested lambda included): by name, as the rest of the flags' rules.
                    return false;
            }
        }

        return true;
    }
}
