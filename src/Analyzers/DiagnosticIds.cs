namespace TenantDbGuard.Analyzers;

/// <summary>The ids of every TenantDbGuard rule, in one place.</summary>
public static class DiagnosticIds
{
    /// <summary>A connection is not released on all paths.</summary>
    public const string ConnectionNotReleased = "TDG001";
}
