using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace TenantDbGuard.Analyzers.Tests.Verifiers;

/// <summary>Whether the Roslyn the tests run on knows a language feature (the Roslyn 4.8 leg of <c>eng/test.sh</c> knows fewer).</summary>
internal static class LanguageFeatures
{
    /// <summary>
    /// Null when <paramref name="probe"/> compiles without errors at <paramref name="version"/>; otherwise the reason to
    /// skip a fact about <paramref name="feature"/>.
    /// </summary>
    public static string? SkipUnlessCompiles(string feature, string probe, LanguageVersion version = LanguageVersion.Preview)
    {
        var compilation = CSharpCompilation.Create(
            "LanguageFeature",
            new[] { CSharpSyntaxTree.ParseText(probe, new CSharpParseOptions(version)) },
            new[] { MetadataReference.CreateFromFile(typeof(object).Assembly.Location), MetadataReference.CreateFromFile(typeof(System.Collections.Generic.IEnumerable<>).Assembly.Location) },
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        return compilation.GetDiagnostics().Any(diagnostic => diagnostic.Severity == DiagnosticSeverity.Error)
            ? $"Roslyn {typeof(Compilation).Assembly.GetName().Version}, the Roslyn this run uses, does not know {feature}."
            : null;
    }
}
