using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace TenantDbGuard.Analyzers.Tests.Verifiers;

/// <summary>
/// A fact about C# 14 extension blocks (<c>extension(T receiver) { ... }</c>), read as preview C# by the Roslyn the tests
/// run on; skipped with the reason when that Roslyn does not parse them (the Roslyn 4.8 leg of <c>eng/test.sh</c>).
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class ExtensionBlocksFactAttribute : FactAttribute
{
    public ExtensionBlocksFactAttribute()
    {
        var tree = CSharpSyntaxTree.ParseText("static class E { extension(int value) { } }", new CSharpParseOptions(LanguageVersion.Preview));
        if (!tree.GetRoot().DescendantNodes().Any(node => node.Kind().ToString().StartsWith("Extension", StringComparison.Ordinal)))
        {
            Skip = $"C# 14 extension blocks are unknown to Roslyn {typeof(Compilation).Assembly.GetName().Version}, the Roslyn this run uses.";
        }
    }
}
