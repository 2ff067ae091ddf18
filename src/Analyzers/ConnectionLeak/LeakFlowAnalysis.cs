// The driver of the flow analysis: the worklist over the expanded graph (basic block x stack of finally frames x
// path state), how a block's branches continue, and how finally regions are entered and left (where an exception
// goes is ExceptionRouting's). It also holds what the parts of one analysis share:
// the site, the rules, the current position and the state of the path being walked.
using System;
using System.Collections.Generic;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.FlowAnalysis;

namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>
/// A forward data-flow analysis of one acquisition over Roslyn's <see cref="ControlFlowGraph"/>, exceptional
/// paths included. The graph has no edges for implicit exceptions and gives <c>finally</c> regions no
/// predecessors, so this analysis walks an expanded graph: a node is a basic block plus the stack of
/// <c>finally</c> regions being run and where each continues afterwards (a branch, or an exception that
/// keeps unwinding). Every call, object creation, <c>await</c> and <c>throw</c> may raise, and sends the
/// current state to the handlers that enclose it.
/// </summary>
/// <remarks>
/// The state is a set of <see cref="PathState"/>: the resource's status and the variables (locals, parameters,
/// flow captures) that hold it. Each configuration is propagated on its own, so the analysis is exact for
/// aliasing and null checks within a path and merges nothing. After a release the configuration keeps its holders,
/// and the release (an index into the releases seen), so that the same walk finds uses and second releases of a released
/// resource (TDG004). The values of 'released' flags (bool locals only ever assigned constants) are part of the
/// configuration too, so that a release guarded by one is followed exactly. The state stays one small struct.
/// The parts: <see cref="OperationTransfer"/>, <see cref="AssignmentTransfer"/> and <see cref="InvocationTransfer"/> (the
/// transfer of each operation), <see cref="PathEffects"/> (what holding, storing, releasing and escaping do to the state),
/// <see cref="Carriers"/> (holder objects), <see cref="ExceptionRouting"/> (where an exception goes),
/// <see cref="ConditionRefinement"/>, <see cref="ConditionFacts"/> and <see cref="NullLocals"/> (branches), <see cref="ReleaseFlags"/>,
/// <see cref="AfterReleaseTracking"/> (TDG004), and <see cref="CalleeEffects"/> with the summaries (other methods).
/// </remarks>
internal sealed class LeakFlowAnalysis
{
    private const int MaxSteps = 50_000;

    private readonly CancellationToken _cancellationToken;
    private readonly HashSet<(int Block, FinallyFrame? Context, PathState State)> _visited = new();
    private readonly Queue<WorkItem> _work = new();
    private readonly List<Leak> _leaks = new();
    private readonly object? _initialHolder;
    private readonly ExceptionRouting _exceptions;
    private LocalOrigins? _origins;
    private Reopening? _reopening;
    private bool _gaveUp;
    private bool _stepLimitReached;

    private LeakFlowAnalysis(
        ControlFlowGraph graph,
        AcquisitionSite? site,
        object? initialHolder,
        FlowContext context,
        HashSet<ILocalSymbol> ownLocals,
        FlowObservations? observations)
    {
        Graph = graph;
        Site = site;
        _initialHolder = initialHolder;
        Context = context;
        Rules = context.Rules;
        Names = context.Names;
        OwnLocals = ownLocals;
        Observations = observations;
        _cancellationToken = context.CancellationToken;
        Variables = new TrackedVariables(graph);
        Flags = new ReleaseFlags(graph);
        AfterRelease = new AfterReleaseTracking(this);
        Effects = new PathEffects(this);
        Conditions = new ConditionRefinement(this);
        Transfer = new OperationTransfer(this);
        Assignments = new AssignmentTransfer(this);
        Calls = new InvocationTransfer(this);
        Callees = new CalleeEffects(this);
        Carriers = new Carriers(this);
        Facts = new ConditionFacts(this);
        Nulls = new NullLocals(this);
        _exceptions = new ExceptionRouting(this);
    }

    public ControlFlowGraph Graph { get; }

    /// <summary>The acquisition followed; null when the walk starts with a resource already held (<see cref="Observe"/>).</summary>
    public AcquisitionSite? Site { get; }

    public FlowContext Context { get; }

    /// <summary>In TDG005's walk of an owner's method: the field or auto-property that holds the connection.</summary>
    public ISymbol? HeldMember => Site is null ? _initialHolder as ISymbol : null;

    /// <summary>When inferring a summary: what the walk saw at returns, exits and yields. Null for the rules themselves.</summary>
    public FlowObservations? Observations { get; }

    public AcquisitionRules Rules { get; }

    public NameConfiguration Names { get; }

    /// <summary>The locals declared in this graph (not those of an enclosing method that a lambda captures).</summary>
    public HashSet<ILocalSymbol> OwnLocals { get; }

