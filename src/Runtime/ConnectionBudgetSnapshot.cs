namespace TenantDbGuard;

/// <summary>The connection budget at one moment.</summary>
public sealed class ConnectionBudgetSnapshot
{
    internal ConnectionBudgetSnapshot(int limit, int ceiling, int open, int inUse, int tenantsInUse, int waiting)
    {
        Limit = limit;
        Ceiling = ceiling;
        Open = open;
        InUse = inUse;
        TenantsInUse = tenantsInUse;
        Waiting = waiting;
    }

    /// <summary>
    /// The process budget now: the most physical connections that may be open (0 until it is known). It starts at
    /// <see cref="Ceiling"/>, shrinks when the server refuses a connection or is near its <c>max_connections</c> while
    /// other clients hold connections too, and grows back step by step while callers wait and the server has room.
    /// </summary>
    public int Limit { get; }

    /// <summary>
    /// The most the budget may grow to: <see cref="TenantDbGuardOptions.MaxConnections"/>, or
    /// <c>floor(@@max_connections * ServerShare) - ReservedConnections</c> as last read from the server (0 until known).
    /// </summary>
    public int Ceiling { get; }

    /// <summary>Physical connections open or being opened, idle ones included.</summary>
    public int Open { get; }

    /// <summary>Connections handed out in leases.</summary>
    public int InUse { get; }

    /// <summary>Tenants (and the master) holding at least one lease.</summary>
    public int TenantsInUse { get; }

    /// <summary>Acquisitions waiting for room.</summary>
    public int Waiting { get; }
}
