using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Text;
using TenantDbGuard.Analyzers.ConnectionLeak;
using TenantDbGuard.Analyzers.Tests.FixExecution;
using TenantDbGuard.CodeFixes;

namespace TenantDbGuard.Analyzers.Tests.Verifiers;

/// <summary>
/// Checks that a fix offers nothing where it cannot be safe, however the analyzer judges the code: the provider gets
/// the diagnostic at the marked spans in every form the analyzer can report it, and must register no code action.
/// </summary>
internal static class NoFixVerifier
{
    /// <summary>
    /// TDG001 at every <c>[|...|]</c>: as the call's value and as the opened receiver, handed off and not.
    /// </summary>
    public static Task VerifyAsync(string source, LanguageVersion languageVersion = LanguageVersion.Latest) =>
        VerifyOnlyAsync(source, [], languageVersion);

    /// <summary>
    /// As <see cref="VerifyAsync(string, LanguageVersion)"/>, but the fixes titled <paramref name="allowedTitles"/> may be
    /// offered: for code where only some fixes are safe ("Dispose on failure" before a call that may keep the connection).
    /// The diagnostic comes both as a leak on failures only and as one on a normal path (an early return elsewhere), where
    /// the fix cannot lean on the analyzer having found every normal path released.
    /// </summary>
    public static Task VerifyOnlyAsync(string source, string[] allowedTitles, LanguageVersion languageVersion = LanguageVersion.Latest) =>
        VerifyLeakAsync(source, allowedTitles, ["ExceptionThrown", "Returns"], languageVersion);

    /// <summary>
    /// As <see cref="VerifyOnlyAsync"/>, with the diagnostic only as a leak on failures (the analyzer found every normal
    /// path released): for code whose release the fix cannot read, where that is what keeps it from adding its own.
    /// </summary>
    public static Task VerifyWhenOnlyFailuresLeakAsync(string source, string[] allowedTitles) =>
        VerifyLeakAsync(source, allowedTitles, ["ExceptionThrown"], LanguageVersion.Latest);

    /// <summary>
    /// As <see cref="VerifyOnlyAsync"/>, with the diagnostic only as one that says the connection may be handed off on a
    /// path the analyzer could not follow: for code where the fix would otherwise release it.
    /// </summary>
    public static Task VerifyHandedOffAsync(string source, string[] allowedTitles) =>
        VerifyLeakAsync(source, allowedTitles, ["ExceptionThrown", "Returns"], LanguageVersion.Latest, handsOffValues: ["true"]);

    private static Task VerifyLeakAsync(string source, string[] allowedTitles, string[] reasons, LanguageVersion languageVersion, string[]? handsOffValues = null) =>
        VerifyAsync(source, new ConnectionLeakCodeFixProvider(), languageVersion, allowedTitles, (spans, tree) =>
            from span in spans[string.Empty]
            from kind in new[] { "Returned", "Opened" }
            from handsOff in handsOffValues ?? ["false", "true"]
            from reason in reasons
            select Diagnostic.Create(
                Descriptors.ConnectionNotReleased,
                Location.Create(tree, span),
                ImmutableDictionary<string, string?>.Empty
                    .Add(ConnectionLeakProperties.Kind, kind)
                    .Add(ConnectionLeakProperties.Reason, reason)
                    .Add(ConnectionLeakProperties.HandsOff, handsOff),
                "the connection",
                "on some path"));

    /// <summary>
    /// TDG004 on the release marked <c>{|#0:...|}</c>, repeated by the release marked <c>{|#1:...|}</c>, reported as
    /// fixable both as a second release and as a release the <c>finally</c> or <c>using</c> repeats.
    /// </summary>
    public static Task VerifyUseAfterReleaseAsync(string source) => VerifyAsync(source, new UseAfterReleaseCodeFixProvider(), LanguageVersion.Latest, [], (spans, tree) =>
        from kind in new[] { "ReleasedAgain", "ReleasedBeforeFinally" }
        select Diagnostic.Create(
            Descriptors.ConnectionUsedAfterRelease,
            Location.Create(tree, spans["#0"].Single()),
            [Location.Create(tree, spans["#1"].Single())],
            ImmutableDictionary<string, string?>.Empty
                .Add(UseAfterReleaseProperties.Kind, kind)
                .Add(UseAfterReleaseProperties.Fixable, "true"),
            "'connection'",
            "is released again"));