    public TrackedVariables Variables { get; }

    public ReleaseFlags Flags { get; }

    public AfterReleaseTracking AfterRelease { get; }

    public PathEffects Effects { get; }

    public ConditionRefinement Conditions { get; }

    public OperationTransfer Transfer { get; }

    public AssignmentTransfer Assignments { get; }

    public InvocationTransfer Calls { get; }

    public CalleeEffects Callees { get; }

    public Carriers Carriers { get; }

    public ConditionFacts Facts { get; }

    /// <summary>The locals that null tests read and that the method sets to null: known null on a path until assigned again.</summary>
    public NullLocals Nulls { get; }

    /// <summary>Where the graph's locals get their values (read once, when first needed).</summary>
    public LocalOrigins Origins => _origins ??= new LocalOrigins(Graph);

    /// <summary>Which calls may open a closed connection again (made when a path first needs it).</summary>
    public Reopening Reopening => _reopening ??= new Reopening(this);

    /// <summary>The block being walked.</summary>
    public BasicBlock Block { get; private set; } = null!;

    /// <summary>The finally regions being run around <see cref="Block"/>.</summary>
    public FinallyFrame? Frame { get; private set; }

    /// <summary>The state of the path at the operation being evaluated.</summary>
    public PathState State { get; set; }

    /// <summary>The last statement or call evaluated: where a path that leaves from here is said to leave.</summary>
    public SyntaxNode? Origin { get; set; }

    /// <summary>
    /// TDG005's walk of a Dispose method: the fields of <c>this</c> are followed like locals, a release of something else
    /// may throw, and the type's own methods called on <c>this</c> are walked too.
    /// </summary>
    public bool OwnerFields { get; private set; }

    /// <summary>The values of bool parameters known from the call that led here (<c>Dispose(true)</c>).</summary>
    public Dictionary<IParameterSymbol, bool>? KnownParameters { get; private set; }

    /// <summary>Some path hands the held resource over (returns or stores it).</summary>
    public bool HandsOff { get; set; }

    /// <summary>Some path hands the held resource over other than by returning it.</summary>
    public bool HandsOffOtherThanByReturning { get; set; }

    /// <summary>
    /// The path being walked reached a call that never returns (<see cref="EndPath"/>): nothing after it in the block
    /// runs, and the block's branches are not followed.
    /// </summary>
    public bool PathEnded { get; private set; }

    private bool GaveUp => _gaveUp;

    /// <summary>
    /// Runs the analysis; returns the leaks found (empty when the resource is released on every path), whether
    /// some path hands the resource over (returns or stores it), which tells a fix to dispose only on failure, the
    /// uses and second releases after a release, and whether the walk stopped at its step limit (then it found nothing).
    /// </summary>
    public static (IReadOnlyList<Leak> Leaks, bool HandsOff, IReadOnlyList<Misuse> Misuses, bool StepLimitReached) Run(
        ControlFlowGraph graph,
        AcquisitionSite site,
        FlowContext context,
        HashSet<ILocalSymbol> ownLocals)
    {
        var analysis = new LeakFlowAnalysis(graph, site, initialHolder: null, context, ownLocals, observations: null);
        analysis.Execute();
        if (analysis.GaveUp)
        {
            return (Array.Empty<Leak>(), analysis.HandsOff, Array.Empty<Misuse>(), analysis._stepLimitReached);
        }

        return (analysis._leaks, analysis.HandsOff, analysis.AfterRelease.Misuses(), false);
    }

    /// <summary>
    /// Runs the analysis for a summary: from <paramref name="site"/>, or from the start of the graph with the resource
    /// already held by <paramref name="holder"/> (a parameter, a captured local, a field); null when it gave up.
    /// </summary>
    public static FlowObservations? Observe(
        ControlFlowGraph graph,
        AcquisitionSite? site,
        object? holder,
        FlowContext context,
        HashSet<ILocalSymbol> ownLocals,
        bool ownerFields = false,
        Dictionary<IParameterSymbol, bool>? knownParameters = null)
    {
        var observations = new FlowObservations();
        var analysis = new LeakFlowAnalysis(graph, site, holder, context, ownLocals, observations) { OwnerFields = ownerFields, KnownParameters = knownParameters };
        analysis.Execute();
        if (analysis.GaveUp)
        {
            return null;
        }

        observations.Leaks.AddRange(analysis._leaks);
        observations.HandsOff = analysis.HandsOff;
        observations.HandsOffOtherThanByReturning = analysis.HandsOffOtherThanByReturning;
        observations.Releases = analysis.AfterRelease.ReleasedWhileHeld;
        observations.Variables = analysis.Variables;
        return observations;
    }

    public void AddLeak(Leak leak) => _leaks.Add(leak);

