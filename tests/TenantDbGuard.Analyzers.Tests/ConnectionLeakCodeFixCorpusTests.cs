using System.Collections.Immutable;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Formatting;
using Microsoft.CodeAnalysis.Text;
using TenantDbGuard.Analyzers.Tests.FixExecution;
using TenantDbGuard.Analyzers.Tests.Verifiers;
using TenantDbGuard.CodeFixes;
using Xunit.Abstractions;

namespace TenantDbGuard.Analyzers.Tests;

/// <summary>
/// The goals of the TDG001 fix, measured on a corpus of leak shapes (<c>FixShapes/</c>, one shape per file, no
/// expected output): the analyzer reports, every fix it offers is applied as <c>dotnet format</c> would, and the
/// execution check runs the original and the result. Zero fixes may change behaviour, zero may leave the leak, and
/// at least 90% of the reported real leaks (the original holds a connection in some run) get a fix. Point
/// <c>TDG_FIX_SHAPES</c> at another folder to measure shapes this repository has not seen, and
/// <c>TDG_FIX_SHAPES_OUT</c> at a folder to get every fixed shape written there for review.
/// </summary>
[Collection(FixExecutionCollection.Name)]
[Trait("Speed", "Slow")]
public sealed class ConnectionLeakCodeFixCorpusTests(ITestOutputHelper output)
{
    private const double FixedShareGoal = 0.9;

    [Fact]
    public async Task Fixes_on_the_shape_corpus_keep_behaviour_leave_no_leak_and_cover_the_reported_leaks()
    {
        var folder = Environment.GetEnvironmentVariable("TDG_FIX_SHAPES") is { Length: > 0 } custom ? custom : RepositoryRoot.Combine("tests/TenantDbGuard.Analyzers.Tests/FixShapes");
        var results = new List<ShapeResult>();
        foreach (var file in Directory.GetFiles(folder, "*.cs").Order(StringComparer.Ordinal))
        {
            try
            {
                results.Add(await RunAsync(file));
            }
            catch (Exception e) when (e is InvalidOperationException or Xunit.Sdk.XunitException)
            {
                // A shape or a fixed shape that does not compile fails the test; the other shapes are still measured.
                results.Add(new ShapeResult(Path.GetFileNameWithoutExtension(file), 0, 0, false, new ExecutionReport([e.Message], false, true)));
            }
        }

        var table = new StringBuilder();
        table.AppendLine("| shape | reported | fixed | original leaks | fix changes behaviour | fix leaves leak |");
        table.AppendLine("|---|---|---|---|---|---|");
        foreach (var r in results)
        {
            table.AppendLine($"| {r.Name} | {r.Reported} | {r.Fixed} | {Yes(r.OriginalLeaks)} | {Yes(r.Report.BehaviourChanged)} | {Yes(r.Report.LeakLeft)} |");
        }

        var leaky = results.Where(r => r.OriginalLeaks).ToList();
        var share = leaky.Sum(r => r.Reported) == 0 ? 1 : (double)leaky.Sum(r => r.Fixed) / leaky.Sum(r => r.Reported);
        table.AppendLine();
        table.AppendLine($"{results.Count} shapes, {results.Sum(r => r.Reported)} TDG001 reported, {results.Sum(r => r.Fixed)} fixed; " +
                         $"real leaks: {leaky.Count} shapes, {leaky.Sum(r => r.Fixed)} of {leaky.Sum(r => r.Reported)} diagnostics fixed ({share:P0}); " +
                         $"fixes that change behaviour: {results.Count(r => r.Report.BehaviourChanged)}; fixes that leave the leak: {results.Count(r => r.Report.LeakLeft)}.");
        output.WriteLine(table.ToString());

        var failures = results.SelectMany(r => r.Report.Failures.Select(f => $"{r.Name}: {f}")).ToList();
        Assert.True(failures.Count == 0, string.Join("\n", failures) + "\n\n" + table);
        Assert.True(share >= FixedShareGoal, $"Only {share:P0} of the reported real leaks get a fix; the goal is {FixedShareGoal:P0}.\n{table}");
    }

    private static string Yes(bool value) => value ? "yes" : "";

