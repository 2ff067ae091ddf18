// What the transfer functions do to the path state: a variable takes or loses the resource, a statement ends
// with nobody holding it, a call may throw, the resource is released, or it escapes to someone else.
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.FlowAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>The state changes shared by the transfer of every operation kind.</summary>
internal sealed class PathEffects
{
    private readonly LeakFlowAnalysis _analysis;

    public PathEffects(LeakFlowAnalysis analysis)
    {
        _analysis = analysis;
    }

    private TrackedVariables Variables => _analysis.Variables;

    /// <summary>
    /// <paramref name="variable"/> is assigned: it holds the resource when <paramref name="value"/> is true, and
    /// otherwise no longer does (the last holder overwritten is a leak).
    /// </summary>
    public void Store(object variable, bool value, IOperation? valueOperation, bool isCapture, IOperation at)
    {
        if (_analysis.PathEnded)
        {
            return;
        }

        var state = _analysis.State;
        var site = _analysis.Site;
        if (state.Status is ResourceStatus.Released or ResourceStatus.Escaped)
        {
            if (site is { Kind: AcquisitionKind.Opened } && Equals(variable, site.Anchor))
            {
                // A new object in the opened variable: track it from scratch.
                _analysis.State = new PathState(ResourceStatus.Unacquired, Variables.Bit(variable) | CopiesBeforeOpen(valueOperation), 0, state.Flags);
            }
            else if (state.IsTrackedAfterRelease)
            {
                var holders = value ? state.Holders | Variables.Bit(variable) : state.Holders.Except(Variables.KnownBit(variable));
                _analysis.State = holders.IsEmpty ? new PathState(ResourceStatus.Released, HolderSet.Empty) : state.With(holders);
            }

            return;
        }

        if (state.Status == ResourceStatus.Unacquired)
        {
            if (site is not { Kind: AcquisitionKind.Opened })
            {
                return;
            }

            if (Equals(variable, site.Anchor))
            {
                _analysis.State = new PathState(ResourceStatus.Unacquired, Variables.Bit(variable) | (value ? state.Holders : CopiesBeforeOpen(valueOperation)), 0, state.Flags);
            }
            else
            {
                _analysis.State = value ? state.With(state.Holders | Variables.Bit(variable)) : state.With(state.Holders.Except(Variables.KnownBit(variable)));
            }

            return;
        }

        // Held.
        if (value)
        {
            _analysis.State = state.With(state.Holders | Variables.Bit(variable));
            return;
        }

        var bit = Variables.KnownBit(variable);
        if (!state.Holders.Overlaps(bit))
        {
            return;
        }

        state = state.With(state.Holders.Except(bit));
        _analysis.State = state;
        if (state.Holders.IsEmpty && !isCapture)
        {
            var name = (variable as ISymbol)?.Name;
            _analysis.AddLeak(new Leak(LeakReason.Overwritten, at.Syntax, name));
            _analysis.State = new PathState(ResourceStatus.Released, HolderSet.Empty);
        }
    }

    /// <summary>
    /// The variables that hold the object <paramref name="valueOperation"/> puts in the variable to be opened: the one it is
    /// read from, and the copies made of that one before (<c>var copy = conn; var opened = copy;</c>).
    /// </summary>
    private HolderSet CopiesBeforeOpen(IOperation? valueOperation)
    {
        var holders = Variables.AliasOf(valueOperation);
        foreach (var copy in _analysis.Facts.CopiesOf(valueOperation))
        {
            holders |= Variables.Bit(copy);
        }

        return holders;
    }

    /// <summary>A statement ends: a held resource that no variable holds is lost.</summary>
    public void EndOfStatement(IOperation statement)
    {
        var state = _analysis.State;
        if (state.Status == ResourceStatus.Held && state.Holders.IsEmpty)
        {
            _analysis.AddLeak(new Leak(LeakReason.Discarded, statement.Syntax, null));
            _analysis.State = new PathState(ResourceStatus.Released, HolderSet.Empty);
        }
        else if (state.Status != ResourceStatus.Unacquired && !InFilter)
        {
            _analysis.Origin = statement.Syntax;
        }
    }

