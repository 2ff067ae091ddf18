namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>The properties a TDG004 diagnostic carries for its code fix.</summary>
internal static class UseAfterReleaseProperties
{
    /// <summary><c>UsedAfterRelease</c>, <c>ReleasedAgain</c> or <c>ReleasedBeforeFinally</c> (see <see cref="MisuseKind"/>).</summary>
    public const string Kind = "Kind";

    /// <summary><c>true</c> when removing the reported release keeps the connection released on every path.</summary>
    public const string Fixable = "Fixable";
}