    /// <summary>Analyzes one shape, applies every fix offered (the first of each), and runs both versions.</summary>
    private static async Task<ShapeResult> RunAsync(string file)
    {
        var code = await File.ReadAllTextAsync(file);
        var outputKind = code.Contains("static void Main", StringComparison.Ordinal) ? OutputKind.ConsoleApplication : OutputKind.DynamicallyLinkedLibrary;

        // A shape may name the language version it is written for on its first line: '// LangVersion: 7.3'.
        var version = LanguageVersion.Latest;
        if (code.StartsWith("// LangVersion: ", StringComparison.Ordinal) && !LanguageVersionFacts.TryParse(code[16..code.IndexOfAny(['\r', '\n'])], out version))
        {
            throw new InvalidOperationException($"{file} names a language version the compiler does not know.");
        }

        using var workspace = new AdhocWorkspace();
        var document = workspace.AddProject("Shape", LanguageNames.CSharp)
            .WithCompilationOptions(new CSharpCompilationOptions(outputKind, allowUnsafe: true))
            .WithParseOptions(new CSharpParseOptions(version))
            .AddMetadataReferences(TestReferences.All)
            .AddDocument(Path.GetFileName(file), code);
        var compilation = (await document.Project.GetCompilationAsync())!;
        var errors = compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        Assert.True(errors.Count == 0, $"{file} does not compile:\n{string.Join("\n", errors)}");

        var diagnostics = await LeaksAsync(document);
        var fixable = 0;
        foreach (var diagnostic in diagnostics)
        {
            fixable += (await ActionsAsync(document, diagnostic)).Count > 0 ? 1 : 0;
        }

        // Fix as dotnet format does: the first fix of a diagnostic, then analyze again, until nothing is offered.
        var current = document;
        for (var round = 0; round < 10; round++)
        {
            CodeAction? action = null;
            foreach (var diagnostic in await LeaksAsync(current))
            {
                action = (await ActionsAsync(current, diagnostic)).FirstOrDefault();
                if (action is not null)
                {
                    break;
                }
            }

            if (action is null)
            {
                break;
            }

            var operation = (await action.GetOperationsAsync(CancellationToken.None)).OfType<ApplyChangesOperation>().Single();
            current = await Formatter.FormatAsync(operation.ChangedSolution.GetDocument(current.Id)!, Formatter.Annotation);
        }

        // A diagnostic counts as fixed when a fix is offered for it, or when it is gone once the others are fixed.
        fixable = Math.Max(fixable, diagnostics.Length - (await LeaksAsync(current)).Length);
        var fixedCode = (await current.GetTextAsync()).ToString();
        if (Environment.GetEnvironmentVariable("TDG_FIX_SHAPES_OUT") is { Length: > 0 } written)
        {
            Directory.CreateDirectory(written);
            await File.WriteAllTextAsync(Path.Combine(written, Path.GetFileName(file)), fixedCode);
        }

        var fixedErrors = (await current.Project.GetCompilationAsync())!.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        if (fixedErrors.Count > 0)
        {
            throw new InvalidOperationException($"The fixed code does not compile on its language version:\n{string.Join("\n", fixedErrors)}");
        }

        var spans = diagnostics.Select(d => (0, d.Location.SourceSpan)).ToList();
        var original = await FixExecutionCheck.RunAsync([code], [code], spans, outputKind);
        var report = fixedCode == code ? ExecutionReport.NotRun : await FixExecutionCheck.RunAsync([code], [fixedCode], spans, outputKind);
        return new ShapeResult(Path.GetFileNameWithoutExtension(file), diagnostics.Length, fixable, original.LeakLeft, report);
    }

    private static async Task<ImmutableArray<Diagnostic>> LeaksAsync(Document document)
    {
        var compilation = (await document.Project.GetCompilationAsync())!;
        var tree = await document.GetSyntaxTreeAsync();
        var diagnostics = await compilation.WithAnalyzers(ImmutableArray.Create<DiagnosticAnalyzer>(new ConnectionLeakAnalyzer())).GetAnalyzerDiagnosticsAsync();
        return diagnostics.Where(d => d.Id == DiagnosticIds.ConnectionNotReleased && d.Location.SourceTree == tree).OrderBy(d => d.Location.SourceSpan.Start).ToImmutableArray();
    }

    private static async Task<List<CodeAction>> ActionsAsync(Document document, Diagnostic diagnostic)
    {
        var actions = new List<CodeAction>();
        await new ConnectionLeakCodeFixProvider().RegisterCodeFixesAsync(new CodeFixContext(document, diagnostic, (action, _) => actions.Add(action), CancellationToken.None));
        return actions;
    }

    private sealed record ShapeResult(string Name, int Reported, int Fixed, bool OriginalLeaks, ExecutionReport Report);
}
