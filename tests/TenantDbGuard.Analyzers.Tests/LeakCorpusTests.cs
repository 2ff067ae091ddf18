using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;
using TenantDbGuard.Analyzers.Tests.Verifiers;
using Xunit.Abstractions;

namespace TenantDbGuard.Analyzers.Tests;

/// <summary>
/// The labelled corpus in <c>tests/LeakCorpus</c>: leak and non-leak shapes in the styles of real data-access code
/// (job stores, migrators, outboxes, Dapper repositories, units of work, retry loops, readers, iterators, factories),
/// written apart from the rule tests. Each shape starts with <c>// shape leak: ...</c> or <c>// shape clean: ...</c>;
/// each leak is marked on the reported line with <c>// expect TDG00N: message</c> (<c>@+N</c> in the message is the
/// marker's line plus N). A report counts as true only on a marked line with the exact message: the path it names must
/// be the one that leaks. Precision and recall are computed over all files and must meet the goals.
/// </summary>
public sealed class LeakCorpusTests
{
    private const string CorpusFolder = "tests/LeakCorpus";
    private const double PrecisionGoal = 0.98;
    private const double RecallGoal = 0.95;
    private const int MinimumShapes = 60;

    private static readonly Regex ShapeMarker = new(@"//\s*shape\s+(?<label>leak|clean):", RegexOptions.Compiled);
    private static readonly Regex ExpectMarker = new(@"//\s*expect\s+(?<id>TDG00\d):\s*(?<message>.+?)\s*$", RegexOptions.Compiled);
    private static readonly Regex RelativeLine = new(@"@(?<offset>[+-]\d+)?", RegexOptions.Compiled);

    private readonly ITestOutputHelper _output;

    public LeakCorpusTests(ITestOutputHelper output)
    {
        _output = output;
    }

    [Fact]
    public async Task Corpus_meets_the_precision_and_recall_goals()
    {
        var files = Directory.GetFiles(RepositoryRoot.Combine(CorpusFolder), "*.cs").Order(StringComparer.Ordinal).ToArray();
        var report = new StringBuilder();
        int shapes = 0, leakShapes = 0, truePositives = 0, falsePositives = 0, missed = 0;
        foreach (var path in files)
        {
            var text = SourceText.From(File.ReadAllText(path), Encoding.UTF8);
            var (fileShapes, fileLeakShapes, expected) = ReadLabels(path, text);
            shapes += fileShapes;
            leakShapes += fileLeakShapes;

            var reported = await AnalyzeAsync(path, text);
            var name = Path.GetFileName(path);
            foreach (var diagnostic in reported)
            {
                var line = diagnostic.Location.GetLineSpan().StartLinePosition.Line + 1;
                var match = expected.FirstOrDefault(e => e.Line == line && e.Id == diagnostic.Id && e.Message == diagnostic.GetMessage());
                if (match is not null)
                {
                    expected.Remove(match);
                    truePositives++;
                    continue;
                }

                falsePositives++;
                report.AppendLine($"  false   {name}:{line} {diagnostic.Id}: {diagnostic.GetMessage()}");
            }

            foreach (var leak in expected)
            {
                missed++;
                report.AppendLine($"  missed  {name}:{leak.Line} {leak.Id}: {leak.Message}");
            }
        }

        var precision = truePositives + falsePositives == 0 ? 1.0 : (double)truePositives / (truePositives + falsePositives);
        var recall = truePositives + missed == 0 ? 1.0 : (double)truePositives / (truePositives + missed);
        var summary = $"{files.Length} files, {shapes} shapes ({leakShapes} with leaks), {truePositives + missed} leaks marked: "
            + $"{truePositives} found with the right path, {falsePositives} reports wrong or on correct code, {missed} missed; "
            + $"precision {precision:0.000}, recall {recall:0.000}";
        _output.WriteLine(summary);
        _output.WriteLine(report.ToString());

        Assert.True(shapes >= MinimumShapes, $"The corpus has {shapes} shapes; at least {MinimumShapes} are wanted.");
        Assert.True(precision >= PrecisionGoal && recall >= RecallGoal, summary + Environment.NewLine + report);
    }

