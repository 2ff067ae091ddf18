// The positions of the driver's expanded graph: a basic block plus the stack of 'finally' regions being run and
// where each goes when it ends (a branch that continues, or an exception that keeps unwinding).
using System;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.FlowAnalysis;

namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>What happens when a <c>finally</c> region ends: a branch continues, or an exception keeps unwinding.</summary>
internal readonly struct Continuation : IEquatable<Continuation>
{
    public Continuation(ControlFlowBranch branch, int nextFinally, SyntaxNode? exitOrigin)
    {
        Branch = branch;
        NextFinally = nextFinally;
        ExitOrigin = exitOrigin;
        TryAndFinally = null;
    }

    public Continuation(ControlFlowRegion tryAndFinally, SyntaxNode? thrownAt)
    {
        Branch = null;
        NextFinally = 0;
        ExitOrigin = thrownAt;
        TryAndFinally = tryAndFinally;
    }

    public ControlFlowBranch? Branch { get; }

    public int NextFinally { get; }

    /// <summary>Where the path left (a return, the last statement, the call that threw); not part of the identity.</summary>
    public SyntaxNode? ExitOrigin { get; }

    public ControlFlowRegion? TryAndFinally { get; }

    public bool Equals(Continuation other) =>
        ReferenceEquals(Branch, other.Branch) && NextFinally == other.NextFinally && ReferenceEquals(TryAndFinally, other.TryAndFinally);

    public override bool Equals(object? obj) => obj is Continuation other && Equals(other);

    public override int GetHashCode() =>
        ((Branch?.GetHashCode() ?? 0) * 31 + NextFinally) ^ (TryAndFinally?.GetHashCode() ?? 0);
}

/// <summary>A <c>finally</c> region being run, and what follows it; frames form an immutable stack.</summary>
internal sealed class FinallyFrame : IEquatable<FinallyFrame>
{
    private readonly int _hashCode;

    public FinallyFrame(ControlFlowRegion region, Continuation continuation, FinallyFrame? next)
    {
        Region = region;
        Continuation = continuation;
        Next = next;
        _hashCode = (region.GetHashCode() * 31 + continuation.GetHashCode()) * 31 + (next?.GetHashCode() ?? 0);
    }

    public ControlFlowRegion Region { get; }

    public Continuation Continuation { get; }

    public FinallyFrame? Next { get; }

    public bool Equals(FinallyFrame? other) =>
        other is not null
        && _hashCode == other._hashCode
        && ReferenceEquals(Region, other.Region)
        && Continuation.Equals(other.Continuation)
        && Equals(Next, other.Next);

    public override bool Equals(object? obj) => obj is FinallyFrame other && Equals(other);

    public override int GetHashCode() => _hashCode;
}

/// <summary>A position of the expanded graph waiting to be walked, with the path's state there.</summary>
internal readonly struct WorkItem
{
    public WorkItem(BasicBlock block, FinallyFrame? context, PathState state, SyntaxNode? origin)
    {
        Block = block;
        Context = context;
        State = state;
        Origin = origin;
    }

    public BasicBlock Block { get; }

    public FinallyFrame? Context { get; }

    public PathState State { get; }

    public SyntaxNode? Origin { get; }
}
