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

    /// <summary>
    /// Code no one types but generators write: each shape is built here, at a size far past what the flow analysis
    /// follows, and must be analysed without an exception (a stack overflow ends the compiler, and this test host).
    /// </summary>
    public static TheoryData<string> HostileShapes() => new()
    {
        "sum of 3000 terms", "concatenation of 3000 strings", "chain of 3000 calls", "2000 nested parentheses",
        "chain of 1500 null-conditional calls", "5000 statements", "300-deep nesting", "switch of 3000 cases",
        "goto spaghetti", "500 acquisitions", "lambdas nested 50 deep", "20000 lines", "300 nested usings",
        "a type with 300 owned fields", "helpers calling each other 1500 deep",
    };

    [Theory]
    [MemberData(nameof(HostileShapes))]
    public async Task Generated_code_of_any_size_never_makes_the_analyzers_throw(string shape)
    {
        var (exceptions, diagnostics) = await AnalyzeWithDiagnosticsAsync(Hostile(shape));

        Assert.True(exceptions.Count == 0, string.Join("\n\n", exceptions.Take(2)));
        if (shape.StartsWith("sum", StringComparison.Ordinal) || shape.StartsWith("concatenation", StringComparison.Ordinal)
            || shape.StartsWith("chain of 3000", StringComparison.Ordinal))
        {
            // Nested deeper than the walk follows: not checked, and TDG006 says so, rather than a verdict or a crash.
            Assert.Equal(new[] { "TDG006" }, diagnostics.Select(d => d.Id).Distinct().ToArray());
        }

        if (shape == "500 acquisitions")
        {
            // The member's walks share one budget: leaking acquisitions are reported until it is spent, and TDG006
            // counts the acquisitions left unchecked.
            var notChecked = Assert.Single(diagnostics, d => d.Id == "TDG006").GetMessage();
            var skipped = int.Parse(notChecked.Split(": ")[1].Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
            var reported = diagnostics.Count(d => d.Id == "TDG001");
            Assert.InRange(reported, 1, 250);
            Assert.InRange(skipped, 1, 500 - 2 * reported + 1);
        }
    }

    private static string Hostile(string shape)
    {
        var b = new System.Text.StringBuilder("using System;\nusing System.Threading;\nusing MySqlConnector;\n\n");
        switch (shape)
        {
            case "sum of 3000 terms":
                Method(b, "var v = " + string.Join(" + ", Enumerable.Range(0, 3000).Select(i => $"x * {i}")) + "; c.Dispose(); return v;");
                break;
            case "concatenation of 3000 strings":
                Method(b, "var v = s" + string.Concat(Enumerable.Range(0, 3000).Select(i => $" + \"{i}\"")) + "; c.Dispose(); return v.Length;");
                break;
            case "chain of 3000 calls":
                Method(b, "var v = s" + string.Concat(Enumerable.Repeat(".Trim()", 3000)) + "; c.Dispose(); return v.Length;");
                break;
            case "2000 nested parentheses":
                Method(b, "var v = " + new string('(', 2000) + "x" + new string(')', 2000) + "; c.Dispose(); return v;");
                break;
            case "chain of 1500 null-conditional calls":
                Method(b, "var v = s" + string.Concat(Enumerable.Repeat("?.Trim()", 1500)) + "; c.Dispose(); return v?.Length ?? 0;");
                break;
            case "5000 statements":
                Method(b, "int t = 0;\n" + string.Concat(Enumerable.Range(0, 5000).Select(i =>
                    $"if (x == {i}) t += new MySqlCommand(\"select {i}\", c).ExecuteNonQuery(); else t++;\n")) + "c.Dispose(); return t;");
                break;
            case "300-deep nesting":
            {
                var open = new[] { "if (x > {0}) {{", "for (var i{0} = 0; i{0} < x; i{0}++) {{", "while (x-- > {0}) {{", "try {{" };
                var body = new System.Text.StringBuilder();
                for (var i = 0; i < 300; i++)
                {
                    body.AppendLine(string.Format(System.Globalization.CultureInfo.InvariantCulture, open[i % 4], i));
                }

                body.AppendLine("x++;");
                for (var i = 299; i >= 0; i--)
                {
                    body.AppendLine(i % 4 == 3 ? "} finally { x++; }" : "}");
                }

                Method(b, body + "c.Dispose(); return x;");
                break;
            }

            case "switch of 3000 cases":
                Method(b, "switch (x) {\n" + string.Concat(Enumerable.Range(0, 3000).Select(i => (i % 3) switch
                {
                    0 => $"case {i}: c.Dispose(); return {i};\n",
                    1 => $"case {i}: x += {i}; break;\n",
                    _ => $"case {i}: goto case {i - 1};\n",
                })) + "}\nc.Dispose(); return x;");
                break;
            case "goto spaghetti":
            {
                var random = new Random(7);
                Method(b, "int t = 0;\n" + string.Concat(Enumerable.Range(0, 500).Select(i =>
                    $"L{i}: t += {i};\nif (t % {random.Next(2, 9)} == x) goto L{random.Next(500)};\nif (t > {i * 7}) goto L{random.Next(500)};\n"))
                    + "c.Dispose(); return t;");
                break;
            }

            case "500 acquisitions":
                b.AppendLine("public class Hostile\n{\n    public void M(MySqlDataSource ds, bool f)\n    {");
                for (var i = 0; i < 500; i++)
                {
                    b.AppendLine(i % 2 == 0 ? $"        using var c{i} = ds.OpenConnection();" : $"        var c{i} = ds.OpenConnection(); if (f) c{i}.Dispose();");
                }

                b.AppendLine("    }\n}");
                break;
            case "lambdas nested 50 deep":
            {
                var inner = "using var last = ds.OpenConnection();";
                for (var d = 0; d < 50; d++)
                {
                    inner = $"Action a{d} = () => {{ using var c{d} = ds.OpenConnection(); {inner} }}; a{d}();";
                }

                Method(b, inner + " c.Dispose(); return 0;");
                break;
            }

            case "20000 lines":
                b.AppendLine("public class Hostile\n{");
                for (var i = 0; i < 2000; i++)
                {
                    b.AppendLine($"    public int M{i}(MySqlDataSource ds, int x)\n    {{\n        var c = ds.OpenConnection();\n        try\n        {{");
                    b.AppendLine($"            using var cmd = new MySqlCommand(\"select {i}\", c);\n            return x > 3 ? cmd.ExecuteNonQuery() : x;\n        }}");
                    b.AppendLine("        finally\n        {\n            c.Dispose();\n        }\n    }");
                }

                b.AppendLine("}");
                break;
            case "300 nested usings":
                Method(b, string.Concat(Enumerable.Range(0, 300).Select(i => $"using (var c{i} = ds.OpenConnection()) {{\n"))
                    + "x++;\n" + new string('}', 300) + "\nc.Dispose(); return x;");
                break;
            case "a type with 300 owned fields":
                b.AppendLine("public sealed class Hostile : IDisposable\n{\n    private int _disposed;");
                b.AppendLine(string.Concat(Enumerable.Range(0, 300).Select(i => $"    private readonly MySqlConnection _c{i};\n")));
                b.AppendLine("    public Hostile(MySqlDataSource ds)\n    {");
                b.AppendLine(string.Concat(Enumerable.Range(0, 300).Select(i => $"        _c{i} = ds.OpenConnection();\n")) + "    }");
                b.AppendLine("    public void Dispose()\n    {\n        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;");
                b.AppendLine(string.Concat(Enumerable.Range(0, 300).Select(i => $"        try {{ _c{i}.Dispose(); }} catch (Exception) {{ }}\n")) + "    }\n}");
                break;
            case "helpers calling each other 1500 deep":
                b.AppendLine("public class Hostile\n{\n    MySqlConnection H0(MySqlDataSource ds) => ds.OpenConnection();");
                for (var i = 1; i < 1500; i++)
                {
                    b.AppendLine($"    MySqlConnection H{i}(MySqlDataSource ds) {{ var c = H{i - 1}(ds); return c; }}");
                }

                b.AppendLine("    public void Use(MySqlDataSource ds) { using var c = H1499(ds); }\n}");
                break;
        }

        return b.ToString();

        static void Method(System.Text.StringBuilder b, string body) =>
            b.Append("public class Hostile\n{\n    public int M(MySqlDataSource ds, int x, string s)\n    {\n        var c = ds.OpenConnection();\n")
                .Append(body).Append("\n    }\n}\n");
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

    private static async Task<List<Exception>> AnalyzeAsync(string source) => (await AnalyzeWithDiagnosticsAsync(source)).Exceptions;

    private static async Task<(List<Exception> Exceptions, ImmutableArray<Diagnostic> Diagnostics)> AnalyzeWithDiagnosticsAsync(string source)
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
        return (exceptions, diagnostics);
    }
}
