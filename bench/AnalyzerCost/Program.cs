using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;

namespace AnalyzerCost;

/// <summary>
/// <c>AnalyzerCost &lt;folder&gt; [--rounds N] [--compare OTHER.dll]</c>: compiles every <c>.cs</c> file under the folder
/// in this process, alternately without and with the TenantDbGuard analyzers, and prints the CPU each configuration
/// took. With <c>--compare</c>, the analyzers of another build of <c>TenantDbGuard.Analyzers.dll</c> (an older revision)
/// are a fourth configuration of every round, so that two revisions are measured side by side in one run.
/// </summary>
/// <remarks>
/// A build runs the compiler and the analyzers in one process, over one compilation: the compiler emits while
/// the analyzer driver feeds the analyzers. This program does the same with the public API (parse, create the
/// compilation, <c>WithAnalyzers</c>, emit the compilation the analyzers are attached to, wait for their
/// diagnostics), so the difference between the two configurations is what the analyzers add, their driver
/// included. It leaves out what a real build adds around the compiler (MSBuild, reference resolution, the SDK's
/// own analyzers), which makes the base smaller and the percentage an upper bound of the build overhead.
/// The figure is the process's CPU time (user + system), which counts work on every core; the order of the
/// configurations alternates from round to round.
/// </remarks>
internal static class Program
{
    private static async Task<int> Main(string[] args)
    {
        string? compare = null;
        var compareAt = Array.IndexOf(args, "--compare");
        if (compareAt > 0 && compareAt + 1 < args.Length)
        {
            compare = Path.GetFullPath(args[compareAt + 1]);
            args = [.. args.Take(compareAt), .. args.Skip(compareAt + 2)];
        }

        if (args.Length is not (1 or 3) || (args.Length == 3 && args[1] != "--rounds"))
        {
            Console.Error.WriteLine("usage: AnalyzerCost <folder> [--rounds 10] [--compare OTHER/TenantDbGuard.Analyzers.dll]");
            return 2;
        }

        var folder = args[0];
        var rounds = args.Length == 3 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 10;
        if (!Directory.Exists(folder) || rounds < 1)
        {
            Console.Error.WriteLine($"'{folder}' is not a folder, or the round count is below 1.");
            return 2;
        }

        var sources = Directory.EnumerateFiles(folder, "*.cs", SearchOption.AllDirectories)
            .Where(p => !p.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && !p.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(p => (Path: p, Text: SourceText.From(File.ReadAllText(p), Encoding.UTF8)))
            .ToArray();
        var analyzers = AnalyzersOf(typeof(TenantDbGuard.Analyzers.DiagnosticIds).Assembly);
        var others = compare is null
            ? ImmutableArray<DiagnosticAnalyzer>.Empty
            : AnalyzersOf(new System.Runtime.Loader.AssemblyLoadContext("compared analyzers").LoadFromAssemblyPath(compare));

        var lines = sources.Sum(s => s.Text.Lines.Count);
        Console.WriteLine($"== {sources.Length} files, {lines:N0} lines; analyzers: {string.Join(", ", analyzers.Select(a => a.GetType().Name))}");
        Console.WriteLine($"== {Environment.ProcessorCount} cores, .NET {Environment.Version}, load average {LoadAverage()}");

        var bench = new Bench(sources);
        var baseline = ImmutableArray.Create<DiagnosticAnalyzer>(new OperationBaseline());
        var configurations = new List<(string Name, ImmutableArray<DiagnosticAnalyzer> Analyzers)>
        {
            ("compile", []),
            ("baseline", baseline),
            ("baseline + TenantDbGuard", [.. baseline, .. analyzers]),
        };
        if (compare is not null)
        {
            configurations.Add(("baseline + compared build", [.. baseline, .. others]));
        }


        Console.WriteLine("== Warm-up (not measured)");
        foreach (var configuration in configurations)
        {
            var warm = await bench.CompileAsync(configuration.Analyzers);
            if (configuration.Analyzers.Length > 1)
            {
                Console.Write($"   {configuration.Name}:");
                PrintFindings(warm.Diagnostics);
            }
        }

        var cpu = configurations.ToDictionary(c => c.Name, _ => new List<double>());
        var perAnalyzer = analyzers.ToDictionary(a => a.GetType().Name, _ => new List<double>());
        for (var round = 1; round <= rounds; round++)
        {
            for (var k = 0; k < configurations.Count; k++)
            {
                var (name, set) = configurations[(k + round - 1) % configurations.Count];
                Collect();
                var start = Process.GetCurrentProcess().TotalProcessorTime;
                var result = await bench.CompileAsync(set);
                cpu[name].Add((Process.GetCurrentProcess().TotalProcessorTime - start).TotalSeconds);
                foreach (var (analyzer, time) in name == "baseline + TenantDbGuard" ? result.ExecutionTimes : [])
                {
                    if (perAnalyzer.TryGetValue(analyzer, out var times))
                    {
                        times.Add(time.TotalSeconds);
                    }
                }
            }
        }

        var compile = cpu["compile"];
        var without = cpu["baseline"];
        var with = cpu["baseline + TenantDbGuard"];
        Console.WriteLine();
        Console.WriteLine("CPU seconds (user + system) per configuration:");
        Console.WriteLine();
        Console.WriteLine("| round | compile | baseline | baseline + TenantDbGuard | TenantDbGuard overhead |");
        Console.WriteLine("|------:|--------:|---------:|-------------------------:|-----------------------:|");
        for (var i = 0; i < rounds; i++)
        {
            Console.WriteLine($"| {i + 1} | {compile[i]:F2} | {without[i]:F2} | {with[i]:F2} | {Percent(without[i], with[i])} |");
        }

        var overheads = without.Zip(with, (a, b) => (b - a) / a).ToList();
        Console.WriteLine($"| median | {Median(compile):F2} | {Median(without):F2} | {Median(with):F2} | {Median(overheads) * 100:+0.0;-0.0} % |");
        Console.WriteLine();
        Console.WriteLine("Overhead = (with - without) / without of the same round; the median row is the median of each column.");
        if (compare is not null)
        {
            var compared = cpu["baseline + compared build"];
            Console.WriteLine();
            Console.WriteLine($"Compared build ({compare}): CPU seconds with its analyzers per round: {string.Join(", ", compared.Select(c => c.ToString("F2", CultureInfo.InvariantCulture)))}");
            Console.WriteLine($"   median {Median(compared):F2}; this build / compared build, median of the per-round ratios: {Median(with.Zip(compared, (a, b) => a / b).ToList()):F3}");
        }

        Console.WriteLine("Analyzer execution time as the driver reports it (median of the rounds, summed over threads), against the median baseline:");
        foreach (var (name, times) in perAnalyzer)
        {
            Console.WriteLine($"   {name}: {Median(times):F3} s ({Median(times) / Median(without) * 100:0.0} % of baseline CPU)");
        }

        Console.WriteLine($"Load average at end: {LoadAverage()}");
        return 0;
    }

    private static ImmutableArray<DiagnosticAnalyzer> AnalyzersOf(Assembly assembly) => assembly.GetTypes()
        .Where(t => !t.IsAbstract && typeof(DiagnosticAnalyzer).IsAssignableFrom(t)
            && t.GetCustomAttribute<DiagnosticAnalyzerAttribute>() is { } a && a.Languages.Contains(LanguageNames.CSharp))
        .OrderBy(t => t.Name, StringComparer.Ordinal)
        .Select(t => (DiagnosticAnalyzer)Activator.CreateInstance(t)!)
        .ToImmutableArray();

    private static void PrintFindings(ImmutableArray<Diagnostic> diagnostics)
    {
        var byId = diagnostics.GroupBy(d => d.Id).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key}: {g.Count()}");
        Console.WriteLine($"   findings: {(diagnostics.IsEmpty ? "none" : string.Join(", ", byId))}");
    }