    /// <summary><paramref name="operation"/> may throw: the current state goes to the handlers around it.</summary>
    public void MayThrow(IOperation operation)
    {
        if (_analysis.PathEnded)
        {
            // Past a call that never returns ('Run(Throw.Value<int>())'): the call that ended the path threw already.
            return;
        }

        _analysis.Unwind(_analysis.Block.EnclosingRegion, _analysis.Frame, _analysis.State, operation.Syntax);
        if (!InFilter)
        {
            _analysis.Origin = operation.Syntax;
        }
    }

    /// <summary>
    /// Is the walk in an exception filter? There the path's origin stays where the exception it is asked about was
    /// thrown: what the filter declines leaves from there.
    /// </summary>
    private bool InFilter => ExceptionRouting.FilterOf(_analysis.Block.EnclosingRegion) is not null;

    /// <summary>The resource is released by <paramref name="release"/>; a second release is TDG004's.</summary>
    public void Release(IOperation release, bool closes, IOperation? receiver)
    {
        var state = _analysis.State;
        var history = _analysis.AfterRelease;
        if (state.Status == ResourceStatus.Held)
        {
            history.NoteReleasedWhileHeld(release);
            _analysis.State = new PathState(ResourceStatus.Released, state.Holders, history.ReleaseIndex(release, closes), state.Flags);
            return;
        }

        if (!state.IsTrackedAfterRelease)
        {
            return;
        }

        var first = history.ReleaseOf(state);
        if ((state.Flags & PathState.ThrownAfterRelease) != 0 && IsIdempotent(first.Operation) && IsIdempotent(release))
        {
            // Disposed again only because something threw after the first Dispose (a retry loop whose new connection failed
            // to open): by IDisposable's contract a second Dispose does nothing. A second Release() is still reported.
            return;
        }

        if (first.Closes)
        {
            // Close, then Dispose (or Close again): the documented, harmless DbConnection pattern.
            if (!closes)
            {
                _analysis.State = new PathState(ResourceStatus.Released, state.Holders, history.ReleaseIndex(release, closes: false), state.Flags);
            }

            return;
        }

        if (FinallyAfter(first.BlockOrdinal))
        {
            history.AddMisuse(MisuseKind.ReleasedBeforeFinally, first.Operation, release, first.Receiver);
        }
        else
        {
            history.AddMisuse(MisuseKind.ReleasedAgain, release, first.Operation, receiver);
        }
    }

    /// <summary>The resource leaves the method's hands (returned, stored, given with ownership).</summary>
    public void Escape(bool byReturning = false)
    {
        var state = _analysis.State;
        if (state.Status is ResourceStatus.Held or ResourceStatus.Unacquired)
        {
            _analysis.HandsOff |= state.Status == ResourceStatus.Held;
            _analysis.HandsOffOtherThanByReturning |= state.Status == ResourceStatus.Held && !byReturning;
            _analysis.State = new PathState(ResourceStatus.Escaped, HolderSet.Empty);
        }
        else if (state.IsTrackedAfterRelease)
        {
            // A released resource handed over: whatever happens to it next is not this method's doing.
            _analysis.State = new PathState(ResourceStatus.Released, HolderSet.Empty);
        }
    }

    private static bool IsIdempotent(IOperation release) =>
        release is IInvocationOperation { TargetMethod.Name: "Dispose" or "DisposeAsync", TargetMethod.Parameters.Length: 0 };

    /// <summary>Is the current block in a <c>finally</c> (a <c>using</c>'s included) whose <c>try</c> contains <paramref name="blockOrdinal"/>?</summary>
    private bool FinallyAfter(int blockOrdinal)
    {
        for (var region = _analysis.Block.EnclosingRegion; region is not null; region = region.EnclosingRegion)
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
}
