using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;
using TenantDbGuard.Analyzers.Tests.Verifiers;

namespace TenantDbGuard.Analyzers.Tests;

/// <summary>
/// Runs every analyzer over <c>tests/ValidCode</c>: realistic, correct data-access code that must raise nothing.
/// The files are compiled together (they share types) and each file is reported by its own test.
/// </summary>
public sealed class ValidCodeTests
{
    private const string ValidCodeFolder = "tests/ValidCode";

    private static readonly Lazy<Task<Analysis>> SharedAnalysis = new(AnalyzeAsync);

    public static TheoryData<string> Files
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (var path in SourcePaths())
            {
                data.Add(Path.GetFileName(path));
            }

            return data;
        }
    }

    [Fact]
    public void Corpus_has_files()
    {
        Assert.True(SourcePaths().Length >= 10, $"Expected at least 10 files in {ValidCodeFolder}, found {SourcePaths().Length}.");
    }

    [Fact]
    public async Task Corpus_compiles_without_errors()
    {
        var analysis = await SharedAnalysis.Value;
        var errors = analysis.CompilerErrors();
        Assert.True(errors.Count == 0, "ValidCode does not compile:" + Environment.NewLine + Format(errors));
    }

    [Theory]
    [MemberData(nameof(Files))]
    public async Task File_raises_no_diagnostic(string fileName)
    {
        var analysis = await SharedAnalysis.Value;

        var errors = analysis.CompilerErrors();
        Assert.True(errors.Count == 0, "ValidCode does not compile, so the analyzers cannot be trusted on it:" + Environment.NewLine + Format(errors));

        Assert.True(
            analysis.Exceptions.IsEmpty,
            "An analyzer threw:" + Environment.NewLine + string.Join(Environment.NewLine, analysis.Exceptions));

        var found = analysis.Diagnostics
            .Where(d => d.Id.StartsWith("TDG", StringComparison.Ordinal) || d.Id == "AD0001")
            .Where(d => d.Id == "AD0001" || string.Equals(Path.GetFileName(d.Location.SourceTree?.FilePath), fileName, StringComparison.Ordinal))
            .ToList();
        Assert.True(found.Count == 0, $"{fileName} is correct code but raised {found.Count} diagnostic(s):" + Environment.NewLine + Format(found));
    }

    private static string[] SourcePaths() =>
        Directory.GetFiles(RepositoryRoot.Combine(ValidCodeFolder), "*.cs", SearchOption.TopDirectoryOnly)
            .Order(StringComparer.Ordinal)
            .ToArray();

    private static async Task<Analysis> AnalyzeAsync()
    {
        var parseOptions = new CSharpParseOptions(LanguageVersion.Latest);
        var trees = SourcePaths()
            .Select(path => CSharpSyntaxTree.ParseText(SourceText.From(File.ReadAllText(path), Encoding.UTF8), parseOptions, path))
            .ToList();
        var compilation = CSharpCompilation.Create(
            "ValidCode",
            trees,
            TestReferences.All,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

        var analyzers = typeof(Descriptors).Assembly.GetTypes()
            .Where(t => t is { IsAbstract: false, IsGenericTypeDefinition: false } && typeof(DiagnosticAnalyzer).IsAssignableFrom(t))
            .Select(t => (DiagnosticAnalyzer)Activator.CreateInstance(t)!)
            .ToImmutableArray();
        if (analyzers.IsEmpty)
        {
            return new Analysis(compilation.GetDiagnostics(), ImmutableArray<string>.Empty);
        }

        var exceptions = new ConcurrentQueue<string>();
        var options = new CompilationWithAnalyzersOptions(
            new AnalyzerOptions(ImmutableArray<AdditionalText>.Empty),
            onAnalyzerException: (exception, analyzer, diagnostic) => exceptions.Enqueue($"{analyzer.GetType().Name}: {diagnostic.GetMessage()}{Environment.NewLine}{exception}"),
            concurrentAnalysis: true,
            logAnalyzerExecutionTime: false);
        var diagnostics = await compilation.WithAnalyzers(analyzers, options).GetAllDiagnosticsAsync(CancellationToken.None);
        return new Analysis(diagnostics, exceptions.ToImmutableArray());
    }

    private static string Format(IEnumerable<Diagnostic> diagnostics)
    {
        var text = new StringBuilder();
        foreach (var diagnostic in diagnostics.OrderBy(d => d.Location.SourceTree?.FilePath, StringComparer.Ordinal).ThenBy(d => d.Location.SourceSpan.Start))
        {
            var span = diagnostic.Location.GetLineSpan();
            var line = span.StartLinePosition.Line;
            var code = diagnostic.Location.SourceTree?.GetText().Lines[line].ToString().Trim() ?? "";
            text.Append("  ")
                .Append(Path.GetFileName(span.Path)).Append('(').Append(line + 1).Append(',').Append(span.StartLinePosition.Character + 1).Append("): ")
                .Append(diagnostic.Id).Append(' ').Append(diagnostic.GetMessage())
                .AppendLine()
                .Append("      ").AppendLine(code);
        }

        return text.ToString();
    }

    /// <summary>Compiler and analyzer diagnostics of the whole corpus, and the exceptions analyzers threw.</summary>
    private sealed record Analysis(ImmutableArray<Diagnostic> Diagnostics, ImmutableArray<string> Exceptions)
    {
        public List<Diagnostic> CompilerErrors() =>
            Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error && !d.Id.StartsWith("TDG", StringComparison.Ordinal) && d.Id != "AD0001").ToList();
    }
}