    /// <summary>The shapes of one file and the leaks it marks; a leak shape must mark one, a clean shape none.</summary>
    private static (int Shapes, int LeakShapes, List<ExpectedReport> Expected) ReadLabels(string path, SourceText text)
    {
        var expected = new List<ExpectedReport>();
        int shapes = 0, leakShapes = 0;
        string? label = null;
        var marksInShape = 0;
        void EndShape(int line)
        {
            if (label is not null)
            {
                Assert.True(label == "leak" ? marksInShape > 0 : marksInShape == 0, $"{Path.GetFileName(path)}: the '{label}' shape ending before line {line} marks {marksInShape} leak(s).");
            }
        }

        foreach (var line in text.Lines)
        {
            var content = line.ToString();
            var number = line.LineNumber + 1;
            if (ShapeMarker.Match(content) is { Success: true } shape)
            {
                EndShape(number);
                label = shape.Groups["label"].Value;
                marksInShape = 0;
                shapes++;
                leakShapes += label == "leak" ? 1 : 0;
                continue;
            }

            if (ExpectMarker.Match(content) is { Success: true } expect)
            {
                var message = RelativeLine.Replace(
                    expect.Groups["message"].Value,
                    m => (number + (m.Groups["offset"].Success ? int.Parse(m.Groups["offset"].Value, System.Globalization.CultureInfo.InvariantCulture) : 0)).ToString(System.Globalization.CultureInfo.InvariantCulture));
                expected.Add(new ExpectedReport(number, expect.Groups["id"].Value, message));
                marksInShape++;
            }
        }

        EndShape(text.Lines.Count);
        return (shapes, leakShapes, expected);
    }

    /// <summary>The TDG diagnostics of one corpus file, compiled on its own against the test references.</summary>
    private static async Task<List<Diagnostic>> AnalyzeAsync(string path, SourceText text)
    {
        var tree = CSharpSyntaxTree.ParseText(text, new CSharpParseOptions(LanguageVersion.Latest), path);
        var compilation = CSharpCompilation.Create(
            Path.GetFileNameWithoutExtension(path),
            new[] { tree },
            TestReferences.All,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
        var errors = compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        Assert.True(errors.Count == 0, $"{Path.GetFileName(path)} does not compile:{Environment.NewLine}{string.Join(Environment.NewLine, errors)}");

        var analyzers = typeof(Descriptors).Assembly.GetTypes()
            .Where(t => t is { IsAbstract: false, IsGenericTypeDefinition: false } && typeof(DiagnosticAnalyzer).IsAssignableFrom(t))
            .Select(t => (DiagnosticAnalyzer)Activator.CreateInstance(t)!)
            .ToImmutableArray();
        var exceptions = new ConcurrentQueue<string>();
        var options = new CompilationWithAnalyzersOptions(
            new AnalyzerOptions(ImmutableArray<AdditionalText>.Empty),
            onAnalyzerException: (exception, analyzer, diagnostic) => exceptions.Enqueue($"{analyzer.GetType().Name}: {exception}"),
            concurrentAnalysis: true,
            logAnalyzerExecutionTime: false);
        var diagnostics = await compilation.WithAnalyzers(analyzers, options).GetAnalyzerDiagnosticsAsync(CancellationToken.None);
        Assert.True(exceptions.IsEmpty, "An analyzer threw: " + string.Join(Environment.NewLine, exceptions));
        return diagnostics
            .Where(d => d.Id.StartsWith("TDG", StringComparison.Ordinal))
            .OrderBy(d => d.Location.SourceSpan.Start)
            .ToList();
    }

    private sealed record ExpectedReport(int Line, string Id, string Message);
}