    /// <summary>
    /// <paramref name="call"/> never returns: like a <c>throw</c>, it sends the path's state to the handlers around it
    /// (unless it ends the process, where no handler and no <c>finally</c> runs), and the path goes no further.
    /// </summary>
    public void EndPath(IOperation call, CallEnd end)
    {
        if (end == CallEnd.Throws)
        {
            Effects.MayThrow(call);
        }

        // Nobody is left to hold, use or release anything on this path.
        State = new PathState(ResourceStatus.Escaped, HolderSet.Empty);
        PathEnded = true;
    }

    /// <summary>The path depends on something the state cannot hold: the analysis reports nothing for this acquisition.</summary>
    public void GiveUp() => _gaveUp = true;

    /// <summary>
    /// The path depends on something it cannot know: it is not followed further, and says nothing. The other paths are
    /// followed and still report. What the path would have done is unknown: it may hand the resource over (a fix then
    /// releases only on failure), and a summary, which speaks of every path, is not made.
    /// </summary>
    public PathState? LeavePath()
    {
        if (Observations is not null)
        {
            GiveUp();
        }

        HandsOff = true;
        return null;
    }

    private void Execute()
    {
        var start = new PathState(ResourceStatus.Unacquired, HolderSet.Empty);
        if (Site is { Kind: AcquisitionKind.Opened, Anchor: { } anchor })
        {
            start = new PathState(ResourceStatus.Unacquired, Variables.Bit(anchor));
        }
        else if (_initialHolder is not null)
        {
            start = new PathState(ResourceStatus.Held, Variables.Bit(_initialHolder));
        }

        Enqueue(Graph.Blocks[0], null, start, null);
        var steps = 0;
        while (_work.Count > 0 && !GaveUp)
        {
            if (++steps > MaxSteps || --Context.StepsLeft < 0)
            {
                _gaveUp = true;
                _stepLimitReached = true;
                break;
            }

            if ((steps & 255) == 0)
            {
                _cancellationToken.ThrowIfCancellationRequested();
            }

            var item = _work.Dequeue();
            try
            {
                ProcessBlock(item);
            }
            catch (InsufficientExecutionStackException)
            {
                // Nested too deep for the thread's stack (see OperationTransfer.MaxDepth): not checked, as at the step
                // limit.
                StopAtDepthLimit();
            }
        }
    }

    /// <summary>An operation nested deeper than the walk follows: the acquisition is not checked, as at the step
    /// limit.</summary>
    public void StopAtDepthLimit()
    {
        _gaveUp = true;
        _stepLimitReached = true;
        PathEnded = true;
    }

    /// <summary>Queues <paramref name="block"/> with the finally frames around it and the path's state, unless that position was seen.</summary>
    public void Enqueue(BasicBlock block, FinallyFrame? context, PathState state, SyntaxNode? origin)
    {
        if (_visited.Add((block.Ordinal, context, state)))
        {
            _work.Enqueue(new WorkItem(block, context, state, origin));
        }
    }

    private void ProcessBlock(WorkItem item)
    {
        Block = item.Block;
        Frame = item.Context;
        State = item.State;
        Origin = item.Origin;
        PathEnded = false;

        if (Block.Kind == BasicBlockKind.Exit)
        {
            ExitNormally(null);
            return;
        }

        foreach (var operation in Block.Operations)
        {
            Transfer.Evaluate(operation);
            if (PathEnded)
            {
                return;
            }

            Effects.EndOfStatement(operation);
        }

        var branchValue = Block.BranchValue;
        if (branchValue is not null)
        {
            var isResource = Transfer.Evaluate(branchValue);
            if (PathEnded)
            {
                return;
            }

            var returns = Block.ConditionalSuccessor is null && Block.FallThroughSuccessor?.Semantics == ControlFlowBranchSemantics.Return;
            if (returns)
            {
                // A connection returned before it was opened (or one that was never this method's) is not an acquisition.
                Observations?.NoteReturn(branchValue, isResource && State.Status == ResourceStatus.Held);
            }

            if (isResource && returns)
            {
                Effects.Escape(byReturning: true);
            }

            Effects.EndOfStatement(branchValue);
        }

        var fallThrough = Block.FallThroughSuccessor;
        var conditional = Block.ConditionalSuccessor;
        if (conditional is not null && branchValue is not null)
        {
            var jumpWhen = Block.ConditionKind == ControlFlowConditionKind.WhenTrue;
            var state = State;
            if (Facts.Assume(state, branchValue, jumpWhen) is { } assumed && Conditions.Refine(assumed, branchValue, jumpWhen) is { } whenJumping)
            {
                State = whenJumping;
                FollowBranch(conditional);
            }

            if (fallThrough is not null && Facts.Assume(state, branchValue, !jumpWhen) is { } assumedNot && Conditions.Refine(assumedNot, branchValue, !jumpWhen) is { } whenFalling)
            {
                State = whenFalling;
                FollowBranch(fallThrough);
            }

            return;
        }

        if (fallThrough is not null)
        {
            FollowBranch(fallThrough);
        }
    }

