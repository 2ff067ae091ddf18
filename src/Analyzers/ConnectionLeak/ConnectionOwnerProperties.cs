namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>The properties a TDG005 diagnostic carries for its code fix.</summary>
internal static class ConnectionOwnerProperties
{
    /// <summary>What is wrong: <see cref="NotDisposable"/>, <see cref="InheritedDispose"/>, <see cref="ReleaseMethod"/>, <see cref="Constructor"/>.</summary>
    public const string Problem = "Problem";

    /// <summary>For <see cref="ReleaseMethod"/>: the name of the method (Dispose, DisposeAsync, ...) of the type that misses a path.</summary>
    public const string Method = "Method";

    /// <summary>The type owns the connection and is not disposable at all.</summary>
    public const string NotDisposable = "NotDisposable";

    /// <summary>The type is disposable only through a base type, whose Dispose cannot know the member.</summary>
    public const string InheritedDispose = "InheritedDispose";

    /// <summary>A Dispose/DisposeAsync (or Close/Release) of the type does not release the member on every path.</summary>
    public const string ReleaseMethod = "ReleaseMethod";

    /// <summary>A constructor can throw after storing the connection, and nothing releases it then.</summary>
    public const string Constructor = "Constructor";
}
