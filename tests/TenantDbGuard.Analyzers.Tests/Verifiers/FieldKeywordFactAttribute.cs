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
        Skip = LanguageFeatures.SkipUnlessCompiles("the C# 14 'field' keyword", "class C { object P { get => field ??= new object(); } }", LanguageVersion.Preview);
    }
}
