using System;

namespace TenantDbGuard;

/// <summary>Settings of the <see cref="TenantDbGuardHealthCheck"/>.</summary>
public sealed class TenantDbGuardHealthCheckOptions
{
    /// <summary>
    /// How far back acquisitions that timed out make the check Degraded: a timeout older than this no longer counts, so
    /// the check recovers once callers stop timing out. Default 1 minute.
    /// </summary>
    public TimeSpan TimeoutWindow { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// How long the probe of the master database (<c>SELECT 1</c> over a connection of the budget) may take before the
    /// master counts as unreachable; the health check's own cancellation ends it sooner. Default 5 seconds; positive and
    /// at most 49 days.
    /// </summary>
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(5);
}
