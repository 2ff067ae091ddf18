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
        Skip = LanguageFeatures.SkipUnlessCompiles("C# 13 params collections", "class C { static void M(params System.Collections.Generic.IEnumerable<int> values) { } }", LanguageVersion.Latest);
    }
}
