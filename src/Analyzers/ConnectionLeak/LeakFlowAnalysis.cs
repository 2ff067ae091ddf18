using System;
using System.Collections.Generic;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.FlowAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>One acquiring call inside one control-flow graph.</summary>
internal sealed class AcquisitionSite
{
    public AcquisitionSite(IInvocationOperation invocation, IOperation effectPoint, AcquisitionKind kind, object? anchor)
    {
        Invocation = invocation;
        EffectPoint = effectPoint;
        Kind = kind;
        Anchor = anchor;
    }

    /// <summary>The acquiring call; the diagnostic sits on it.</summary>
    public IInvocationOperation Invocation { get; }

    /// <summary>The operation after which the resource is held: the call itself, or the <c>await</c> of it.</summary>
    public IOperation EffectPoint { get; }

    public AcquisitionKind Kind { get; }

    /// <summary>For <see cref="AcquisitionKind.Opened"/>: the local (or flow capture) whose object is opened; null for <c>new X().Open()</c>.</summary>
    public object? Anchor { get; }
}

/// <summary>Why a resource leaks, most convincing first.</summary>
internal enum LeakReason
{
    Discarded,
    Overwritten,
    AcquiredAgain,
    Returns,
    ExceptionThrown,
}

/// <summary>A path on which the resource is not released.</summary>
internal readonly struct Leak
{
    public Leak(LeakReason reason, SyntaxNode? at, string? variable)
    {
        Reason = reason;
        At = at;
        Variable = variable;
    }

    public LeakReason Reason { get; }

    /// <summary>Where it happens: the throwing call, the return, the overwriting assignment.</summary>
    public SyntaxNode? At { get; }

    /// <summary>For <see cref="LeakReason.Overwritten"/>: the variable that was overwritten.</summary>
    public string? Variable { get; }
}

/// <summary>What TDG004 finds on a path after the resource was released.</summary>
internal enum MisuseKind
{
    /// <summary>A member of the released resource is used; reported on the use.</summary>
    UsedAfterRelease,

    /// <summary>The resource is released a second time; reported on the second release.</summary>
    ReleasedAgain,

    /// <summary>
    /// Released inside a <c>try</c> whose <c>finally</c> (or <c>using</c>) releases it again; reported on the explicit release,
    /// which is the one to remove.
    /// </summary>
    ReleasedBeforeFinally,
}

/// <summary>A use or a release of the resource on a path where it was already released.</summary>
internal readonly struct Misuse
{
    public Misuse(MisuseKind kind, IOperation at, IOperation other, bool closed, bool fixable, string? variable)
    {
        Kind = kind;
        At = at;
        Other = other;
        Closed = closed;
        Fixable = fixable;
        Variable = variable;
    }

    public MisuseKind Kind { get; }

    /// <summary>Where it is reported: the use, the second release, or the explicit release before the <c>finally</c>.</summary>
    public IOperation At { get; }

    /// <summary>The release it conflicts with: the earlier release, or the release in the <c>finally</c> / <c>using</c>.</summary>
    public IOperation Other { get; }

    /// <summary>For <see cref="MisuseKind.UsedAfterRelease"/>: the release was <c>Close</c>/<c>CloseAsync</c> of a <c>DbConnection</c>.</summary>
    public bool Closed { get; }

    /// <summary>Removing the reported release statement keeps the resource released on every path.</summary>
    public bool Fixable { get; }

    /// <summary>The local or parameter that holds the resource there, when there is one.</summary>
    public string? Variable { get; }
}

/// <summary>
/// A forward data-flow analysis of one acquisition over Roslyn's <see cref="ControlFlowGraph"/>, exceptional
/// paths included. The graph has no edges for implicit exceptions and gives <c>finally</c> regions no
/// predecessors, so this analysis walks an expanded graph: a node is a basic block plus the stack of
/// <c>finally</c> regions being run and where each continues afterwards (a branch, or an exception that
/// keeps unwinding). Every call, object creation, <c>await</c> and <c>throw</c> may raise, and sends the
/// current state to the handlers that enclose it.
/// </summary>
/// <remarks>
/// The state is a set of <see cref="Config"/>: the resource's status and the variables (locals, parameters,
/// flow captures) that hold it. Each configuration is propagated on its own, so the analysis is exact for
/// aliasing and null checks within a path and merges nothing. After a release the configuration keeps its holders,
/// and the release (an index into the releases seen), so that the same walk finds uses and second releases of a released
/// resource (TDG004). The values of 'released' flags (bool locals only ever assigned constants) are part of the
/// configuration too, so that a release guarded by one is followed exactly. The state stays one small struct.
/// </remarks>
internal sealed class LeakFlowAnalysis
{
    private const int MaxSteps = 50_000;
    private const int MaxFlags = 8;

    private readonly ControlFlowGraph _graph;
    private readonly AcquisitionSite _site;
    private readonly AcquisitionRules.NameConfiguration _names;
    private readonly AcquisitionRules _rules;
    private readonly HashSet<ILocalSymbol> _ownLocals;
    private readonly CancellationToken _cancellationToken;
    private readonly Dictionary<object, int> _variables = new();
    private readonly Dictionary<CaptureId, ILocalSymbol> _capturedVariables = new();
    private readonly HashSet<(int Block, Frame? Context, Config Config)> _visited = new();
    private readonly Queue<WorkItem> _work = new();
    private readonly List<Leak> _leaks = new();
    private List<ReleaseSite>? _releaseSites;
    private List<Misuse>? _misuses;
    private HashSet<IOperation>? _releasedWhileHeld;
    private Dictionary<ILocalSymbol, int>? _flagIndexes;
    private bool _releaseCall;
    private bool _gaveUp;
    private bool _handsOff;
    private HashSet<CaptureId>? _assignedCaptures;

    // Per block evaluation.
    private BasicBlock _block = null!;
    private Frame? _context;
    private Config _config;
    private SyntaxNode? _origin;

    private LeakFlowAnalysis(
        ControlFlowGraph graph,
        AcquisitionSite site,
        AcquisitionRules rules,
        AcquisitionRules.NameConfiguration names,
        HashSet<ILocalSymbol> ownLocals,
        CancellationToken cancellationToken)
    {
        _graph = graph;
        _site = site;
        _rules = rules;
        _names = names;
        _ownLocals = ownLocals;
        _cancellationToken = cancellationToken;
    }

    /// <summary>Flow captures that are assigned to: they stand for a variable, not for a value.</summary>
    private HashSet<CaptureId> AssignedCaptures => _assignedCaptures ??= FindAssignedCaptures(_graph);

    private static HashSet<CaptureId> FindAssignedCaptures(ControlFlowGraph graph)
    {
        var found = new HashSet<CaptureId>();
        foreach (var block in graph.Blocks)
        {
            foreach (var operation in block.Operations)
            {
                foreach (var node in operation.DescendantsAndSelf())
                {
                    if (node is IAssignmentOperation { Target: IFlowCaptureReferenceOperation target })
                    {
                        found.Add(target.Id);
                    }
                }
            }
        }

        return found;
    }

