using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp.Testing;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Testing;
using TenantDbGuard.Analyzers.Tests.FixExecution;

namespace TenantDbGuard.Analyzers.Tests.Verifiers;

/// <summary>
/// Runs one analyzer and its code fix over sources given with markup and compares the fixed code. The fixed code
/// must compile and raise nothing, and a TDG001 fix's title must say what it wrote ("Use 'await using'" or "Use
/// 'using'", "Release in 'finally'", ...); the framework also applies Fix All in document, project and solution and
/// expects the same result. Then the execution check runs the original and the fixed code (see
/// <see cref="FixExecutionCheck"/>) unless the test opts out with <see cref="Execution.Skip"/> and a reason.
/// </summary>
internal static class CSharpCodeFixVerifier<TAnalyzer, TCodeFix>
    where TAnalyzer : DiagnosticAnalyzer, new()
    where TCodeFix : CodeFixProvider, new()
{
    /// <summary>
    /// Applies the code action with <paramref name="equivalenceKey"/> (the first one offered when <c>null</c>)
    /// to every diagnostic marked in <paramref name="source"/> and compares the result with <paramref name="fixedSource"/>.
    /// </summary>
    public static Task VerifyCodeFixAsync(string source, string fixedSource, string? equivalenceKey = null, Execution? execution = null)
    {
        var test = CreateTest(source, fixedSource, equivalenceKey);
        test.Execution = execution ?? Execution.Default;
        return test.RunAsync(CancellationToken.None);
    }

    /// <summary>As <see cref="VerifyCodeFixAsync"/> with an <c>.editorconfig</c> for the project.</summary>
    public static Task VerifyCodeFixWithEditorConfigAsync(string source, string fixedSource, string editorConfig, string? equivalenceKey = null, Execution? execution = null)
    {
        var test = CreateTest(source, fixedSource, equivalenceKey);
        test.Execution = execution ?? Execution.Default;
        test.TestState.AnalyzerConfigFiles.Add(("/.editorconfig", "root = true\n\n[*]\n" + editorConfig));
        return test.RunAsync(CancellationToken.None);
    }

    /// <summary>
    /// Fix All over the documents of one project: Fix All in project and in solution (and in document when there is
    /// only one) must reach <paramref name="fixedSources"/> in one pass. Fix All in document handles one file per
    /// pass, so it is skipped when there are several.
    /// </summary>
    public static Task VerifyFixAllAsync(string[] sources, string[] fixedSources, string? equivalenceKey = null, Execution? execution = null)
    {
        var test = new Test { CodeActionEquivalenceKey = equivalenceKey, Execution = execution ?? Execution.Default };
        for (var i = 0; i < sources.Length; i++)
        {
            test.TestState.Sources.Add(($"/0/Test{i}.cs", sources[i]));
        }

        for (var i = 0; i < fixedSources.Length; i++)
        {
            test.FixedState.Sources.Add(($"/0/Test{i}.cs", fixedSources[i]));
        }

        test.NumberOfFixAllIterations = 1;
        if (sources.Length > 1)
        {
            test.CodeFixTestBehaviors |= CodeFixTestBehaviors.SkipFixAllInDocumentCheck;
        }

        return test.RunAsync(CancellationToken.None);
    }

    public static Test CreateTest(string source, string fixedSource, string? equivalenceKey = null)
    {
        return new Test
        {
            TestCode = source,
            FixedCode = fixedSource,
            CodeActionEquivalenceKey = equivalenceKey,
        };
    }

    public sealed class Test : CSharpCodeFixTest<TAnalyzer, TCodeFix, DefaultVerifier>
    {
        public Test()
        {
            ReferenceAssemblies = TestReferences.None;
            TestState.AdditionalReferences.AddRange(TestReferences.All);

            // Markup in the fixed code states what the analyzer still reports after the fix, fixable or not.
            FixedState.MarkupHandling = MarkupMode.Allow;
            CodeActionVerifier = VerifyTitle;
        }

        /// <summary>
        /// The light bulb's title says what the TDG001 fix writes: "Use 'await using'" when the fixed code has more
        /// <c>await using</c> than the original, "Use 'using'" when it has more of the other (checked where one
        /// diagnostic is fixed, so that the fixed code is that fix's alone; a fix that moves an acquisition into a
        /// <c>using</c> already written adds neither).
        /// </summary>
        private void VerifyTitle(CodeAction action, IVerifier verifier)
        {
            string? expected = action.EquivalenceKey switch
            {
                "TDG001.ReleaseInFinally" => "Release in 'finally'",
                "TDG001.DisposeOnFailure" => "Dispose on failure",
                "TDG001.ReleaseDiscarded" => "Release the discarded connection",
                "TDG001.UseUsing" => UsingTitle(),
                _ => null,
            };
            if (expected is not null)
            {
                verifier.Equal(expected, action.Title, $"The title of the fix '{action.EquivalenceKey}'.");
            }
        }

        private string? UsingTitle()
        {
            if (TestState.Sources.Count != 1 || FixedState.Sources.Count != 1)
            {
                return null;
            }

            var source = TestState.Sources[0].content.ToString();
            var fixedSource = FixedState.Sources[0].content.ToString();
            if (Count(source, "[|") != 1)
            {
                return null;
            }

            var awaited = Count(fixedSource, "await using") - Count(source, "await using");
            var plain = Plain(fixedSource) - Plain(source);
            return awaited > 0 && plain <= 0 ? "Use 'await using'" : plain > 0 && awaited <= 0 ? "Use 'using'" : null;

            static int Plain(string text) =>
                Count(text, "using var ") + Count(text, "using (") - Count(text, "await using var ") - Count(text, "await using (");
        }

        private static int Count(string text, string part)
        {
            var count = 0;
            for (var at = text.IndexOf(part, StringComparison.Ordinal); at >= 0; at = text.IndexOf(part, at + part.Length, StringComparison.Ordinal))
            {
                count++;
            }

            return count;
        }

        /// <summary>
        /// The light bulb offers each fix once per diagnostic: two actions with one equivalence key would show twice in
        /// an editor, and a bulk repair (which picks actions by key) could apply either.
        /// </summary>
        protected override ImmutableArray<CodeAction> FilterCodeActions(ImmutableArray<CodeAction> actions)
        {
            var repeated = actions.GroupBy(action => action.EquivalenceKey ?? action.Title, StringComparer.Ordinal).FirstOrDefault(group => group.Count() > 1);
            if (repeated is not null)
            {
                throw new InvalidOperationException($"The fix '{repeated.First().Title}' ({repeated.Key}) is offered {repeated.Count()} times for one diagnostic.");
            }

            return base.FilterCodeActions(actions);
        }

        /// <summary>Whether the execution check runs the original and the fixed code after the comparison.</summary>
        public Execution Execution { get; set; } = Execution.Default;

        /// <inheritdoc />
        protected override async Task RunImplAsync(CancellationToken cancellationToken)
        {
            await base.RunImplAsync(cancellationToken);
            if (FixedState.Sources.Count > 0)
            {
                await FixExecutionCheck.VerifyAsync(
                    UserSources(TestState.Sources),
                    UserSources(FixedState.Sources),
                    TestState.OutputKind ?? OutputKind.DynamicallyLinkedLibrary,
                    Execution);
            }
        }

        /// <summary>The test's own code: the execution check brings its own, runnable Prelude.</summary>
        private static string[] UserSources(SourceFileList sources) =>
            sources.Where(s => s.filename != "Prelude.cs").Select(s => s.content.ToString()).ToArray();

        /// <summary><c>[|...|]</c> markup stands for the analyzer's first descriptor, also when it reports several rules.</summary>
        protected override DiagnosticDescriptor? GetDefaultDiagnostic(DiagnosticAnalyzer[] analyzers) =>
            analyzers.Length > 0 && analyzers[0].SupportedDiagnostics.Length > 0 ? analyzers[0].SupportedDiagnostics[0] : null;
    }
}