    private static void Collect()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    private static string Percent(double a, double b) => $"{(b - a) / a * 100:+0.0;-0.0} %";

    private static double Median(IReadOnlyCollection<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";

    private sealed record Result(ImmutableArray<Diagnostic> Diagnostics, IReadOnlyList<(string Analyzer, TimeSpan Time)> ExecutionTimes);

    /// <summary>
    /// Stands in for the analyzers every SDK build runs (the SDK's default CA rules inspect operations such as
    /// invocations), so that binding method bodies for analyzers is in the base, as it is in a real build.
    /// </summary>
    [DiagnosticAnalyzer(LanguageNames.CSharp)]
    private sealed class OperationBaseline : DiagnosticAnalyzer
    {
        private static readonly DiagnosticDescriptor Unused = new(
            "BASE001", "Baseline", "Baseline", "Bench", DiagnosticSeverity.Hidden, isEnabledByDefault: true);

        public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics => [Unused];

        public override void Initialize(AnalysisContext context)
        {
            context.EnableConcurrentExecution();
            context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
            context.RegisterOperationAction(static _ => { }, OperationKind.Invocation, OperationKind.ObjectCreation);
        }
    }

    private sealed class Bench((string Path, SourceText Text)[] sources)
    {
        private static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest);

        private static readonly CSharpCompilationOptions CompilationOptions = new(
            OutputKind.DynamicallyLinkedLibrary,
            nullableContextOptions: NullableContextOptions.Enable,
            optimizationLevel: OptimizationLevel.Release,
            concurrentBuild: true);

        private static readonly ImmutableArray<MetadataReference> References =
        [
            .. Basic.Reference.Assemblies.Net100.References.All,
            MetadataReference.CreateFromFile(typeof(MySqlConnector.MySqlConnection).Assembly.Location),
            MetadataReference.CreateFromFile(typeof(Dapper.SqlMapper).Assembly.Location),
        ];

        /// <summary>Parses, compiles and emits the code base, with the analyzers attached when there are any.</summary>
        public async Task<Result> CompileAsync(ImmutableArray<DiagnosticAnalyzer> analyzers)
        {
            var compilation = CSharpCompilation.Create(
                "Generated",
                sources.AsParallel().AsOrdered().Select(s => CSharpSyntaxTree.ParseText(s.Text, ParseOptions, s.Path)),
                References,
                CompilationOptions);
            if (analyzers.IsEmpty)
            {
                Emit(compilation);
                return new Result([], []);
            }

            var options = new CompilationWithAnalyzersOptions(
                new AnalyzerOptions([]), onAnalyzerException: null, concurrentAnalysis: true, logAnalyzerExecutionTime: true);
            var withAnalyzers = compilation.WithAnalyzers(analyzers, options);
            var diagnostics = withAnalyzers.GetAnalyzerDiagnosticsAsync();
            Emit(withAnalyzers.Compilation);
            var found = await diagnostics;
            var times = new List<(string, TimeSpan)>();
            foreach (var analyzer in analyzers)
            {
                var telemetry = await withAnalyzers.GetAnalyzerTelemetryInfoAsync(analyzer, default);
                times.Add((analyzer.GetType().Name, telemetry.ExecutionTime));
            }

            return new Result(found.RemoveAll(d => d.Id == "BASE001"), times);
        }

        private static void Emit(Compilation compilation)
        {
            using var peStream = new MemoryStream();
            var result = compilation.Emit(peStream);
            if (!result.Success)
            {
                var errors = result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Take(5);
                throw new InvalidOperationException("The code base does not compile: " + string.Join("; ", errors));
            }
        }
    }
}
