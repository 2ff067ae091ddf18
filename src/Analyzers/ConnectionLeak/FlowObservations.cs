// What one walk saw that a summary needs and the rules do not: the value of each return (the resource, or
// something else), the state at each normal exit (which out/ref parameters hold the resource), and whether the
// resource was held at a 'yield return'.
using System.Collections.Generic;
using Microsoft.CodeAnalysis;

namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>The observations of one walk made for a summary.</summary>
internal sealed class FlowObservations
{
    private readonly Dictionary<IOperation, ReturnedValue> _returns = new();

    [System.Flags]
    private enum ReturnedValue : byte
    {
        Resource = 1,
        Other = 2,
    }

    public List<Leak> Leaks { get; } = new();

    /// <summary>The variables of the walk, to read a <see cref="PathState"/>'s holders.</summary>
    public TrackedVariables? Variables { get; set; }

    /// <summary>The set of <paramref name="variable"/> in the holders of the walk's states; empty when it never held the resource.</summary>
    public HolderSet BitOf(object variable) => Variables?.KnownBit(variable) ?? HolderSet.Empty;

    public bool HandsOff { get; set; }

    /// <summary>Some path handed the resource over other than by returning it (stored it, passed it on, left it in an out parameter).</summary>
    public bool HandsOffOtherThanByReturning { get; set; }

    /// <summary>Some path released the resource while it held it (a call of a release, not a loss).</summary>
    public bool Releases { get; set; }

    /// <summary>The state at each normal exit, and where the path left.</summary>
    public List<(PathState State, SyntaxNode? Origin)> Exits { get; } = new();

    /// <summary>Some path reached a <c>yield return</c> holding the resource.</summary>
    public bool HeldAcrossYield { get; set; }

    public void NoteReturn(IOperation returned, bool isResource) =>
        _returns[returned] = (_returns.TryGetValue(returned, out var seen) ? seen : 0) | (isResource ? ReturnedValue.Resource : ReturnedValue.Other);

    /// <summary>Did every path of this walk that reached <paramref name="returned"/> return the resource there (and at least one did)?</summary>
    public bool AlwaysReturnsResource(IOperation returned) => _returns.TryGetValue(returned, out var seen) && seen == ReturnedValue.Resource;
}
