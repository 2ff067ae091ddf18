using System;

namespace TenantCrm.Seeding;

/// <summary>Where seeding stands; <c>GET /health</c> reports it.</summary>
public sealed class SeedState
{
    private volatile Snapshot _current = new(SeedStatus.Seeding, 0, null, null);

    /// <summary>The state now.</summary>
    public Snapshot Current => _current;

    internal void Ready(int tenants, TimeSpan duration) => _current = new(SeedStatus.Ready, tenants, duration, null);

    internal void Failed(Exception exception) => _current = new(SeedStatus.Failed, 0, null, exception.Message);

    /// <summary>The state at one moment.</summary>
    /// <param name="Status">Seeding, ready or failed.</param>
    /// <param name="Tenants">How many tenants exist once ready.</param>
    /// <param name="Duration">How long seeding took.</param>
    /// <param name="Error">Why seeding failed.</param>
    public sealed record Snapshot(SeedStatus Status, int Tenants, TimeSpan? Duration, string? Error);
}

/// <summary>The stages of seeding.</summary>
public enum SeedStatus
{
    /// <summary>Still creating databases and rows.</summary>
    Seeding,

    /// <summary>Every tenant exists; the app takes requests.</summary>
    Ready,

    /// <summary>Seeding failed; the log says why and the app stops.</summary>
    Failed,
}
