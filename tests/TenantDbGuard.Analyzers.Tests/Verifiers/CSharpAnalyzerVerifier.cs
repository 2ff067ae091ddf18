using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Testing;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Testing;

namespace TenantDbGuard.Analyzers.Tests.Verifiers;

/// <summary>Runs one analyzer over sources given with markup and compares its diagnostics.</summary>
internal static class CSharpAnalyzerVerifier<TAnalyzer>
    where TAnalyzer : DiagnosticAnalyzer, new()
{
    /// <summary>A diagnostic of the analyzer's first descriptor, the one <c>[|...|]</c> markup stands for.</summary>
    public static DiagnosticResult Diagnostic() => new(new TAnalyzer().SupportedDiagnostics[0]);

    public static DiagnosticResult Diagnostic(DiagnosticDescriptor descriptor) => new(descriptor);

    /// <summary>Verifies <paramref name="source"/> (against the shared <see cref="TestPrelude"/>) raises exactly <paramref name="expected"/>.</summary>
    public static Task VerifyAnalyzerAsync(string source, params DiagnosticResult[] expected)
    {
        var test = CreateTest(source);
        test.ExpectedDiagnostics.AddRange(expected);
        return test.RunAsync(CancellationToken.None);
    }

    /// <summary>As <see cref="VerifyAnalyzerAsync(string, DiagnosticResult[])"/> with an <c>.editorconfig</c> for the project.</summary>
    public static Task VerifyAnalyzerWithEditorConfigAsync(string source, string editorConfig, params DiagnosticResult[] expected)
    {
        var test = CreateTest(source);
        test.TestState.AnalyzerConfigFiles.Add(("/.editorconfig", "root = true\n\n[*]\n" + editorConfig));
        test.ExpectedDiagnostics.AddRange(expected);
        return test.RunAsync(CancellationToken.None);
    }

    /// <summary>
    /// As <see cref="VerifyAnalyzerAsync(string, DiagnosticResult[])"/> with the sources parsed as C#
    /// <paramref name="languageVersion"/> (12, 13...): overload resolution differs between versions (<c>params</c>
    /// arrays against <c>params</c> spans).
    /// </summary>
    public static Task VerifyAnalyzerAsync(int languageVersion, string source, params DiagnosticResult[] expected)
    {
        var test = CreateTest(source);
        var version = (LanguageVersion)(languageVersion * 100);
        test.SolutionTransforms.Add((solution, projectId) =>
        {
            var options = (CSharpParseOptions)solution.GetProject(projectId)!.ParseOptions!;
            return solution.WithProjectParseOptions(projectId, options.WithLanguageVersion(version));
        });
        test.ExpectedDiagnostics.AddRange(expected);
        return test.RunAsync(CancellationToken.None);
    }

    public static Test CreateTest(string source)
    {
        var test = new Test { TestCode = source };
        return test;
    }

    public sealed class Test : CSharpAnalyzerTest<TAnalyzer, DefaultVerifier>
    {
        public Test()
        {
            ReferenceAssemblies = TestReferences.None;
            TestState.AdditionalReferences.AddRange(TestReferences.All);
        }

        /// <summary><c>[|...|]</c> markup stands for the analyzer's first descriptor, also when it reports several rules.</summary>
        protected override DiagnosticDescriptor? GetDefaultDiagnostic(DiagnosticAnalyzer[] analyzers) =>
            analyzers.Length > 0 && analyzers[0].SupportedDiagnostics.Length > 0 ? analyzers[0].SupportedDiagnostics[0] : null;
    }
}
