using System;
using System.Diagnostics;

namespace TenantDbGuard.Core;

/// <summary>
/// How big the process budget is right now: a ceiling from the options (and the server's <c>max_connections</c>), and
/// below it a limit that follows what the server can give, additive increase and multiplicative decrease (AIMD), as
/// TCP shares a link. No I/O here; the broker calls it under its lock with what it saw.
/// </summary>
/// <remarks>
/// <para>
/// Several app instances share one server and none knows how many others there are. Each one stops at the connections
/// it has when the server refuses it one (errors 1040, 1203, 1226); lowers its limit by a factor when the server's
/// <c>Threads_connected</c> comes within <see cref="Margin"/> of <c>max_connections</c> while other clients hold
/// connections too; and raises it by a fixed step while it has callers waiting and the server has room. Every instance
/// reads the same server, so all of them back off together, and equal steps up after equal factors down bring their
/// limits together: the instances converge on equal shares. An instance that dies frees its connections on the
/// server, which the others see as room.
/// </para>
/// <para>
/// One instance alone never backs off because of its own connections: its ceiling leaves the reserve free, and the
/// congestion signal needs connections of other clients.
/// </para>
/// </remarks>
internal sealed class BudgetControl
{
    /// <summary>How often, on average, the server's load is read while the budget is in use.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(250);

    /// <summary>The factor a decrease applies to the connections this process holds.</summary>
    public const double DecreaseFactor = 0.7;

    /// <summary>
    /// The least time between two decreases: long enough for the connections a decrease lets go of to leave the server,
    /// and for the other instances to read it, so that one congestion lowers each instance once.
    /// </summary>
    private static readonly long CooldownTicks = (long)(2 * Interval.TotalSeconds * Stopwatch.Frequency);
    private readonly int? _explicitCeiling;
    private readonly double _share;
    private readonly int _reserved;
    private long _lastDecreaseTicks;
    private long? _refusedTotal;

    public BudgetControl(int? explicitCeiling, double share, int reserved)
    {
        _explicitCeiling = explicitCeiling;
        _share = share;
        _reserved = reserved;
        if (explicitCeiling is { } ceiling)
        {
            Ceiling = Limit = ceiling;
        }
    }

    /// <summary>The most the limit may reach: <see cref="TenantDbGuardOptions.MaxConnections"/>, or the share of the server's <c>max_connections</c> minus the reserve. 0 until known.</summary>
    public int Ceiling { get; private set; }

    /// <summary>The connections the process may have open now (at least 1 once known, at most <see cref="Ceiling"/>).</summary>
    public int Limit { get; private set; }

    /// <summary>The server's <c>max_connections</c> when last read; 0 before.</summary>
    public int ServerMax { get; private set; }

    /// <summary>Headroom below <c>max_connections</c> under which the server counts as congested.</summary>
    public int Margin => Math.Max(1, _reserved / 2);

    /// <summary>The step of an increase: the same for every instance with the same options.</summary>
    public int Step => Math.Max(1, Ceiling / 32);

    /// <summary>Takes the server's <c>max_connections</c>: sets the ceiling (when derived) and keeps the limit under it.</summary>
    public void SetServerMax(int serverMax)
    {
        ServerMax = serverMax;
        Ceiling = _explicitCeiling ?? Math.Max(1, (int)Math.Floor(serverMax * _share) - _reserved);
        Limit = Limit == 0 ? Ceiling : Math.Min(Limit, Ceiling);
    }

    /// <summary>
    /// The server refused a connection while the process had <paramref name="open"/> others open: the limit drops to
    /// what the server took, so that no more are tried until a reading of the server finds room. It does not drop
    /// further: a refusal hits whichever instance happens to open a connection (often the one with the fewest), so the
    /// multiplicative decrease follows the congestion signal that every instance reads alike.
    /// </summary>
    public void Refused(int open)
    {
        if (Limit > 0)
        {
            Limit = Math.Max(1, Math.Min(Limit, open));
        }
    }

    /// <summary>
    /// How long until the next reading: readings fall on multiples of <see cref="Interval"/> of the wall clock, so that
    /// instances (whose clocks agree, as NTP keeps them) read the server at the same moments, see the same congestion,
    /// and back off together; an instance that read alone first would back off alone and leave the room to the others.
    /// </summary>
    public static TimeSpan UntilNextReading(DateTime utcNow) =>
        TimeSpan.FromTicks(Interval.Ticks - (utcNow.Ticks % Interval.Ticks));

    /// <summary>
    /// Adjusts the limit to a reading of the server (<paramref name="load"/>, whose <c>Threads_connected</c> includes
    /// this process's <paramref name="open"/> connections); <paramref name="wanting"/> when callers wait for room in
    /// the process budget or it is all in use.
    /// </summary>
    /// <remarks>
    /// The server is congested when it refused anyone a connection since the last reading (its
    /// <c>Connection_errors_max_connections</c> grew: every instance sees that alike), or when it is within
    /// <see cref="Margin"/> of <c>max_connections</c> while other clients hold connections too.
    /// </remarks>
    public void Observe(ServerLoad load, int open, bool wanting, long now)
    {
        SetServerMax(load.MaxConnections);
        var refusedSince = _refusedTotal is { } previous && load.RefusedTotal > previous;
        _refusedTotal = load.RefusedTotal;
        var headroom = load.MaxConnections - load.ThreadsConnected;
        if (refusedSince || (headroom < Margin && load.ThreadsConnected > open))
        {
            if (now - _lastDecreaseTicks >= CooldownTicks)
            {
                Decrease(open, now);
            }
        }
        else if (wanting && headroom >= Margin && Limit < Ceiling)
        {
            // Up to the edge of the margin and one past it: the instances keep probing for room, so that the
            // congestion signal comes, and with it the decrease that evens their shares out.
            Limit = Math.Min(Ceiling, Limit + Math.Clamp(headroom - Margin, 1, Step));
        }
    }

    private void Decrease(int open, long now)
    {
        Limit = Math.Max(1, (int)Math.Floor(Math.Min(Limit, open) * DecreaseFactor));
        _lastDecreaseTicks = now;
    }
}
