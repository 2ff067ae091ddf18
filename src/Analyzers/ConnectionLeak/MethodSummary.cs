// What TDG001 knows about a method of the compilation from its body: whether it hands back a connection it
// acquired, acquires into an out/ref parameter, holds one across 'yield', and what it does with a connection
// passed to it. Inferred by SummaryInference, cached by MethodSummaries.
using System.Collections.Immutable;

namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>What a method does with a connection passed to one of its parameters (or captured by a local function).</summary>
internal enum ParameterEffect : byte
{
    /// <summary>Nothing the caller can count on: the caller still owns it.</summary>
    None,

    /// <summary>Released on every path, exceptions included: the call is a release.</summary>
    Releases,

    /// <summary>Released on every normal path, but the method can throw before: the call may throw, then releases.</summary>
    ReleasesUnlessItThrows,

    /// <summary>Released or handed on (stored, returned elsewhere) on every normal path: the caller no longer owns it.</summary>
    TakesOver,

    /// <summary>
    /// Returned on every normal path and nothing else done with it (<c>Warm(c) { c.Execute(...); return c; }</c>), and no
    /// exception leaves the method with it unreleased: the caller still owns it, and the call's value is it.
    /// </summary>
    ReturnsIt,

    /// <summary>As <see cref="ReturnsIt"/>, but an exception can leave the method with it unreleased: the call may throw, and the caller still owns it then.</summary>
    ReturnsItOrThrows,
}

/// <summary>An <c>out</c> or <c>ref</c> parameter that receives a fresh acquisition.</summary>
internal readonly struct ArgumentAcquisition
{
    public ArgumentAcquisition(int ordinal, bool onlyWhenTrue)
    {
        Ordinal = ordinal;
        OnlyWhenTrue = onlyWhenTrue;
    }

    public int Ordinal { get; }

    /// <summary>Only on the paths that return <c>true</c> (the <c>TryX(out var y)</c> pattern).</summary>
    public bool OnlyWhenTrue { get; }
}

/// <summary>The summary of one method.</summary>
internal sealed class MethodSummary
{
    /// <summary>A method that acquires nothing for its caller (also what a method in a recursion cycle gets).</summary>
    public static readonly MethodSummary Nothing = new(returnsAcquisition: false, ImmutableArray<ArgumentAcquisition>.Empty, holdsAcrossYield: false);

    public MethodSummary(
        bool returnsAcquisition,
        ImmutableArray<ArgumentAcquisition> acquiresInto,
        bool holdsAcrossYield,
        bool? result = null)
    {
        ReturnsAcquisition = returnsAcquisition;
        AcquiresInto = acquiresInto;
        HoldsAcrossYield = holdsAcrossYield;
        Result = result;
    }

    /// <summary>On every normal return the method hands back a connection or lease it acquired (or null).</summary>
    public bool ReturnsAcquisition { get; }

    /// <summary>The <c>out</c>/<c>ref</c> parameters that receive an acquisition.</summary>
    public ImmutableArray<ArgumentAcquisition> AcquiresInto { get; }

    /// <summary>An iterator that holds a connection across a <c>yield return</c>: its enumerator must be disposed.</summary>
    public bool HoldsAcrossYield { get; }

    /// <summary>
    /// For a <c>bool</c> method that acquires into an argument: the constant every return hands back
    /// (<c>lease = pool.GetConnection(); return true;</c>); null when a return can give either value.
    /// </summary>
    public bool? Result { get; }
}
