using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit.Sdk;

namespace TenantDbGuard.Analyzers.Tests.Verifiers;

/// <summary>
/// A theory row whose first argument is a C# language version (12, 13...), skipped with a reason when the Roslyn the
/// tests run on does not know that version (the Roslyn 4.8 leg of <c>eng/test.sh</c> stops at C# 12).
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = true)]
public sealed class InlineCSharpAttribute : DataAttribute
{
    private readonly object[] _row;

    public InlineCSharpAttribute(int languageVersion, params object[] data)
    {
        _row = [languageVersion, .. data];
        if (!Enum.IsDefined(typeof(LanguageVersion), languageVersion * 100))
        {
            Skip = $"C# {languageVersion} is unknown to Roslyn {typeof(Compilation).Assembly.GetName().Version}, the Roslyn this run uses.";
        }
    }

    public override IEnumerable<object[]> GetData(MethodInfo testMethod) => [_row];
}
