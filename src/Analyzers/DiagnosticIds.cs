namespace TenantDbGuard.Analyzers;

/// <summary>The ids of every TenantDbGuard rule, in one place.</summary>
public static class DiagnosticIds
{
    /// <summary>A connection is not released on all paths.</summary>
    public const string ConnectionNotReleased = "TDG001";

    /// <summary>A connection is used, or released again, after it was released.</summary>
    public const string ConnectionUsedAfterRelease = "TDG004";
}
