namespace TenantDbGuard;

/// <summary>The connection budget at one moment.</summary>
public sealed class ConnectionBudgetSnapshot
{
    internal ConnectionBudgetSnapshot(int limit, int open, int inUse, int tenantsInUse, int waiting)
    {
        Limit = limit;
        Open = open;
        InUse = inUse;
        TenantsInUse = tenantsInUse;
        Waiting = waiting;
    }

    /// <summary>The process budget: the most physical connections that may be open (0 until it is known).</summary>
    public int Limit { get; }

    /// <summary>Physical connections open or being opened, idle ones included.</summary>
    public int Open { get; }

    /// <summary>Connections handed out in leases.</summary>
    public int InUse { get; }

    /// <summary>Tenants (and the master) holding at least one lease.</summary>
    public int TenantsInUse { get; }

    /// <summary>Acquisitions waiting for room.</summary>
    public int Waiting { get; }
}
