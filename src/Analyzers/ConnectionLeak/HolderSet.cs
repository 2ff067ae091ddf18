// The set of variables that hold the followed resource on one path: a bit per variable of TrackedVariables. The
// first 64 variables live in one word, so the usual method costs no allocation; a method with more variables (a
// long method acquiring many connections) grows the set instead of leaving acquisitions unchecked.
using System;

namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>An immutable set of variable indexes: one word inline, more words only past index 63.</summary>
internal readonly struct HolderSet : IEquatable<HolderSet>
{
    private const int WordBits = 64;

    private readonly ulong _low;

    // Indexes 64 and up, word by word; null when none is set, and never ending with a zero word, so that equal
    // sets have equal fields.
    private readonly ulong[]? _high;

    private HolderSet(ulong low, ulong[]? high)
    {
        _low = low;
        _high = high;
    }

    public static HolderSet Empty => default;

    public bool IsEmpty => _low == 0 && _high is null;

    /// <summary>The set holding only <paramref name="index"/>.</summary>
    public static HolderSet Of(int index)
    {
        if (index < WordBits)
        {
            return new HolderSet(1UL << index, null);
        }

        var high = new ulong[(index / WordBits)];
        high[high.Length - 1] = 1UL << (index % WordBits);
        return new HolderSet(0, high);
    }

    public bool Contains(int index)
    {
        if (index < WordBits)
        {
            return (_low & (1UL << index)) != 0;
        }

        var word = (index / WordBits) - 1;
        return _high is not null && word < _high.Length && (_high[word] & (1UL << (index % WordBits))) != 0;
    }

    /// <summary>Do the two sets share a variable?</summary>
    public bool Overlaps(HolderSet other)
    {
        if ((_low & other._low) != 0)
        {
            return true;
        }

        if (_high is null || other._high is null)
        {
            return false;
        }

        var length = Math.Min(_high.Length, other._high.Length);
        for (var i = 0; i < length; i++)
        {
            if ((_high[i] & other._high[i]) != 0)
            {
                return true;
            }
        }

        return false;
    }

    public HolderSet Union(HolderSet other)
    {
        if (other._high is null)
        {
            return new HolderSet(_low | other._low, _high);
        }

        if (_high is null)
        {
            return new HolderSet(_low | other._low, other._high);
        }

        var (longer, shorter) = _high.Length >= other._high.Length ? (_high, other._high) : (other._high, _high);
        var high = (ulong[])longer.Clone();
        for (var i = 0; i < shorter.Length; i++)
        {
            high[i] |= shorter[i];
        }

        return new HolderSet(_low | other._low, high);
    }

    /// <summary>This set without the variables of <paramref name="other"/>.</summary>
    public HolderSet Except(HolderSet other)
    {
        if (_high is null || other._high is null)
        {
            return new HolderSet(_low & ~other._low, _high);
        }

        var high = (ulong[])_high.Clone();
        var length = Math.Min(high.Length, other._high.Length);
        for (var i = 0; i < length; i++)
        {
            high[i] &= ~other._high[i];
        }

        var used = high.Length;
        while (used > 0 && high[used - 1] == 0)
        {
            used--;
        }

        if (used < high.Length)
        {
            Array.Resize(ref high, used);
        }

        return new HolderSet(_low & ~other._low, used == 0 ? null : high);
    }

    public static HolderSet operator |(HolderSet left, HolderSet right) => left.Union(right);

    public bool Equals(HolderSet other)
    {
        if (_low != other._low)
        {
            return false;
        }

        if (_high is null || other._high is null)
        {
            return _high is null && other._high is null;
        }

        if (_high.Length != other._high.Length)
        {
            return false;
        }

        for (var i = 0; i < _high.Length; i++)
        {
            if (_high[i] != other._high[i])
            {
                return false;
            }
        }

        return true;
    }

    public override bool Equals(object? obj) => obj is HolderSet other && Equals(other);

    public override int GetHashCode()
    {
        var hash = PathState.Mix(_low);
        if (_high is not null)
        {
            foreach (var word in _high)
            {
                hash = (hash * 397) ^ PathState.Mix(word);
            }
        }

        return hash;
    }
}
