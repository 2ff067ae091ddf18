namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>The properties a TDG001 diagnostic carries for its code fix.</summary>
internal static class ConnectionLeakProperties
{
    /// <summary><c>Returned</c> (the call's value is the connection) or <c>Opened</c> (the receiver was opened).</summary>
    public const string Kind = "Kind";

    /// <summary>The most convincing leak: <c>Discarded</c>, <c>Overwritten</c>, <c>AcquiredAgain</c>, <c>Returns</c>, <c>ExceptionThrown</c>.</summary>
    public const string Reason = "Reason";

    /// <summary><c>true</c> when some path hands the connection to the caller or a field: only failure paths may release it.</summary>
    public const string HandsOff = "HandsOff";
}
