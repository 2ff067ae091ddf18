using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using TenantDbGuard.Analyzers.Tests.Verifiers;

namespace TenantDbGuard.Analyzers.Tests;

/// <summary>
/// Code being typed is broken most of the time. The analyzers run on every keystroke, so they must never throw:
/// these tests feed them realistic files cut, truncated and spliced at seeded random places.
/// </summary>
public sealed class RobustnessTests
{
    private static readonly string[] Fragments =
    {
        "{", "}", ";", "(", ")", "try", "finally", "catch", "return", "await ", "using ", ".", "=>", "if (x)",
        "goto L;", "L:", "?.", "??", "is null", "yield return", "=", "new", "var c = pool.GetConnection();",
    };

    private static readonly ImmutableArray<DiagnosticAnalyzer> AllAnalyzers = typeof(Descriptors).Assembly.GetTypes()
        .Where(t => t is { IsAbstract: false, IsGenericTypeDefinition: false } && typeof(DiagnosticAnalyzer).IsAssignableFrom(t))
        .Select(t => (DiagnosticAnalyzer)Activator.CreateInstance(t)!)
        .ToImmutableArray();

    public static TheoryData<string, int> Inputs()
    {
        var data = new TheoryData<string, int>();
        foreach (var file in new[] { "samples/Leaks/LeakyTenantQueries.cs", "tests/ValidCode/TenantConnectionFactory.cs", "tests/ValidCode/CustomerRepository.cs", "tests/ValidCode/TenantDataSourceCache.cs" })
        {
            for (var seed = 1; seed <= 4; seed++)
            {
                data.Add(file, seed);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public async Task Mutated_source_never_makes_the_analyzer_throw(string file, int seed)
    {
        var original = await File.ReadAllTextAsync(RepositoryRoot.Combine(file));
        var random = new Random(seed);
        var failures = new List<string>();
        for (var i = 0; i < 12; i++)
        {
            var source = Mutate(original, random);
            var exceptions = await AnalyzeAsync(source);
            failures.AddRange(exceptions.Select(e => $"{e}\n--- source ---\n{source}"));
        }

        Assert.True(failures.Count == 0, string.Join("\n\n", failures.Take(2)));
    }

    [Fact]
    public async Task Every_prefix_of_a_method_being_typed_is_analysed_without_throwing()
    {
        const string method = """
            public async Task<int> CountAsync(Prelude.Pool pool, bool flag)
            {
                var conn = await pool.GetConnectionAsync();
                try
                {
                    if (flag) { return 0; }
                    return await conn.ExecuteAsync("select 1");
                }
                finally
                {
                    conn?.Release();
                }
            }
            """;
        var failures = new List<string>();
        for (var length = 0; length <= method.Length; length += 3)
        {
            var source = "using System.Threading.Tasks;\nclass C\n{\n" + method.Substring(0, length) + "\n}\n";
            failures.AddRange((await AnalyzeAsync(source)).Select(e => $"{e}\n--- source ---\n{source}"));
        }

        Assert.True(failures.Count == 0, string.Join("\n\n", failures.Take(2)));
    }

    private static string Mutate(string source, Random random)
    {
        for (var edits = random.Next(1, 4); edits > 0 && source.Length > 0; edits--)
        {
            var at = random.Next(source.Length);
            var length = Math.Min(random.Next(1, 40), source.Length - at);
            source = random.Next(3) switch
            {
                0 => source.Remove(at, length),
                1 => source.Substring(0, at),
                _ => source.Insert(at, Fragments[random.Next(Fragments.Length)]),
            };
        }

        return source;
    }

    private static async Task<List<Exception>> AnalyzeAsync(string source)
    {
        var compilation = CSharpCompilation.Create(
            "Mutated",
            new[]
            {
                CSharpSyntaxTree.ParseText(source, new CSharpParseOptions(LanguageVersion.Latest), path: "Mutated.cs"),
            },
            TestReferences.All,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
        var exceptions = new List<Exception>();
        var options = new CompilationWithAnalyzersOptions(
            new AnalyzerOptions(ImmutableArray<AdditionalText>.Empty),
            (exception, _, _) =>
            {
                lock (exceptions)
                {
                    exceptions.Add(exception);
                }
            },
            concurrentAnalysis: true,
            logAnalyzerExecutionTime: false);
        var diagnostics = await compilation
            .WithAnalyzers(AllAnalyzers, options)
            .GetAnalyzerDiagnosticsAsync();
        exceptions.AddRange(diagnostics.Where(d => d.Id == "AD0001").Select(d => new InvalidOperationException(d.GetMessage())));
        return exceptions;
    }
}
