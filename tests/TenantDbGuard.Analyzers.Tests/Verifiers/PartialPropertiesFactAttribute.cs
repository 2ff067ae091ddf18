using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace TenantDbGuard.Analyzers.Tests.Verifiers;

/// <summary>
/// A fact about C# 13 partial properties; skipped with the reason when the Roslyn the tests run on does not know them
/// (the Roslyn 4.8 leg of <c>eng/test.sh</c>).
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class PartialPropertiesFactAttribute : FactAttribute
{
    public PartialPropertiesFactAttribute()
    {
        var compilation = CSharpCompilation.Create(
            "PartialProperties",
            new[] { CSharpSyntaxTree.ParseText("partial class C { public partial int P { get; } public partial int P { get => 1; } }", new CSharpParseOptions(LanguageVersion.Preview)) },
            new[] { MetadataReference.CreateFromFile(typeof(object).Assembly.Location) },
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        if (compilation.GetDiagnostics().Any(diagnostic => diagnostic.Severity == DiagnosticSeverity.Error))
        {
            Skip = $"C# 13 partial properties are unknown to Roslyn {typeof(Compilation).Assembly.GetName().Version}, the Roslyn this run uses.";
        }
    }
}
