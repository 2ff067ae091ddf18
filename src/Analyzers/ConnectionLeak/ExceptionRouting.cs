// Where an exception goes: from the region it is raised in, to the catch clauses of the enclosing tries (each in turn,
// up to the first catch-all or the first filtered one, whose filter sends on what it declines, in the state the filter
// left; an exception inside a filter counts as the filter declining), into the finally regions on the way (each a
// frame that resumes the unwinding when it ends), or out of the method, where a held resource is a leak. The state it
// carries is marked as thrown after a release when the resource had been released, which TDG004 reads.
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.FlowAnalysis;

namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>Routes an exception through the regions of the graph.</summary>
internal sealed class ExceptionRouting
{
    private readonly LeakFlowAnalysis _analysis;

    public ExceptionRouting(LeakFlowAnalysis analysis)
    {
        _analysis = analysis;
    }

    /// <summary>An exception raised in <paramref name="region"/>: it goes to the catches and finallys around it, or out of the method.</summary>
    public void Unwind(ControlFlowRegion? region, FinallyFrame? context, PathState state, SyntaxNode? origin)
    {
        if (state.IsTrackedAfterRelease && (state.Flags & PathState.ThrownAfterRelease) == 0)
        {
            state = new PathState(state.Status, state.Holders, state.ReleasedAt, state.Flags | PathState.ThrownAfterRelease);
        }

        for (var current = region; current is not null;)
        {
            switch (current.Kind)
            {
                case ControlFlowRegionKind.Try:
                    var parent = current.EnclosingRegion!;
                    if (parent.Kind == ControlFlowRegionKind.TryAndCatch)
                    {
                        if (OfferToHandlers(parent, 1, context, state, origin))
                        {
                            return;
                        }

                        current = parent.EnclosingRegion;
                        continue;
                    }

                    if (parent.Kind == ControlFlowRegionKind.TryAndFinally)
                    {
                        var finallyRegion = parent.NestedRegions[1];
                        _analysis.Enqueue(_analysis.Graph.Blocks[finallyRegion.FirstBlockOrdinal], new FinallyFrame(finallyRegion, new Continuation(parent, origin), context), state, origin);
                        return;
                    }

                    current = parent;
                    continue;
                case ControlFlowRegionKind.Filter:
                    // An exception inside a filter is swallowed: the filter said no, and the exception it was asked about
                    // goes on to the later handlers, from where it was thrown.
                    UnwindAfterHandler(current.EnclosingRegion!, context, state, _analysis.Origin ?? origin);
                    return;
                case ControlFlowRegionKind.Catch:
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
                    if (state.Status == ResourceStatus.Held)
                    {
                        _analysis.AddLeak(new Leak(LeakReason.ExceptionThrown, origin, null));
                    }

                    return;
                default:
                    current = current.EnclosingRegion;
                    continue;
            }
        }
    }

    public static ControlFlowRegion? FilterOf(ControlFlowRegion region)
    {
        for (var current = region; current is not null; current = current.EnclosingRegion)
        {
            switch (current.Kind)
            {
                case ControlFlowRegionKind.Filter:
                    return current;
                case ControlFlowRegionKind.Try:
                case ControlFlowRegionKind.Catch:
                case ControlFlowRegionKind.Finally:
                case ControlFlowRegionKind.Root:
                    return null;
            }
        }

        return null;
    }

    /// <summary>An exception that <paramref name="handler"/> (a filter and its catch) declined: the later handlers of its try, then outwards.</summary>
    public void UnwindAfterHandler(ControlFlowRegion handler, FinallyFrame? context, PathState state, SyntaxNode? origin)
    {
        var tryAndCatch = handler.EnclosingRegion!;
        if (!OfferToHandlers(tryAndCatch, tryAndCatch.NestedRegions.IndexOf(handler) + 1, context, state, origin))
        {
            Unwind(tryAndCatch.EnclosingRegion, context, state, origin);
        }
    }

    /// <summary>
    /// Offers an exception to the catch clauses of <paramref name="tryAndCatch"/> from the one at <paramref name="first"/>
    /// on: each may take it, until a catch-all that surely does, or a filtered one, which decides when its filter runs (what
    /// it declines goes on from its filter, in the state the filter left: <see cref="UnwindAfterHandler"/>). Returns
    /// whether one of them has the last word; otherwise the exception may also leave the <c>try</c>.
    /// </summary>
    private bool OfferToHandlers(ControlFlowRegion tryAndCatch, int first, FinallyFrame? context, PathState state, SyntaxNode? origin)
    {
        for (var i = first; i < tryAndCatch.NestedRegions.Length; i++)
        {
            var handler = tryAndCatch.NestedRegions[i];
            _analysis.Enqueue(_analysis.Graph.Blocks[handler.FirstBlockOrdinal], context, state, origin);
            if (IsCatchAll(handler) || handler.Kind == ControlFlowRegionKind.FilterAndHandler)
            {
                return true;
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
}
