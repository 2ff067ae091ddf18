using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using System.Reflection;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;

namespace RealCode;

/// <summary>
/// <c>RealCode &lt;folder&gt; [--with-tests]</c>: compiles every <c>.cs</c> file under a local copy of a code base in this
/// process (one compilation, against the .NET 10 reference assemblies and the common data providers: MySqlConnector,
/// MySql.Data, Npgsql, Microsoft.Data.SqlClient, System.Data.SqlClient, Dapper, Hangfire.Core, the hosting and
/// logging abstractions), runs the TenantDbGuard analyzers over it, and prints every report with its source line.
/// With <c>--fix</c>, applies the code fixes instead and prints each edit (<see cref="FixMode"/>).
/// </summary>
/// <remarks>
/// The code base's own project files are not built: their packages need not restore here, and the rules need types,
/// not a binary. Types the references above do not have stay unresolved and the compiler's errors about them are only
/// counted; the analyzers see such calls as calls they cannot classify, so an unresolved type can hide a report, never
/// create one. Folders named like tests, benchmarks or samples are left out unless <c>--with-tests</c> is given, and so
/// are <c>bin</c> and <c>obj</c>. Nothing is fetched.
/// </remarks>
internal static class Program
{
    private static readonly string[] PreprocessorSymbols =
    [
        "NET", "NETCOREAPP", "NETCOREAPP3_0_OR_GREATER", "NETCOREAPP3_1_OR_GREATER", "NET5_0_OR_GREATER", "NET6_0_OR_GREATER",
        "NET7_0_OR_GREATER", "NET8_0_OR_GREATER", "NETSTANDARD2_1_OR_GREATER", "RELEASE",
    ];

    private static async Task<int> Main(string[] args)
    {
        string[] flags = ["--with-tests", "--fix", "--write"];
        if (args.Length < 1 || !Directory.Exists(args[0]) || args.Skip(1).Any(a => !flags.Contains(a)) || (args.Contains("--write") && !args.Contains("--fix")))
        {
            Console.Error.WriteLine("usage: RealCode <folder> [--with-tests] [--fix [--write]]");
            return 2;
        }

        var folder = Path.GetFullPath(args[0]);
        var withTests = args.Contains("--with-tests");
        var parseOptions = new CSharpParseOptions(LanguageVersion.Latest, preprocessorSymbols: PreprocessorSymbols);
        var trees = Directory.EnumerateFiles(folder, "*.cs", SearchOption.AllDirectories)
            .Where(path => Included(Path.GetRelativePath(folder, path), withTests))
            .Order(StringComparer.Ordinal)
            .Select(path => CSharpSyntaxTree.ParseText(SourceText.From(File.ReadAllText(path), Encoding.UTF8), parseOptions, path))
            .ToList();
        // A code base that is one of the libraries referenced here (MySqlConnector's own sources) is compiled without it.
        var declared = trees.SelectMany(t => t.GetRoot().DescendantNodes(n => n is CompilationUnitSyntax or BaseNamespaceDeclarationSyntax).OfType<BaseNamespaceDeclarationSyntax>())
            .Select(n => n.Name.ToString())
            .ToHashSet(StringComparer.Ordinal);
        var compilation = CSharpCompilation.Create(
            Path.GetFileName(folder),
            trees,
            References(declared),
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable, allowUnsafe: true));

        var analyzers = typeof(TenantDbGuard.Analyzers.DiagnosticIds).Assembly.GetTypes()
            .Where(t => !t.IsAbstract && typeof(DiagnosticAnalyzer).IsAssignableFrom(t) && t.GetCustomAttribute<DiagnosticAnalyzerAttribute>() is not null)
            .OrderBy(t => t.Name, StringComparer.Ordinal)
            .Select(t => (DiagnosticAnalyzer)Activator.CreateInstance(t)!)
            .ToImmutableArray();
        if (args.Contains("--fix"))
        {
            return await FixMode.RunAsync(folder, compilation, analyzers, write: args.Contains("--write"));
        }

