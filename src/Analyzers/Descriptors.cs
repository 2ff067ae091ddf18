using Microsoft.CodeAnalysis;

namespace TenantDbGuard.Analyzers;

/// <summary>The diagnostic descriptors of every TenantDbGuard rule, in one place.</summary>
public static class Descriptors
{
    /// <summary>The address of the rule pages; <c>{id}.md</c> is appended.</summary>
    public const string HelpLinkBase = "https://github.com/tenantdbguard/TenantDbGuard/blob/main/docs/rules/";

    /// <summary>TDG001: a connection is not released on all paths.</summary>
    public static readonly DiagnosticDescriptor ConnectionNotReleased = Create(
        DiagnosticIds.ConnectionNotReleased,
        title: "Connection is not released on all paths",
        messageFormat: "{0} is not released {1}",
        RuleCategory.Reliability,
        DiagnosticSeverity.Warning,
        description: "A connection taken from a pool or data source, or opened with Open/OpenAsync, must be released "
            + "(Dispose, DisposeAsync, Close, Release, or a using/await using) on every path, exceptions included, "
            + "or handed to the caller. Every path that forgets it keeps a server connection until the process ends "
            + "and eventually fails the whole service with 'Too many connections' (MySQL error 1040).");

    /// <summary>TDG002: a data source, and so a connection pool, is created on every call.</summary>
    public static readonly DiagnosticDescriptor DataSourcePerCall = Create(
        DiagnosticIds.DataSourcePerCall,
        title: "Connection pool is created on every call",
        messageFormat: "'{0}' creates a new connection pool on every call; create the data source once (a static field, a singleton or a cache per tenant) and reuse it",
        RuleCategory.Reliability,
        DiagnosticSeverity.Warning,
        description: "Every DbDataSource (MySqlDataSource, a data source builder's Build()) owns its own connection pool. "
            + "One created in a method body and not kept in a field, a singleton or a cache per tenant is built again on "
            + "every call: each call opens new physical connections, and the pools that are not disposed keep their idle "
            + "connections open until the server refuses everyone with 'Too many connections' (MySQL error 1040).");

    /// <summary>TDG003: a shared connection pool is closed or cleared from request code.</summary>
    public static readonly DiagnosticDescriptor SharedPoolClosed = Create(
        DiagnosticIds.SharedPoolClosed,
        title: "Shared connection pool is closed from request code",
        messageFormat: "'{0}' {1}",
        RuleCategory.Reliability,
        DiagnosticSeverity.Warning,
        description: "A data source or pool that a method did not create (a field, a parameter, a value from a cache or the "
            + "service provider) is shared: disposing it breaks every other caller and the next request builds a new pool. "
            + "MySqlConnection.ClearPool/ClearAllPools close the pooled connections of every caller. Release the connection "
            + "instead, and leave closing pools to shutdown code: the owner's Dispose, IHostedService.StopAsync, an "
            + "ApplicationStopping callback.");

    /// <summary>TDG004: a connection is used, or released again, after it was released.</summary>
    public static readonly DiagnosticDescriptor ConnectionUsedAfterRelease = Create(
        DiagnosticIds.ConnectionUsedAfterRelease,
        title: "Connection is used or released again after it was released",
        messageFormat: "{0} {1}",
        RuleCategory.Reliability,
        DiagnosticSeverity.Warning,
        description: "Once a connection or lease is released (Release, Dispose, DisposeAsync, or Close on a lease) it may already "
            + "serve another caller or tenant: using it again fails with ObjectDisposedException or, with a pool that does not "
            + "check, runs on someone else's connection, and releasing it twice can hand one connection to two callers. "
            + "After Close a DbConnection may be opened again; only members that need an open connection are reported then.");

    /// <summary>TDG005: a type keeps a connection in a field and does not release it on every path of its Dispose.</summary>
    public static readonly DiagnosticDescriptor OwnerDoesNotRelease = Create(
        DiagnosticIds.OwnerDoesNotRelease,
        title: "Type that owns a connection does not release it",
        messageFormat: "'{0}' owns the connection in '{1}' but {2}",
        RuleCategory.Reliability,
        DiagnosticSeverity.Warning,
        description: "A class that acquires a connection into a field owns it: its Dispose or DisposeAsync must release it on "
            + "every path, also when an earlier dispose in the same method throws, and a type that owns one must be disposable "
            + "so that its users can give it back. Otherwise every instance keeps a server connection until the process ends "
            + "and the service eventually fails with 'Too many connections' (MySQL error 1040).");

    /// <summary>TDG006: a method has more paths than the flow analysis follows; TDG001/TDG004 reported nothing for part of it.</summary>
    public static readonly DiagnosticDescriptor AnalysisLimitReached = Create(
        DiagnosticIds.AnalysisLimitReached,
        title: "Method is too large for the connection path analysis",
        messageFormat: "'{0}' has more paths than TDG001 follows: {1} of its acquisitions were not checked",
        RuleCategory.Reliability,
        DiagnosticSeverity.Info,
        description: "TDG001 and TDG004 follow every combination of a connection's holders, its release flags and the finally "
            + "blocks being run, up to a fixed number of steps per acquisition. A method with more combinations than that "
            + "(many branches that each copy or release the connection differently) is checked only in part: the analysis "
            + "reports nothing for the acquisitions it could not finish, so that it never reports a leak it did not prove. "
            + "Split the method, or keep each connection in one variable, to have it checked.");

    private static DiagnosticDescriptor Create(
        string id,
        string title,
        string messageFormat,
        RuleCategory category,
        DiagnosticSeverity defaultSeverity,
        string description)
    {
        return new DiagnosticDescriptor(
            id,
            title,
            messageFormat,
            category.ToString(),
            defaultSeverity,
            isEnabledByDefault: true,
            description: description,
            helpLinkUri: HelpLinkBase + id + ".md");
    }

    private enum RuleCategory
    {
        Reliability,
    }
}
