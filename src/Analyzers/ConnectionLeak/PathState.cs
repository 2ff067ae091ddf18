// The abstract state of the flow analysis: what one path knows about the followed resource. The analysis keeps
// a set of these per program point and never merges two of them (the join of the lattice is set union, and the
// driver's visited set makes it finite), so aliasing, null checks and 'released' flags stay exact along a path.
using System;

namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>Where the followed resource stands on one path.</summary>
internal enum ResourceStatus : byte
{
    /// <summary>Not acquired yet (or, for <c>Open</c>, the object is there but not open).</summary>
    Unacquired,

    /// <summary>Acquired and not released: a path that ends here leaks.</summary>
    Held,

    /// <summary>Released; when some variable still holds it, TDG004 follows its uses.</summary>
    Released,

    /// <summary>Handed over (returned, stored, passed with ownership): someone else releases it.</summary>
    Escaped,
}

/// <summary>
/// One configuration: the resource's status, the variables (bits from <see cref="TrackedVariables"/>) that hold
/// it, the release it came from when released, and the values of the 'released' flags known on the path.
/// </summary>
internal readonly struct PathState : IEquatable<PathState>
{
    public PathState(ResourceStatus status, HolderSet holders)
        : this(status, holders, 0, 0)
    {
    }

    public PathState(ResourceStatus status, HolderSet holders, int releasedAt, ulong flags)
    {
        Status = status;
        Holders = holders;
        ReleasedAt = releasedAt;
        Flags = flags;
    }

    public ResourceStatus Status { get; }

    /// <summary>The variables (from <see cref="TrackedVariables.Bit"/>) that hold the resource; grows past 64 variables.</summary>
    public HolderSet Holders { get; }

    /// <summary>When released and still held by a variable: 1 + the index of the release in the releases seen; else 0.</summary>
    public int ReleasedAt { get; }

    /// <summary>
    /// The flags known on this path: bit i when flag i is true, bit 32 + i when it is false (0-15: 'released' flags,
    /// 16-23: remembered conditions), the locals known null (bits 24-30 and 56-63, see <see cref="NullLocals"/>), and
    /// <see cref="ThrownAfterRelease"/>. A method with more of any gives up where it tests one the state has no room for.
    /// </summary>
    public ulong Flags { get; }

    /// <summary>The bit of <see cref="Flags"/> set when an exception was thrown on this path after the resource was released.</summary>
    public const ulong ThrownAfterRelease = 1UL << 31;

    /// <summary>Released, and some variable still holds the released resource: TDG004 follows it.</summary>
    public bool IsTrackedAfterRelease => Status == ResourceStatus.Released && ReleasedAt != 0;

    public PathState With(HolderSet holders) => new(Status, holders, ReleasedAt, Flags);

    public bool Equals(PathState other) =>
        Status == other.Status && Holders.Equals(other.Holders) && ReleasedAt == other.ReleasedAt && Flags == other.Flags;

    public override bool Equals(object? obj) => obj is PathState other && Equals(other);

    public override int GetHashCode() =>
        (((((int)Status * 397) ^ Holders.GetHashCode()) * 397) ^ ReleasedAt) * 397 ^ Mix(Flags);

    /// <summary>
    /// A hash of 64 bits that tells a flag known true (bit i) from one known false (bit 32 + i): <c>ulong.GetHashCode</c>
    /// folds the two halves onto each other, which gave every combination of the same known flags one hash, and the
    /// visited set of a method with a dozen flags a chain of thousands of colliding states.
    /// </summary>
    internal static int Mix(ulong bits)
    {
        var mixed = unchecked(bits * 0x9E3779B97F4A7C15UL);
        return (int)(mixed >> 32) ^ (int)mixed;
    }
}