    private void FollowBranch(ControlFlowBranch branch)
    {
        switch (branch.Semantics)
        {
            case ControlFlowBranchSemantics.Throw:
            case ControlFlowBranchSemantics.Rethrow:
                Unwind(Block.EnclosingRegion, Frame, State, Block.BranchValue?.Syntax ?? Origin ?? LastSyntax(Block));
                return;
            case ControlFlowBranchSemantics.StructuredExceptionHandling:
                if (ExceptionRouting.FilterOf(Block.EnclosingRegion) is { } filter)
                {
                    // A filter that said no: the exception goes to the next catch clauses of the same try, then outwards.
                    _exceptions.UnwindAfterHandler(filter.EnclosingRegion!, Frame, State, Origin);
                    return;
                }

                if (Frame is { } frame)
                {
                    Resume(frame, State, Origin);
                }

                return;
            case ControlFlowBranchSemantics.ProgramTermination:
            case ControlFlowBranchSemantics.Error:
            case ControlFlowBranchSemantics.None:
                return;
        }

        var returnsValue = branch.Semantics == ControlFlowBranchSemantics.Return && Block.BranchValue is not null;
        var origin = returnsValue ? Block.BranchValue!.Syntax : Origin ?? LastSyntax(Block);
        var continuation = new Continuation(branch, 0, origin);
        Continue(continuation, Frame, State, origin);
    }

    private void Continue(Continuation continuation, FinallyFrame? context, PathState state, SyntaxNode? origin)
    {
        var branch = continuation.Branch!;
        if (continuation.NextFinally < branch.FinallyRegions.Length)
        {
            var region = branch.FinallyRegions[continuation.NextFinally];
            var next = new Continuation(branch, continuation.NextFinally + 1, continuation.ExitOrigin);
            Enqueue(Graph.Blocks[region.FirstBlockOrdinal], new FinallyFrame(region, next, context), state, origin);
            return;
        }

        var destination = branch.Destination;
        if (destination is null || destination.Kind == BasicBlockKind.Exit)
        {
            // The leak is told where the path left, not where the last finally ended.
            State = state;
            ExitNormally(continuation.ExitOrigin ?? origin);
            return;
        }

        Enqueue(destination, context, state, origin);
    }

    private void Resume(FinallyFrame frame, PathState state, SyntaxNode? origin)
    {
        var continuation = frame.Continuation;
        if (continuation.Branch is not null)
        {
            Continue(continuation, frame.Next, state, origin);
        }
        else
        {
            // The exception goes on: it is told where it was thrown, not where the finally ended.
            Unwind(continuation.TryAndFinally!.EnclosingRegion, frame.Next, state, continuation.ExitOrigin ?? origin);
        }
    }

    /// <summary>An exception raised in <paramref name="region"/>: it goes to the catches and finallys around it, or out of the method.</summary>
    public void Unwind(ControlFlowRegion? region, FinallyFrame? context, PathState state, SyntaxNode? origin) =>
        _exceptions.Unwind(region, context, state, origin);

    private void ExitNormally(SyntaxNode? origin)
    {
        Observations?.Exits.Add((State, origin ?? Origin));
        if (State.Status == ResourceStatus.Held && Observations is null && HeldByOutParameter(State))
        {
            // Left in an out/ref parameter: the caller receives it.
            HandsOff = true;
            HandsOffOtherThanByReturning = true;
            return;
        }

        if (State.Status == ResourceStatus.Held && Site is null && _initialHolder is IParameterSymbol
            && HeldByOutParameter(State, _initialHolder))
        {
            // 'Swap(ref current, value) { ...; target = value; }': the parameter followed is left in another out/ref
            // parameter, so the caller's variable given there holds it. The call hands it on.
            HandsOff = true;
            HandsOffOtherThanByReturning = true;
            return;
        }

        if (State.Status == ResourceStatus.Held)
        {
            _leaks.Add(new Leak(LeakReason.Returns, origin ?? Origin, null));
        }
    }

    private bool HeldByOutParameter(PathState state, object? except = null)
    {
        foreach (var holder in Variables.HoldersOf(state))
        {
            if (holder is IParameterSymbol { RefKind: RefKind.Ref or RefKind.Out } && !ReferenceEquals(holder, except)
                && !SymbolEqualityComparer.Default.Equals(holder as ISymbol, except as ISymbol))
            {
                return true;
            }
        }

        return false;
    }

    private static SyntaxNode? LastSyntax(BasicBlock block) =>
        block.Operations.Length > 0 ? block.Operations[block.Operations.Length - 1].Syntax : block.BranchValue?.Syntax;
}