        var failures = new List<string>();
        var options = new CompilationWithAnalyzersOptions(
            new AnalyzerOptions(ImmutableArray<AdditionalText>.Empty),
            onAnalyzerException: (exception, analyzer, _) => { lock (failures) { failures.Add($"{analyzer.GetType().Name}: {exception.Message}"); } },
            concurrentAnalysis: true,
            logAnalyzerExecutionTime: false);
        var reports = (await compilation.WithAnalyzers(analyzers, options).GetAnalyzerDiagnosticsAsync(CancellationToken.None))
            .Where(d => d.Id.StartsWith("TDG", StringComparison.Ordinal))
            .OrderBy(d => d.Location.SourceTree?.FilePath, StringComparer.Ordinal)
            .ThenBy(d => d.Location.SourceSpan.Start)
            .ToList();
        var errors = compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        var commonest = string.Join(", ", errors.GroupBy(e => e.Id).OrderByDescending(g => g.Count()).Take(3).Select(g => $"{g.Key} x{g.Count()}"));

        Console.WriteLine($"== {Path.GetFileName(folder)}: {trees.Count} files, {trees.Sum(t => t.GetText().Lines.Count)} lines, {errors.Count} compiler errors (unresolved types tolerated{(errors.Count > 0 ? "; most: " + commonest : "")})");
        foreach (var report in reports)
        {
            var span = report.Location.GetLineSpan();
            var line = span.StartLinePosition.Line;
            var code = report.Location.SourceTree!.GetText().Lines[line].ToString().Trim();
            Console.WriteLine($"{Path.GetRelativePath(folder, span.Path)}:{line + 1}: {report.Id}: {report.GetMessage()}");
            Console.WriteLine($"    {code}");
        }

        Console.WriteLine($"reports: {reports.Count} ({string.Join(", ", reports.GroupBy(r => r.Id).OrderBy(g => g.Key).Select(g => $"{g.Key}: {g.Count()}"))})");
        foreach (var failure in failures)
        {
            Console.WriteLine("analyzer failure: " + failure);
        }

        return failures.Count == 0 ? 0 : 1;
    }

    private static bool Included(string relativePath, bool withTests)
    {
        var parts = relativePath.Split(Path.DirectorySeparatorChar);
        if (parts.Any(p => p is "bin" or "obj"))
        {
            return false;
        }

        return withTests || !parts.Take(parts.Length - 1).Any(p =>
            p.Contains("test", StringComparison.OrdinalIgnoreCase)
            || p.Contains("benchmark", StringComparison.OrdinalIgnoreCase)
            || p.Contains("sample", StringComparison.OrdinalIgnoreCase)
            || p.Contains("example", StringComparison.OrdinalIgnoreCase));
    }

    private static IEnumerable<MetadataReference> References(HashSet<string> declaredNamespaces)
    {
        var libraries = new[]
        {
            typeof(MySqlConnector.MySqlConnection).Assembly,
            typeof(MySql.Data.MySqlClient.MySqlConnection).Assembly,
            typeof(Npgsql.NpgsqlConnection).Assembly,
            typeof(Microsoft.Data.SqlClient.SqlConnection).Assembly,
            typeof(System.Data.SqlClient.SqlConnection).Assembly,
            typeof(Dapper.SqlMapper).Assembly,
            typeof(Hangfire.JobStorage).Assembly,
            typeof(Microsoft.Extensions.Hosting.IHostedService).Assembly,
            typeof(Microsoft.Extensions.DependencyInjection.IServiceCollection).Assembly,
            typeof(Microsoft.Extensions.Logging.ILogger).Assembly,
        };
        return Basic.Reference.Assemblies.Net100.References.All
            .Cast<MetadataReference>()
            .Concat(libraries
                .Where(assembly => !declaredNamespaces.Contains(assembly.GetName().Name!))
                .Select(assembly => MetadataReference.CreateFromFile(assembly.Location)));
    }
}
