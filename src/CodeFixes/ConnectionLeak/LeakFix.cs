using System;
using Microsoft.CodeAnalysis;

namespace TenantDbGuard.CodeFixes.ConnectionLeak;

/// <summary>One way to fix one TDG001: a title, an equivalence key, and the rewrite of the syntax root.</summary>
internal sealed class LeakFix
{
    public const string UseUsingKey = "TDG001.UseUsing";
    public const string ReleaseInFinallyKey = "TDG001.ReleaseInFinally";
    public const string DisposeOnFailureKey = "TDG001.DisposeOnFailure";
    public const string ReleaseDiscardedKey = "TDG001.ReleaseDiscarded";

    public LeakFix(string title, string equivalenceKey, Func<SyntaxNode, SyntaxNode> apply)
    {
        Title = title;
        EquivalenceKey = equivalenceKey;
        Apply = apply;
    }

    public string Title { get; }

    public string EquivalenceKey { get; }

    /// <summary>Rewrites the root the fix was planned on.</summary>
    public Func<SyntaxNode, SyntaxNode> Apply { get; }

    public static LeakFix UseUsing(bool awaited, Func<SyntaxNode, SyntaxNode> apply) =>
        new(awaited ? "Use 'await using'" : "Use 'using'", UseUsingKey, apply);

    public static LeakFix ReleaseInFinally(Func<SyntaxNode, SyntaxNode> apply) => new("Release in 'finally'", ReleaseInFinallyKey, apply);

    public static LeakFix DisposeOnFailure(Func<SyntaxNode, SyntaxNode> apply) => new("Dispose on failure", DisposeOnFailureKey, apply);

    public static LeakFix ReleaseDiscarded(Func<SyntaxNode, SyntaxNode> apply) => new("Release the discarded connection", ReleaseDiscardedKey, apply);
}
