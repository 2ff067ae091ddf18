using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace TenantDbGuard.Analyzers.Tests.Verifiers;

/// <summary>
/// A fact about the C# 14 <c>field</c> keyword in property accessors, read as preview C# by the Roslyn the tests run on;
/// skipped with the reason when that Roslyn does not know it (the Roslyn 4.8 leg of <c>eng/test.sh</c>).
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class FieldKeywordFactAttribute : FactAttribute
{
    public FieldKeywordFactAttribute()
    {
        var compilation = CSharpCompilation.Create(
            "FieldKeyword",
            new[] { CSharpSyntaxTree.ParseText("class C { object P { get => field ??= new object(); } }", new CSharpParseOptions(LanguageVersion.Preview)) },
            new[] { MetadataReference.CreateFromFile(typeof(object).Assembly.Location) },
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        if (compilation.GetDiagnostics().Any(diagnostic => diagnostic.Severity == DiagnosticSeverity.Error))
        {
            Skip = $"The C# 14 'field' keyword is unknown to Roslyn {typeof(Compilation).Assembly.GetName().Version}, the Roslyn this run uses.";
        }
    }
}
