namespace TenantDbGuard.Analyzers.SharedPoolClosed;

/// <summary>The properties a TDG003 diagnostic carries for its code fix.</summary>
internal static class SharedPoolClosedProperties
{
    /// <summary>What closes the pool: <see cref="DisposeCall"/>, <see cref="Using"/> or <see cref="ClearPool"/>.</summary>
    public const string Kind = "Kind";

    /// <summary><c>pool.Dispose()</c> or <c>pool.DisposeAsync()</c>: removing the call leaves the pool to its owner.</summary>
    public const string DisposeCall = "DisposeCall";

    /// <summary>A <c>using</c> statement or declaration over the pool.</summary>
    public const string Using = "Using";

    /// <summary><c>ClearPool</c>/<c>ClearAllPools</c> on a connection type.</summary>
    public const string ClearPool = "ClearPool";
}
