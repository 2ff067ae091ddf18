namespace TenantDbGuard.Analyzers;

/// <summary>The ids of every TenantDbGuard rule, in one place.</summary>
public static class DiagnosticIds
{
    /// <summary>A connection is not released on all paths.</summary>
    public const string ConnectionNotReleased = "TDG001";

    /// <summary>A data source (connection pool) is created on every call instead of once.</summary>
    public const string DataSourcePerCall = "TDG002";

    /// <summary>A shared connection pool is closed or cleared from request code.</summary>
    public const string SharedPoolClosed = "TDG003";

    /// <summary>A connection is used, or released again, after it was released.</summary>
    public const string ConnectionUsedAfterRelease = "TDG004";

    /// <summary>A type that owns a connection does not release it.</summary>
    public const string OwnerDoesNotRelease = "TDG005";

    /// <summary>A method is too large for the path analysis of TDG001/TDG004, which checked only part of it.</summary>
    public const string AnalysisLimitReached = "TDG006";
}