    private enum Status : byte
    {
        Unacquired,
        Held,
        Released,
        Escaped,
    }

    /// <summary>
    /// Runs the analysis; returns the leaks found (empty when the resource is released on every path), whether
    /// some path hands the resource over (returns or stores it), which tells a fix to dispose only on failure, and
    /// the uses and second releases after a release.
    /// </summary>
    public static (IReadOnlyList<Leak> Leaks, bool HandsOff, IReadOnlyList<Misuse> Misuses) Run(
        ControlFlowGraph graph,
        AcquisitionSite site,
        AcquisitionRules rules,
        AcquisitionRules.NameConfiguration names,
        HashSet<ILocalSymbol> ownLocals,
        CancellationToken cancellationToken)
    {
        var analysis = new LeakFlowAnalysis(graph, site, rules, names, ownLocals, cancellationToken);
        analysis.Execute();
        if (analysis._gaveUp)
        {
            return (Array.Empty<Leak>(), analysis._handsOff, Array.Empty<Misuse>());
        }

        return (analysis._leaks, analysis._handsOff, analysis.Misuses());
    }

    private IReadOnlyList<Misuse> Misuses()
    {
        if (_misuses is null)
        {
            return Array.Empty<Misuse>();
        }

        // A second release can go only where every path that reaches it has released already.
        for (var i = 0; i < _misuses.Count; i++)
        {
            var misuse = _misuses[i];
            if (misuse.Kind == MisuseKind.ReleasedAgain && _releasedWhileHeld?.Contains(misuse.At) == true)
            {
                _misuses[i] = new Misuse(misuse.Kind, misuse.At, misuse.Other, misuse.Closed, fixable: false, misuse.Variable);
            }
        }

        return _misuses;
    }

    private void Execute()
    {
        var start = new Config(Status.Unacquired, 0);
        if (_site.Kind == AcquisitionKind.Opened && _site.Anchor is not null)
        {
            start = new Config(Status.Unacquired, Bit(_site.Anchor));
        }

        Enqueue(_graph.Blocks[0], null, start, null);
        var steps = 0;
        while (_work.Count > 0 && !_gaveUp)
        {
            if (++steps > MaxSteps)
            {
                _gaveUp = true;
                break;
            }

            if ((steps & 255) == 0)
            {
                _cancellationToken.ThrowIfCancellationRequested();
            }

            var item = _work.Dequeue();
            ProcessBlock(item);
        }
    }

    private void Enqueue(BasicBlock block, Frame? context, Config config, SyntaxNode? origin)
    {
        if (_visited.Add((block.Ordinal, context, config)))
        {
            _work.Enqueue(new WorkItem(block, context, config, origin));
        }
    }

