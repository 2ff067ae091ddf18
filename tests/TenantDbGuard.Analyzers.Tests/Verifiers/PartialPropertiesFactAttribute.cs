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
        Skip = LanguageFeatures.SkipUnlessCompiles("C# 13 partial properties", "partial class C { public partial int P { get; } public partial int P { get => 1; } }", LanguageVersion.Preview);
    }
}
