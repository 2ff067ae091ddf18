using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace TenantDbGuard.Analyzers.Tests.Verifiers;

/// <summary>
/// A fact about C# 13 <c>params</c> collections (<c>params IEnumerable&lt;T&gt;</c>); skipped with the reason when the
/// Roslyn the tests run on does not know them (the Roslyn 4.8 leg of <c>eng/test.sh</c>).
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class ParamsCollectionsFactAttribute : FactAttribute
{
    public ParamsCollectionsFactAttribute()
    {
        var compilation = CSharpCompilation.Create(
            "ParamsCollections",
            new[] { CSharpSyntaxTree.ParseText("class C { static void M(params System.Collections.Generic.IEnumerable<int> values) { } }", new CSharpParseOptions(LanguageVersion.Latest)) },
            new[] { MetadataReference.CreateFromFile(typeof(object).Assembly.Location), MetadataReference.CreateFromFile(typeof(System.Collections.Generic.IEnumerable<>).Assembly.Location) },
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        if (compilation.GetDiagnostics().Any(diagnostic => diagnostic.Severity == DiagnosticSeverity.Error))
        {
            Skip = $"C# 13 params collections are unknown to Roslyn {typeof(Compilation).Assembly.GetName().Version}, the Roslyn this run uses.";
        }
    }
}