    /// <summary>
    /// TDG002 at every <c>[|...|]</c>, as a type that is not disposable and as a <c>Dispose</c> or <c>DisposeAsync</c>
    /// that forgets the member: the forms the fix acts on.
    /// </summary>
    public static Task VerifyOwnerAsync(string source) => VerifyAsync(source, new ConnectionOwnerCodeFixProvider(), LanguageVersion.Latest, [], (spans, tree) =>
        from span in spans[string.Empty]
        from properties in new[]
        {
            ImmutableDictionary<string, string?>.Empty.Add(ConnectionOwnerProperties.Problem, ConnectionOwnerProperties.NotDisposable),
            ImmutableDictionary<string, string?>.Empty.Add(ConnectionOwnerProperties.Problem, ConnectionOwnerProperties.ReleaseMethod).Add(ConnectionOwnerProperties.Method, "Dispose"),
            ImmutableDictionary<string, string?>.Empty.Add(ConnectionOwnerProperties.Problem, ConnectionOwnerProperties.ReleaseMethod).Add(ConnectionOwnerProperties.Method, "DisposeAsync"),
        }
        select Diagnostic.Create(Descriptors.OwnerDoesNotRelease, Location.Create(tree, span), properties, "Owner", "member", "is not disposable"));

    private static async Task VerifyAsync(
        string source,
        CodeFixProvider provider,
        LanguageVersion languageVersion,
        string[] allowedTitles,
        Func<ILookup<string, TextSpan>, SyntaxTree, IEnumerable<Diagnostic>> diagnostics)
    {
        var spans = new List<(string Name, TextSpan Span)>();
        var code = Markup.Strip(source, (name, span) => spans.Add((name, span)));
        Assert.NotEmpty(spans);

        // Top-level statements need a program; anything else is a library.
        var topLevel = CSharpSyntaxTree.ParseText(code, new CSharpParseOptions(languageVersion)).GetCompilationUnitRoot().Members.Any(m => m is Microsoft.CodeAnalysis.CSharp.Syntax.GlobalStatementSyntax);
        using var workspace = new AdhocWorkspace();
        var project = workspace.AddProject("Test", LanguageNames.CSharp)
            .WithCompilationOptions(new CSharpCompilationOptions(topLevel ? OutputKind.ConsoleApplication : OutputKind.DynamicallyLinkedLibrary))
            .WithParseOptions(new CSharpParseOptions(languageVersion))
            .AddMetadataReferences(TestReferences.All);
        var document = project.AddDocument("Test.cs", code);
        var compilation = (await document.Project.GetCompilationAsync())!;
        Assert.Empty(compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error));

        var tree = (await document.GetSyntaxTreeAsync())!;
        var offered = new List<string>();
        foreach (var diagnostic in diagnostics(spans.ToLookup(s => s.Name, s => s.Span), tree))
        {
            var actions = new List<CodeAction>();
            await provider.RegisterCodeFixesAsync(new CodeFixContext(document, diagnostic, (action, _) => actions.Add(action), CancellationToken.None));
            offered.AddRange(actions.Where(a => !allowedTitles.Contains(a.Title)).Select(a =>
                $"'{a.Title}' for {string.Join(", ", diagnostic.Properties.Select(p => $"{p.Key}={p.Value}"))} at '{code.Substring(diagnostic.Location.SourceSpan.Start, diagnostic.Location.SourceSpan.Length)}'"));
        }

        Assert.True(offered.Count == 0, "A fix is offered where it must not be:\n" + string.Join("\n", offered));
    }
}