    private void ProcessBlock(WorkItem item)
    {
        _block = item.Block;
        _context = item.Context;
        _config = item.Config;
        _origin = item.Origin;

        if (_block.Kind == BasicBlockKind.Exit)
        {
            ExitNormally(null);
            return;
        }

        foreach (var operation in _block.Operations)
        {
            Evaluate(operation);
            EndOfStatement(operation);
        }

        var branchValue = _block.BranchValue;
        if (branchValue is not null)
        {
            var isResource = Evaluate(branchValue);
            if (isResource && _block.ConditionalSuccessor is null && _block.FallThroughSuccessor?.Semantics == ControlFlowBranchSemantics.Return)
            {
                Escape();
            }

            EndOfStatement(branchValue);
        }

        var fallThrough = _block.FallThroughSuccessor;
        var conditional = _block.ConditionalSuccessor;
        if (conditional is not null && branchValue is not null)
        {
            var jumpWhen = _block.ConditionKind == ControlFlowConditionKind.WhenTrue;
            var state = _config;
            if (Refine(state, branchValue, jumpWhen) is { } whenJumping)
            {
                _config = whenJumping;
                FollowBranch(conditional);
            }

            if (fallThrough is not null && Refine(state, branchValue, !jumpWhen) is { } whenFalling)
            {
                _config = whenFalling;
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
                Unwind(_block.EnclosingRegion, _context, _config, _block.BranchValue?.Syntax ?? _origin ?? LastSyntax(_block));
                return;
            case ControlFlowBranchSemantics.StructuredExceptionHandling:
                if (IsInFilter(_block.EnclosingRegion))
                {
                    // A filter that said no: the exception keeps unwinding.
                    Unwind(_block.EnclosingRegion, _context, _config, _origin);
                    return;
                }

                if (_context is { } frame)
                {
                    Resume(frame, _config, _origin);
                }

                return;
            case ControlFlowBranchSemantics.ProgramTermination:
            case ControlFlowBranchSemantics.Error:
            case ControlFlowBranchSemantics.None:
                return;
        }

        var returnsValue = branch.Semantics == ControlFlowBranchSemantics.Return && _block.BranchValue is not null;
        var origin = returnsValue ? _block.BranchValue!.Syntax : _origin ?? LastSyntax(_block);
        var continuation = new Continuation(branch, 0, origin);
        Continue(continuation, _context, _config, origin);
    }

    private void Continue(Continuation continuation, Frame? context, Config config, SyntaxNode? origin)
    {
        var branch = continuation.Branch!;
        if (continuation.NextFinally < branch.FinallyRegions.Length)
        {
            var region = branch.FinallyRegions[continuation.NextFinally];
            var next = new Continuation(branch, continuation.NextFinally + 1, continuation.ExitOrigin);
            Enqueue(_graph.Blocks[region.FirstBlockOrdinal], new Frame(region, next, context), config, origin);
            return;
        }

        var destination = branch.Destination;
        if (destination is null || destination.Kind == BasicBlockKind.Exit)
        {
            // The leak is told where the path left, not where the last finally ended.
            _config = config;
            ExitNormally(continuation.ExitOrigin ?? origin);
            return;
        }

        Enqueue(destination, context, config, origin);
    }

    private void Resume(Frame frame, Config config, SyntaxNode? origin)
    {
        var continuation = frame.Continuation;
        if (continuation.Branch is not null)
        {
            Continue(continuation, frame.Next, config, origin);
        }
        else
        {
            Unwind(continuation.TryAndFinally!.EnclosingRegion, frame.Next, config, origin);
        }
    }

    /// <summary>An exception raised in <paramref name="region"/>: it goes to the catches and finallys around it, or out of the method.</summary>
    private void Unwind(ControlFlowRegion? region, Frame? context, Config config, SyntaxNode? origin)
    {
        for (var current = region; current is not null;)
        {
            switch (current.Kind)
            {
                case ControlFlowRegionKind.Try:
                    var parent = current.EnclosingRegion!;
                    if (parent.Kind == ControlFlowRegionKind.TryAndCatch)
                    {
                        for (var i = 1; i < parent.NestedRegions.Length; i++)
                        {
                            var handler = parent.NestedRegions[i];
                            Enqueue(_graph.Blocks[handler.FirstBlockOrdinal], context, config, origin);
                            if (IsCatchAll(handler))
                            {
                                return;
                            }
                        }

                        current = parent.EnclosingRegion;
                        continue;
                    }

                    if (parent.Kind == ControlFlowRegionKind.TryAndFinally)
                    {
                        var finallyRegion = parent.NestedRegions[1];
                        Enqueue(_graph.Blocks[finallyRegion.FirstBlockOrdinal], new Frame(finallyRegion, new Continuation(parent), context), config, origin);
                        return;
                    }

                    current = parent;
                    continue;
                case ControlFlowRegionKind.Catch:
                case ControlFlowRegionKind.Filter:
                case ControlFlowRegionKind.FilterAndHandler:
                    var tryAndCatch = current;
                    while (tryAndCatch is not null && tryAndCatch.Kind != ControlFlowRegionKind.TryAndCatch)
                    {
                        tryAndCatch = tryAndCatch.EnclosingRegion;
                    }

                    current = tryAndCatch?.EnclosingRegion;
                    continue;
                case ControlFlowRegionKind.Finally:
                    if (context is not null && context.Region == current)
                    {
                        context = context.Next;
                    }

                    current = current.EnclosingRegion?.EnclosingRegion;
                    continue;
                case ControlFlowRegionKind.Root:
                    if (config.Status == Status.Held)
                    {
                        _leaks.Add(new Leak(LeakReason.ExceptionThrown, origin, null));
                    }

                    return;
                default:
                    current = current.EnclosingRegion;
                    continue;
            }
        }
    }

    private void ExitNormally(SyntaxNode? origin)
    {
        if (_config.Status == Status.Held)
        {
            _leaks.Add(new Leak(LeakReason.Returns, origin ?? _origin, null));
        }
    }

    private static bool IsInFilter(ControlFlowRegion region)
    {
        for (var current = region; current is not null; current = current.EnclosingRegion)
        {
            switch (current.Kind)
            {
                case ControlFlowRegionKind.Filter:
                    return true;
                case ControlFlowRegionKind.Try:
                case ControlFlowRegionKind.Catch:
                case ControlFlowRegionKind.Finally:
                case ControlFlowRegionKind.Root:
                    return false;
            }
        }

        return false;
    }

    private static bool IsCatchAll(ControlFlowRegion handler)
    {
        if (handler.Kind != ControlFlowRegionKind.Catch)
        {
            return false;
        }

        var type = handler.ExceptionType;
        return type is null
            || type.SpecialType == SpecialType.System_Object
            || type is { Name: "Exception", ContainingNamespace: { Name: "System", ContainingNamespace.IsGlobalNamespace: true } };
    }

    private static SyntaxNode? LastSyntax(BasicBlock block) =>
        block.Operations.Length > 0 ? block.Operations[block.Operations.Length - 1].Syntax : block.BranchValue?.Syntax;

    // ---------------------------------------------------------------------------------------------
    // Evaluation of one operation tree, in evaluation order, for the current configuration.
    // Returns whether the operation's value is the tracked resource.
    // ---------------------------------------------------------------------------------------------

    private bool Evaluate(IOperation? operation)
    {
        if (operation is null)
        {
            return false;
        }

        if (ReferenceEquals(operation, _site.EffectPoint))
        {
            return EvaluateAcquisition(operation);
        }

        switch (operation)
        {
            case ILocalReferenceOperation local:
                return Holds(local.Local);
            case IParameterReferenceOperation parameter:
                return Holds(parameter.Parameter);
            case IFlowCaptureReferenceOperation captureReference:
                return Holds(captureReference.Id);
            case IFlowCaptureOperation capture:
            {
                if (Unwrap(capture.Value) is ILocalReferenceOperation { Local: var capturedLocal } && AssignedCaptures.Contains(capture.Id))
                {
                    // The graph captured a variable that is assigned later ('x = a ?? b'): the capture stands for the variable.
                    _capturedVariables[capture.Id] = capturedLocal;
                    return false;
                }

                var value = Evaluate(capture.Value);
                Store(capture.Id, value, capture.Value, isCapture: true, operation);
                return false;
            }

            case ISimpleAssignmentOperation assignment:
                return EvaluateAssignment(assignment);
            case IConversionOperation conversion:
                return Evaluate(conversion.Operand);
            case IAwaitOperation awaitOperation:
            {
                _releaseCall = false;
                var value = Evaluate(awaitOperation.Operation);
                if (!_releaseCall)
                {
                    // Like the release calls themselves, awaiting one is taken not to throw.
                    MayThrow(operation);
                }

                _releaseCall = false;
                return value;
            }

            case IInvocationOperation invocation:
                return EvaluateInvocation(invocation);
            case IObjectCreationOperation creation:
                return EvaluateCreation(creation);
            case IArgumentOperation argument:
                return Evaluate(argument.Value);
            case IIsPatternOperation isPattern:
            {
                var value = Evaluate(isPattern.Value);
                if (value)
                {
                    BindPattern(isPattern.Pattern);
                }

                return false;
            }

            case IReturnOperation returnOperation:
                // 'yield return' stays an operation in the graph: the value goes to the caller.
                if (Evaluate(returnOperation.ReturnedValue))
                {
                    Escape();
                }

                return false;
            case IDynamicInvocationOperation:
            case IDynamicObjectCreationOperation:
            case ITypeParameterObjectCreationOperation:
            {
                var any = EvaluateChildren(operation);
                MayThrow(operation);
                if (any)
                {
                    Escape();
                }

                return false;
            }

            case IInvalidOperation:
                if (EvaluateChildren(operation))
                {
                    Escape();
                }

                return false;
            case IFlowAnonymousFunctionOperation:
            case ILiteralOperation:
            case IDefaultValueOperation:
            case IInstanceReferenceOperation:
            case ITypeOfOperation:
            case ISizeOfOperation:
            case INameOfOperation:
                return false;
            case IArrayCreationOperation:
            case IArrayInitializerOperation:
                // Stored in an array: a collection of connections is released element by element elsewhere.
                if (EvaluateChildren(operation))
                {
                    Escape();
                }

                return false;
            case ITupleOperation:
            case IAnonymousObjectCreationOperation:
                return EvaluateChildren(operation);
            case IMemberReferenceOperation { Instance: { } instance } member and (IPropertyReferenceOperation or IFieldReferenceOperation or IEventReferenceOperation):
            {
                var used = Evaluate(instance);
                if (member is IPropertyReferenceOperation property)
                {
                    foreach (var argument in property.Arguments)
                    {
                        Evaluate(argument);
                    }
                }

                if (used && IsTrackedAfterRelease)
                {
                    UseAfterRelease(member, instance, member.Member);
                }

                return false;
            }

            case IPropertyReferenceOperation:
            case IFieldReferenceOperation:
            case IMethodReferenceOperation:
            case IEventReferenceOperation:
            case IArrayElementReferenceOperation:
            case IBinaryOperation:
            case IUnaryOperation:
            case IIsTypeOperation:
            case IIsNullOperation:
            case ICaughtExceptionOperation:
            case IInterpolatedStringOperation:
            case IDelegateCreationOperation:
            case ICompoundAssignmentOperation:
            case IIncrementOrDecrementOperation:
                EvaluateChildren(operation);
                return false;
            default:
                // Unknown shapes: whatever they build from the resource is taken to hold it.
                return EvaluateChildren(operation);
        }
    }

    private bool EvaluateChildren(IOperation operation)
    {
        var any = false;
        foreach (var child in operation.ChildOperations)
        {
            any |= Evaluate(child);
        }

        return any;
    }

    private bool EvaluateAcquisition(IOperation effectPoint)
    {
        if (effectPoint is IAwaitOperation awaitOperation)
        {
            Evaluate(awaitOperation.Operation);
            MayThrow(effectPoint);
        }
        else
        {
            var invocation = (IInvocationOperation)effectPoint;
            Evaluate(invocation.Instance);
            foreach (var argument in invocation.Arguments)
            {
                Evaluate(argument);
            }

            MayThrow(effectPoint);
        }

        if (_config.Status == Status.Held)
        {
            _leaks.Add(new Leak(LeakReason.AcquiredAgain, _site.Invocation.Syntax, null));
        }
        else if (_site.Kind == AcquisitionKind.Opened && IsTrackedAfterRelease && !ReleaseSiteOf(_config).Closes && _site.Anchor is not null && Holds(_site.Anchor))
        {
            // Opening a disposed connection again (the loop came back to the Open after a Dispose).
            AddMisuse(MisuseKind.UsedAfterRelease, _site.Invocation, ReleaseSiteOf(_config).Operation, _site.Invocation.Instance);
        }

        if (_site.Kind == AcquisitionKind.Returned)
        {
            _config = new Config(Status.Held, 0, 0, _config.Flags);
            return true;
        }

        // Opened: the object in the receiver is now an open connection, unless it belongs to someone else.
        if (_config.Status == Status.Escaped)
        {
            return false;
        }

        var holders = _config.Status is Status.Unacquired or Status.Released ? _config.Holders : 0UL;
        if (_site.Anchor is not null)
        {
            holders |= Bit(_site.Anchor);
        }

        _config = new Config(Status.Held, holders, 0, _config.Flags);
        return false;
    }

    private bool EvaluateAssignment(ISimpleAssignmentOperation assignment)
    {
        var target = assignment.Target;
        switch (target)
        {
            case IFieldReferenceOperation field:
                Evaluate(field.Instance);
                break;
            case IPropertyReferenceOperation property:
                Evaluate(property.Instance);
                foreach (var argument in property.Arguments)
                {
                    Evaluate(argument);
                }

                break;
            case IArrayElementReferenceOperation element:
                Evaluate(element.ArrayReference);
                foreach (var index in element.Indices)
                {
                    Evaluate(index);
                }

                break;
        }

        var value = Evaluate(assignment.Value);
        if (target is IFlowCaptureReferenceOperation targetCapture && _capturedVariables.TryGetValue(targetCapture.Id, out var capturedLocal))
        {
            // The graph captured the variable before evaluating the value ('x = a ?? b'): it is the variable that is assigned.
            StoreLocal(capturedLocal, value, assignment);
            return value;
        }

        switch (target)
        {
            case ILocalReferenceOperation local:
                if (local.Local.Type.SpecialType == SpecialType.System_Boolean)
                {
                    SetFlag(local.Local, assignment.Value);
                }

                StoreLocal(local.Local, value, assignment);
                break;
            case IParameterReferenceOperation parameter:
                if (parameter.Parameter.RefKind != RefKind.None)
                {
                    if (value)
                    {
                        Escape();
                    }

                    break;
                }

                Store(parameter.Parameter, value, assignment.Value, isCapture: false, assignment);
                break;
            case IFlowCaptureReferenceOperation captureReference:
                Store(captureReference.Id, value, assignment.Value, isCapture: true, assignment);
                break;
            case IDiscardOperation:
                break;
            default:
                // A field, property, array element, event or anything else outside the method.
                if (value)
                {
                    Escape();
                }

                break;
        }

        return value;
    }

    private void StoreLocal(ILocalSymbol local, bool value, ISimpleAssignmentOperation assignment)
    {
        if (!_ownLocals.Contains(local) || local.IsRef)
        {
            // A local of an enclosing method (captured by this lambda) or a ref local: the value leaves.
            if (value)
            {
                Escape();
            }

            return;
        }

        Store(local, value, assignment.Value, isCapture: false, assignment);
    }

    private bool EvaluateInvocation(IInvocationOperation invocation)
    {
        var instanceIsResource = Evaluate(invocation.Instance);
        var argumentIsResource = false;
        var firstArgumentIsResource = false;
        var passedByRef = false;
        for (var i = 0; i < invocation.Arguments.Length; i++)
        {
            var argument = invocation.Arguments[i];
            var isResource = Evaluate(argument);
            argumentIsResource |= isResource;
            if (i == 0)
            {
                firstArgumentIsResource = isResource;
            }

            if (isResource && argument.Parameter?.RefKind is RefKind.Ref)
            {
                passedByRef = true;
            }
        }

        var method = invocation.TargetMethod;
        var name = method.Name;
        if (_names.ReleaseNames.Contains(name))
        {
            if (instanceIsResource || argumentIsResource)
            {
                // Close on a DbConnection gives the connection back but leaves the object usable: Open may follow.
                var closes = instanceIsResource && name is "Close" or "CloseAsync" && _rules.IsDbConnection(method.ContainingType);
                Release(invocation, closes, instanceIsResource ? invocation.Instance : null);
                _releaseCall = true;
            }

            return false;
        }

        if (name is "ConfigureAwait" or "AsTask" or "Preserve")
        {
            return instanceIsResource || (method.IsExtensionMethod && firstArgumentIsResource);
        }

        if (name == "FromResult" && method.IsStatic && method.ContainingType is { Name: "Task" or "ValueTask" })
        {
            // A completed task of the resource: whoever receives the task receives the resource.
            return firstArgumentIsResource;
        }

        if (IsTrackedAfterRelease && !ReferenceEquals(invocation, _site.Invocation))
        {
            if (instanceIsResource)
            {
                UseAfterRelease(invocation, invocation.Instance, method);
            }
            else if (method.IsExtensionMethod && firstArgumentIsResource)
            {
                UseAfterRelease(invocation, invocation.Arguments[0].Value, method);
            }
        }

        // A hand-off (into a collection, or by ref) counts from the moment of the call, even if the call throws.
        if (argumentIsResource && (passedByRef || IsCollectionAdd(name)))
        {
            Escape();
        }

        MayThrow(invocation);

        foreach (var argument in invocation.Arguments)
        {
            if (argument.Parameter?.RefKind == RefKind.Out && Unwrap(argument.Value) is ILocalReferenceOperation outLocal)
            {
                Store(outLocal.Local, false, null, isCapture: false, argument);
            }
        }

        return false;
    }

    private bool EvaluateCreation(IObjectCreationOperation creation)
    {
        var argumentIsResource = false;
        foreach (var argument in creation.Arguments)
        {
            argumentIsResource |= Evaluate(argument);
        }

        // A wrapper that takes ownership is responsible for the resource from the call on, even if it throws.
        var wrapped = argumentIsResource && IsOwningWrapper(creation.Type);
        if (wrapped && _config.Status == Status.Released)
        {
            // A released resource given to a wrapper: the wrapper's business from here on.
            Escape();
            wrapped = false;
        }

        if (!wrapped)
        {
            MayThrow(creation);
        }

        // Member initializers assign into the new object: handing the resource to one is a hand-off.
        Evaluate(creation.Initializer);
        return wrapped;
    }

    private void BindPattern(IPatternOperation pattern)
    {
        switch (pattern)
        {
            case IDeclarationPatternOperation { DeclaredSymbol: ILocalSymbol declared }:
                Store(declared, true, null, isCapture: false, pattern);
                break;
            case IRecursivePatternOperation { DeclaredSymbol: ILocalSymbol declared }:
                Store(declared, true, null, isCapture: false, pattern);
                break;
        }
    }

    private void Store(object variable, bool value, IOperation? valueOperation, bool isCapture, IOperation at)
    {
        if (_config.Status is Status.Released or Status.Escaped)
        {
            if (_site.Kind == AcquisitionKind.Opened && Equals(variable, _site.Anchor))
            {
                // A new object in the opened variable: track it from scratch.
                _config = new Config(Status.Unacquired, Bit(variable) | AliasOf(valueOperation), 0, _config.Flags);
            }
            else if (IsTrackedAfterRelease)
            {
                var holders = value ? _config.Holders | Bit(variable) : _config.Holders & ~KnownBit(variable);
                _config = holders == 0 ? new Config(Status.Released, 0) : _config.With(holders);
            }

            return;
        }

        if (_config.Status == Status.Unacquired)
        {
            if (_site.Kind != AcquisitionKind.Opened)
            {
                return;
            }

            if (Equals(variable, _site.Anchor))
            {
                _config = new Config(Status.Unacquired, Bit(variable) | (value ? _config.Holders : AliasOf(valueOperation)), 0, _config.Flags);
            }
            else
            {
                _config = value ? _config.With(_config.Holders | Bit(variable)) : _config.With(_config.Holders & ~Bit(variable));
            }

            return;
        }

        // Held.
        if (value)
        {
            _config = _config.With(_config.Holders | Bit(variable));
            return;
        }

        var bit = Bit(variable);
        if ((_config.Holders & bit) == 0)
        {
            return;
        }

        _config = _config.With(_config.Holders & ~bit);
        if (_config.Holders == 0 && !isCapture)
        {
            var name = (variable as ISymbol)?.Name;
            _leaks.Add(new Leak(LeakReason.Overwritten, at.Syntax, name));
            _config = new Config(Status.Released, 0);
        }
    }

    private ulong AliasOf(IOperation? valueOperation)
    {
        switch (Unwrap(valueOperation))
        {
            case ILocalReferenceOperation local:
                return Bit(local.Local);
            case IFlowCaptureReferenceOperation capture:
                return Bit(capture.Id);
            case IParameterReferenceOperation parameter:
                return Bit(parameter.Parameter);
            default:
                return 0;
        }
    }

    private void EndOfStatement(IOperation statement)
    {
        if (_config.Status == Status.Held && _config.Holders == 0)
        {
            _leaks.Add(new Leak(LeakReason.Discarded, statement.Syntax, null));
            _config = new Config(Status.Released, 0);
        }
        else if (_config.Status != Status.Unacquired)
        {
            _origin = statement.Syntax;
        }
    }

    private void MayThrow(IOperation operation)
    {
        Unwind(_block.EnclosingRegion, _context, _config, operation.Syntax);
        _origin = operation.Syntax;
    }

    private void Release(IOperation release, bool closes, IOperation? receiver)
    {
        if (_config.Status == Status.Held)
        {
            (_releasedWhileHeld ??= new HashSet<IOperation>()).Add(release);
            _config = new Config(Status.Released, _config.Holders, ReleaseSiteIndex(release, closes), _config.Flags);
            return;
        }

        if (!IsTrackedAfterRelease)
        {
            return;
        }

        var first = ReleaseSiteOf(_config);
        if (first.Closes)
        {
            // Close, then Dispose (or Close again): the documented, harmless DbConnection pattern.
            if (!closes)
            {
                _config = new Config(Status.Released, _config.Holders, ReleaseSiteIndex(release, closes: false), _config.Flags);
            }

            return;
        }

        if (FinallyAfter(first.BlockOrdinal))
        {
            AddMisuse(MisuseKind.ReleasedBeforeFinally, first.Operation, release, first.Receiver);
        }
        else
        {
            AddMisuse(MisuseKind.ReleasedAgain, release, first.Operation, receiver);
        }
    }

    /// <summary>Is the current block in a <c>finally</c> (a <c>using</c>'s included) whose <c>try</c> contains <paramref name="blockOrdinal"/>?</summary>
    private bool FinallyAfter(int blockOrdinal)
    {
        for (var region = _block.EnclosingRegion; region is not null; region = region.EnclosingRegion)
        {
            if (region.Kind == ControlFlowRegionKind.Finally && region.EnclosingRegion is { Kind: ControlFlowRegionKind.TryAndFinally } tryAndFinally)
            {
                var tryRegion = tryAndFinally.NestedRegions[0];
                if (tryRegion.FirstBlockOrdinal <= blockOrdinal && blockOrdinal <= tryRegion.LastBlockOrdinal)
                {
                    return true;
                }
            }
        }

        return false;
    }

    private void Escape()
    {
        if (_config.Status is Status.Held or Status.Unacquired)
        {
            _handsOff |= _config.Status == Status.Held;
            _config = new Config(Status.Escaped, 0);
        }
        else if (IsTrackedAfterRelease)
        {
            // A released resource handed over: whatever happens to it next is not this method's doing.
            _config = new Config(Status.Released, 0);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // After a release (TDG004): uses and second releases on the same path.
    // ---------------------------------------------------------------------------------------------

    /// <summary>Released, and some variable still holds the released resource.</summary>
    private bool IsTrackedAfterRelease => _config.Status == Status.Released && _config.ReleasedAt != 0;

    private ReleaseSite ReleaseSiteOf(Config config) => _releaseSites![config.ReleasedAt - 1];

    private int ReleaseSiteIndex(IOperation release, bool closes)
    {
        _releaseSites ??= new List<ReleaseSite>();
        for (var i = 0; i < _releaseSites.Count; i++)
        {
            if (ReferenceEquals(_releaseSites[i].Operation, release) && _releaseSites[i].Closes == closes)
            {
                return i + 1;
            }
        }

        _releaseSites.Add(new ReleaseSite(release, _block.Ordinal, closes, ReceiverOf(release)));
        return _releaseSites.Count;
    }

    private IOperation? ReceiverOf(IOperation release)
    {
        if (release is not IInvocationOperation invocation)
        {
            return null;
        }

        if (invocation.Instance is not null)
        {
            return invocation.Instance;
        }

        foreach (var argument in invocation.Arguments)
        {
            if (HeldBy(_config, argument.Value))
            {
                return argument.Value;
            }
        }

        return null;
    }

    /// <summary>A member of the released resource is used: reported unless it is harmless after this kind of release.</summary>
    private void UseAfterRelease(IOperation use, IOperation? receiver, ISymbol member)
    {
        if (member.Name == "State" || member.ContainingType?.SpecialType == SpecialType.System_Object || member.Name is "GetType" or "ToString" or "GetHashCode" or "Equals")
        {
            return;
        }

        var release = ReleaseSiteOf(_config);
        if (release.Closes)
        {
            if (member is IMethodSymbol { Name: "Open" or "OpenAsync" })
            {
                // Opened again: that Open is an acquisition of its own, and its own analysis follows the connection.
                _config = new Config(Status.Released, 0);
                return;
            }

            if (!NeedsOpenConnection(member.Name))
            {
                // A closed DbConnection keeps its settings, and Dapper opens and closes a closed connection by itself.
                return;
            }
        }

        AddMisuse(MisuseKind.UsedAfterRelease, use, release.Operation, receiver);
    }

    /// <summary>DbConnection members that throw on a closed connection.</summary>
    private static bool NeedsOpenConnection(string name) =>
        name is "BeginTransaction" or "BeginTransactionAsync" or "ChangeDatabase" or "ChangeDatabaseAsync" or "EnlistTransaction"
            or "GetSchema" or "GetSchemaAsync" or "ServerVersion" or "ServerThread" or "ResetConnectionAsync";

    private void AddMisuse(MisuseKind kind, IOperation at, IOperation other, IOperation? receiver)
    {
        _misuses ??= new List<Misuse>();
        foreach (var existing in _misuses)
        {
            if (existing.Kind == kind && ReferenceEquals(existing.At, at))
            {
                return;
            }
        }

        var closed = kind == MisuseKind.UsedAfterRelease && ReleaseSiteOf(_config).Closes;
        _misuses.Add(new Misuse(kind, at, other, closed, fixable: kind != MisuseKind.UsedAfterRelease, VariableName(receiver)));
    }

    /// <summary>The receiver's name when it is a variable; otherwise a local or parameter that holds the resource.</summary>
    private string? VariableName(IOperation? receiver)
    {
        switch (Unwrap(receiver))
        {
            case ILocalReferenceOperation local:
                return local.Local.Name;
            case IParameterReferenceOperation parameter:
                return parameter.Parameter.Name;
        }

        string? name = null;
        var lowest = int.MaxValue;
        foreach (var entry in _variables)
        {
            if (entry.Value < lowest && (_config.Holders & (1UL << entry.Value)) != 0 && entry.Key is ILocalSymbol or IParameterSymbol)
            {
                lowest = entry.Value;
                name = ((ISymbol)entry.Key).Name;
            }
        }

        return name;
    }

    // ---------------------------------------------------------------------------------------------
    // Flags: a bool local that is only ever assigned true or false ('var released = false; ... released = true;').
    // Its value on the path is part of the configuration, so 'if (!released) conn.Release();' is followed exactly.
    // ---------------------------------------------------------------------------------------------

    private void SetFlag(ILocalSymbol local, IOperation value)
    {
        if (!FlagIndexes.TryGetValue(local, out var index))
        {
            return;
        }

        var known = value.ConstantValue is { HasValue: true, Value: bool isTrue } ? (isTrue ? 1UL : 1UL << 32) << index : 0;
        var flags = (_config.Flags & ~((1UL | 1UL << 32) << index)) | known;
        if (flags != _config.Flags)
        {
            _config = new Config(_config.Status, _config.Holders, _config.ReleasedAt, flags);
        }
    }

    /// <summary>The value of a flag on the path of <paramref name="config"/>, when it is known.</summary>
    private bool? FlagValue(Config config, ILocalSymbol local)
    {
        if (config.Flags == 0 || !FlagIndexes.TryGetValue(local, out var index))
        {
            return null;
        }

        return (config.Flags & (1UL << index)) != 0 ? true : (config.Flags & (1UL << (32 + index))) != 0 ? false : null;
    }

    /// <summary>
    /// Bool locals that a branch tests and that are written only by plain assignments of constants, never by reference or
    /// from a lambda; at most <see cref="MaxFlags"/>, so that flags cannot multiply the configurations without bound.
    /// </summary>
    private Dictionary<ILocalSymbol, int> FlagIndexes => _flagIndexes ??= FindFlags(_graph);

    private static Dictionary<ILocalSymbol, int> FindFlags(ControlFlowGraph graph)
    {
        var flags = new Dictionary<ILocalSymbol, int>(SymbolEqualityComparer.Default);
        HashSet<ILocalSymbol>? tested = null;
        foreach (var block in graph.Blocks)
        {
            var condition = Unwrap(block.BranchValue);
            while (condition is IUnaryOperation { OperatorKind: UnaryOperatorKind.Not } not)
            {
                condition = Unwrap(not.Operand);
            }

            if (block.ConditionalSuccessor is not null && condition is ILocalReferenceOperation { Local: var local } && local.Type.SpecialType == SpecialType.System_Boolean)
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
        foreach (var block in graph.Blocks)
        {
            foreach (var operation in block.Operations)
            {
                foreach (var node in operation.DescendantsAndSelf())
                {
                    switch (node)
                    {
                        case ISimpleAssignmentOperation { Target: ILocalReferenceOperation { Local: var local } } assignment when tested.Contains(local):
                            if (assignment.Value.ConstantValue is { HasValue: true, Value: bool } && !local.IsRef)
                            {
                                if (!candidates.ContainsKey(local))
                                {
                                    candidates.Add(local, candidates.Count);
                                }
                            }
                            else
                            {
                                (excluded ??= new HashSet<ILocalSymbol>(SymbolEqualityComparer.Default)).Add(local);
                            }

                            break;
                        case IAssignmentOperation { Target: var target } and not ISimpleAssignmentOperation:
                            foreach (var written in target.DescendantsAndSelf())
                            {
                                if (written is ILocalReferenceOperation { Local: var writtenLocal })
                                {
                                    (excluded ??= new HashSet<ILocalSymbol>(SymbolEqualityComparer.Default)).Add(writtenLocal);
                                }
                            }

                            break;
                        case IArgumentOperation { Parameter.RefKind: not RefKind.None and not RefKind.In, Value: ILocalReferenceOperation { Local: var byRef } }:
                            (excluded ??= new HashSet<ILocalSymbol>(SymbolEqualityComparer.Default)).Add(byRef);
                            break;
                        case IFlowAnonymousFunctionOperation lambda:
                            (closures ??= new List<SyntaxNode>()).Add(lambda.Syntax);
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

        // A lambda or local function that names the flag may change it behind the path's back.
        var captured = new HashSet<string>();
        if (closures is not null)
        {
            foreach (var closure in closures)
            {
                foreach (var identifier in closure.DescendantNodes())
                {
                    if (identifier is Microsoft.CodeAnalysis.CSharp.Syntax.IdentifierNameSyntax name)
                    {
                        captured.Add(name.Identifier.ValueText);
                    }
                }
            }
        }

        foreach (var candidate in candidates.Keys)
        {
            if (flags.Count < MaxFlags && excluded?.Contains(candidate) != true && !captured.Contains(candidate.Name))
            {
                flags.Add(candidate, flags.Count);
            }
        }

        return flags;
    }

    private bool Holds(object variable)
    {
        if (_config.Status == Status.Escaped || _config.Holders == 0)
        {
            return false;
        }

        return _variables.TryGetValue(variable, out var index) && (_config.Holders & (1UL << index)) != 0;
    }

    private ulong Bit(object variable)
    {
        if (!_variables.TryGetValue(variable, out var index))
        {
            index = _variables.Count;
            if (index >= 64)
            {
                // Too many variables to track exactly: say nothing rather than something wrong.
                _gaveUp = true;
                return 0;
            }

            _variables.Add(variable, index);
        }

        return 1UL << index;
    }

    /// <summary>The variable's bit when it has one; 0 (without taking a new index) when it has none.</summary>
    private ulong KnownBit(object variable) =>
        _variables.TryGetValue(variable, out var index) ? 1UL << index : 0;

    private static bool IsCollectionAdd(string name) =>
        name is "Add" or "AddLast" or "AddFirst" or "Enqueue" or "Push" or "TryAdd" or "Insert" or "Set" or "TryPush" or "Write" or "TryWrite" or "WriteAsync";

    private bool IsOwningWrapper(ITypeSymbol? type)
    {
        if (type is null)
        {
            return false;
        }

        var root = type.ContainingNamespace;
        while (root is { ContainingNamespace.IsGlobalNamespace: false })
        {
            root = root.ContainingNamespace;
        }

        if (root?.Name is "System" or "MySqlConnector" or "MySql" or "Dapper" or "Microsoft")
        {
            return false;
        }

        foreach (var member in type.GetMembers())
        {
            if (member is IMethodSymbol { IsStatic: false } method && _names.ReleaseNames.Contains(method.Name))
            {
                return true;
            }
        }

        foreach (var implemented in type.AllInterfaces)
        {
            if (implemented.Name is "IDisposable" or "IAsyncDisposable")
            {
                return true;
            }
        }

        return false;
    }

    private static IOperation? Unwrap(IOperation? operation)
    {
        while (operation is IConversionOperation conversion)
        {
            operation = conversion.Operand;
        }

        return operation;
    }

    // ---------------------------------------------------------------------------------------------
    // Conditions: a variable proven null, or a connection proven not open, needs no release.
    // ---------------------------------------------------------------------------------------------

    private Config? Refine(Config config, IOperation condition, bool outcome)
    {
        if (config.Status == Status.Released && config.ReleasedAt != 0)
        {
            return RefineReleased(config, condition, outcome);
        }

        if (config.Status != Status.Held)
        {
            return config;
        }

        switch (condition)
        {
            case IUnaryOperation { OperatorKind: UnaryOperatorKind.Not } not:
                return Refine(config, not.Operand, !outcome);
            case ILocalReferenceOperation local when FlagValue(config, local.Local) is { } flag:
                return flag == outcome ? config : null;
            case IIsNullOperation isNull:
                return outcome && HeldBy(config, isNull.Operand) ? null : config;
            case IBinaryOperation binary when binary.OperatorKind is BinaryOperatorKind.Equals or BinaryOperatorKind.NotEquals:
            {
                var equalWhen = binary.OperatorKind == BinaryOperatorKind.Equals ? outcome : !outcome;
                if (IsNull(binary.RightOperand) || IsNull(binary.LeftOperand))
                {
                    var variable = IsNull(binary.RightOperand) ? binary.LeftOperand : binary.RightOperand;
                    return equalWhen && HeldBy(config, variable) ? null : config;
                }

                if (StateComparison(config, binary.LeftOperand, binary.RightOperand) is { } state)
                {
                    return ProvenNotOpen(state, equalWhen) ? new Config(Status.Released, 0) : config;
                }

                return config;
            }

            case IIsPatternOperation isPattern:
            {
                var (pattern, matches) = isPattern.Pattern is INegatedPatternOperation negated
                    ? (negated.Pattern, !outcome)
                    : (isPattern.Pattern, outcome);
                if (MatchesExactlyNonNull(pattern, isPattern.Value.Type))
                {
                    // 'is { }', 'is T x' with the variable's own type: no match means null.
                    return !matches && HeldBy(config, isPattern.Value) ? null : config;
                }

                if (pattern is IConstantPatternOperation constant)
                {
                    if (IsNull(constant.Value))
                    {
                        return matches && HeldBy(config, isPattern.Value) ? null : config;
                    }

                    if (StateComparison(config, isPattern.Value, constant.Value) is { } state)
                    {
                        return ProvenNotOpen(state, matches) ? new Config(Status.Released, 0) : config;
                    }
                }

                return config;
            }

            default:
                return config;
        }
    }

    /// <summary>
    /// After a release: a released connection is not open, and a 'released' flag set on this path is true. A branch that
    /// contradicts either is not taken.
    /// </summary>
    private Config? RefineReleased(Config config, IOperation condition, bool outcome)
    {
        switch (Unwrap(condition))
        {
            case IUnaryOperation { OperatorKind: UnaryOperatorKind.Not } not:
                return RefineReleased(config, not.Operand, !outcome);
            case ILocalReferenceOperation local when FlagValue(config, local.Local) is { } flag:
                return flag == outcome ? config : null;
            case IBinaryOperation binary when binary.OperatorKind is BinaryOperatorKind.Equals or BinaryOperatorKind.NotEquals:
            {
                var equalWhen = binary.OperatorKind == BinaryOperatorKind.Equals ? outcome : !outcome;
                return StateComparison(config, binary.LeftOperand, binary.RightOperand) is { } state && IsClosedState(state, equalWhen) is false ? null : config;
            }

            case IIsPatternOperation { Pattern: IConstantPatternOperation constant } isPattern:
                return StateComparison(config, isPattern.Value, constant.Value) is { } patternState && IsClosedState(patternState, outcome) is false ? null : config;
            default:
                return config;
        }
    }

    /// <summary>Can a connection whose <c>State</c> is <c>Closed</c> satisfy <c>State == value</c> (or <c>!=</c> when not <paramref name="equal"/>)?</summary>
    private static bool IsClosedState(int value, bool equal) => equal ? value == 0 : value != 0;

    private static bool MatchesExactlyNonNull(IPatternOperation pattern, ITypeSymbol? inputType)
    {
        var matchedType = pattern switch
        {
            IRecursivePatternOperation { PropertySubpatterns.Length: 0, DeconstructionSubpatterns.Length: 0 } recursive => recursive.MatchedType,
            IDeclarationPatternOperation declaration => declaration.MatchedType,
            ITypePatternOperation type => type.MatchedType,
            _ => null,
        };
        if (matchedType is null || inputType is null)
        {
            return false;
        }

        if (inputType is INamedTypeSymbol { OriginalDefinition.SpecialType: SpecialType.System_Nullable_T } nullable)
        {
            inputType = nullable.TypeArguments[0];
        }

        return SymbolEqualityComparer.Default.Equals(matchedType.WithNullableAnnotation(NullableAnnotation.NotAnnotated), inputType.WithNullableAnnotation(NullableAnnotation.NotAnnotated));
    }

    /// <summary>When <paramref name="equal"/> tells whether <c>State == value</c>: is the connection surely not open?</summary>
    private static bool ProvenNotOpen(int value, bool equal) =>
        equal ? value != 1 /* Open */ : value == 1;

    private int? StateComparison(Config config, IOperation left, IOperation right)
    {
        if (_rules.ConnectionState is null)
        {
            return null;
        }

        var (property, constant) = Unwrap(left) is IPropertyReferenceOperation p ? (p, Unwrap(right)) : (Unwrap(right) as IPropertyReferenceOperation, Unwrap(left));
        if (property is null || constant is null || property.Property.Name != "State"
            || !SymbolEqualityComparer.Default.Equals(property.Type, _rules.ConnectionState)
            || !HeldBy(config, property.Instance))
        {
            return null;
        }

        return constant.ConstantValue is { HasValue: true, Value: int value } ? value : null;
    }

    private bool HeldBy(Config config, IOperation? operation)
    {
        object? variable = Unwrap(operation) switch
        {
            ILocalReferenceOperation local => local.Local,
            IParameterReferenceOperation parameter => parameter.Parameter,
            IFlowCaptureReferenceOperation capture => capture.Id,
            _ => null,
        };
        return variable is not null && _variables.TryGetValue(variable, out var index) && (config.Holders & (1UL << index)) != 0;
    }

    private static bool IsNull(IOperation operation)
    {
        var unwrapped = Unwrap(operation);
        return unwrapped is not null && unwrapped.ConstantValue is { HasValue: true, Value: null } && unwrapped.Type?.IsValueType != true;
    }

    private readonly struct Config : IEquatable<Config>
    {
        public Config(Status status, ulong holders)
            : this(status, holders, 0, 0)
        {
        }

        public Config(Status status, ulong holders, int releasedAt, ulong flags)
        {
            Status = status;
            Holders = holders;
            ReleasedAt = releasedAt;
            Flags = flags;
        }

        public Status Status { get; }

        /// <summary>The variables (bits from <c>Bit</c>) that hold the resource.</summary>
        public ulong Holders { get; }

        /// <summary>When released and still held by a variable: 1 + the index of the release in the releases seen; else 0.</summary>
        public int ReleasedAt { get; }

        /// <summary>The flags known on this path: bit i when flag i is true, bit 32 + i when it is false.</summary>
        public ulong Flags { get; }

        public Config With(ulong holders) => new(Status, holders, ReleasedAt, Flags);

        public bool Equals(Config other) =>
            Status == other.Status && Holders == other.Holders && ReleasedAt == other.ReleasedAt && Flags == other.Flags;

        public override bool Equals(object? obj) => obj is Config other && Equals(other);

        public override int GetHashCode() =>
            (((((int)Status * 397) ^ Holders.GetHashCode()) * 397) ^ ReleasedAt) * 397 ^ Flags.GetHashCode();
    }

    /// <summary>A release of the resource: the call, its block, whether it only closed a DbConnection, and what it was called on.</summary>
    private readonly struct ReleaseSite
    {
        public ReleaseSite(IOperation operation, int blockOrdinal, bool closes, IOperation? receiver)
        {
            Operation = operation;
            BlockOrdinal = blockOrdinal;
            Closes = closes;
            Receiver = receiver;
        }

        public IOperation Operation { get; }

        public int BlockOrdinal { get; }

        public bool Closes { get; }

        public IOperation? Receiver { get; }
    }

    /// <summary>What happens when a <c>finally</c> region ends: a branch continues, or an exception keeps unwinding.</summary>
    private readonly struct Continuation : IEquatable<Continuation>
    {
        public Continuation(ControlFlowBranch branch, int nextFinally, SyntaxNode? exitOrigin)
        {
            Branch = branch;
            NextFinally = nextFinally;
            ExitOrigin = exitOrigin;
            TryAndFinally = null;
        }

        public Continuation(ControlFlowRegion tryAndFinally)
        {
            Branch = null;
            NextFinally = 0;
            ExitOrigin = null;
            TryAndFinally = tryAndFinally;
        }

        public ControlFlowBranch? Branch { get; }

        public int NextFinally { get; }

        /// <summary>Where the path left (a return, the last statement); not part of the identity.</summary>
        public SyntaxNode? ExitOrigin { get; }

        public ControlFlowRegion? TryAndFinally { get; }

        public bool Equals(Continuation other) =>
            ReferenceEquals(Branch, other.Branch) && NextFinally == other.NextFinally && ReferenceEquals(TryAndFinally, other.TryAndFinally);

        public override bool Equals(object? obj) => obj is Continuation other && Equals(other);

        public override int GetHashCode() =>
            ((Branch?.GetHashCode() ?? 0) * 31 + NextFinally) ^ (TryAndFinally?.GetHashCode() ?? 0);
    }

    /// <summary>A <c>finally</c> region being run, and what follows it; frames form an immutable stack.</summary>
    private sealed class Frame : IEquatable<Frame>
    {
        private readonly int _hashCode;

        public Frame(ControlFlowRegion region, Continuation continuation, Frame? next)
        {
            Region = region;
            Continuation = continuation;
            Next = next;
            _hashCode = (region.GetHashCode() * 31 + continuation.GetHashCode()) * 31 + (next?.GetHashCode() ?? 0);
        }

        public ControlFlowRegion Region { get; }

        public Continuation Continuation { get; }

        public Frame? Next { get; }

        public bool Equals(Frame? other) =>
            other is not null
            && _hashCode == other._hashCode
            && ReferenceEquals(Region, other.Region)
            && Continuation.Equals(other.Continuation)
            && Equals(Next, other.Next);

        public override bool Equals(object? obj) => obj is Frame other && Equals(other);

        public override int GetHashCode() => _hashCode;
    }

    private readonly struct WorkItem
    {
        public WorkItem(BasicBlock block, Frame? context, Config config, SyntaxNode? origin)
        {
            Block = block;
            Context = context;
            Config = config;
            Origin = origin;
        }

        public BasicBlock Block { get; }

        public Frame? Context { get; }

        public Config Config { get; }

        public SyntaxNode? Origin { get; }
    }
}
