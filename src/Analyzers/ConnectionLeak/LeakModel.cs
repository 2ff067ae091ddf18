// The results of the flow analysis, as the analyzer and the code fixes see them: the acquisition being followed,
// the paths on which it leaks (TDG001), and the uses and second releases after a release (TDG004).
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>One acquiring call inside one control-flow graph.</summary>
internal sealed class AcquisitionSite
{
    public AcquisitionSite(
        IOperation acquiring, IOperation effectPoint, AcquisitionKind kind, object? anchor, string? summarized = null,
        bool onlyWhenTrue = false, bool? result = null)
    {
        Result = result;
        Acquiring = acquiring;
        EffectPoint = effectPoint;
        Kind = kind;
        Anchor = anchor;
        Summarized = summarized;
        OnlyWhenTrue = onlyWhenTrue;
    }

    /// <summary>The acquiring call, or the read of a property of the code whose getter acquires; the diagnostic sits on it.</summary>
    public IOperation Acquiring { get; }

    /// <summary>The acquiring call; null for a property read.</summary>
    public IInvocationOperation? Invocation => Acquiring as IInvocationOperation;

    /// <summary>The operation after which the resource is held: the call itself, or the <c>await</c> of it.</summary>
    public IOperation EffectPoint { get; }

    public AcquisitionKind Kind { get; }

    /// <summary>
    /// For <see cref="AcquisitionKind.Opened"/>: the local (or flow capture) whose object is opened; null for <c>new X().Open()</c>.
    /// For <see cref="AcquisitionKind.IntoArgument"/>: the local the call writes the resource to.
    /// </summary>
    public object? Anchor { get; }

    /// <summary>
    /// When the call is an acquisition because of what its body does (a summary of a method of this compilation), how the
    /// message names it: <c>OpenReportConnection()</c>, <c>Rows().GetEnumerator()</c>; null for the built-in rules.
    /// </summary>
    public string? Summarized { get; }

    /// <summary>For <see cref="AcquisitionKind.IntoArgument"/>: the call acquires only when it returns <c>true</c> (<c>TryCheckout(out x)</c>).</summary>
    public bool OnlyWhenTrue { get; }

    /// <summary>
    /// For <see cref="AcquisitionKind.IntoArgument"/>: the constant the call always returns, when its summary knows one
    /// (<c>TryGet(out x)</c> whose every return is <c>return true;</c>): the branch on the other value is not taken.
    /// </summary>
    public bool? Result { get; }
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
