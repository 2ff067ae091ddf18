using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Formatting;
using Microsoft.CodeAnalysis.Text;

namespace RealCode;

/// <summary>
/// <c>--fix</c>: applies the first fix offered for a TDG001, TDG003, TDG004 or TDG005 report, analyzes again, and so
/// on until no report gets a fix (as <c>dotnet format analyzers</c> does, one fix at a time so that each edit can be
/// read on its own), and prints every edit as a unified diff, with the reports no fix was offered for. The folder
/// is written only with <c>--write</c>.
/// </summary>
internal static class FixMode
{
    private static readonly string[] FixedIds = ["TDG001", "TDG003", "TDG004", "TDG005"];
    private const int MaxEdits = 200;

    public static async Task<int> RunAsync(string folder, CSharpCompilation compilation, ImmutableArray<DiagnosticAnalyzer> analyzers, bool write)
    {
        using var workspace = new AdhocWorkspace();
        var project = workspace.AddProject(ProjectInfo.Create(
            ProjectId.CreateNewId(), VersionStamp.Default, compilation.AssemblyName!, compilation.AssemblyName!, LanguageNames.CSharp,
            compilationOptions: compilation.Options,
            parseOptions: compilation.SyntaxTrees.FirstOrDefault()?.Options,
            metadataReferences: compilation.References));
        foreach (var tree in compilation.SyntaxTrees)
        {
            project = project.AddDocument(Path.GetFileName(tree.FilePath), tree.GetText(), filePath: tree.FilePath).Project;
        }

        // The code base's own style (tabs, say), as dotnet format reads it.
        foreach (var config in Directory.EnumerateFiles(folder, ".editorconfig", SearchOption.AllDirectories))
        {
            project = project.AddAnalyzerConfigDocument(".editorconfig", SourceText.From(File.ReadAllText(config)), filePath: config).Project;
        }

        Console.WriteLine($"== {Path.GetFileName(folder)}: fixes");
        var providers = typeof(TenantDbGuard.CodeFixes.ConnectionLeakCodeFixProvider).Assembly.GetTypes()
            .Where(t => !t.IsAbstract && typeof(CodeFixProvider).IsAssignableFrom(t) && t.GetCustomAttribute<ExportCodeFixProviderAttribute>() is not null)
            .Select(t => (CodeFixProvider)Activator.CreateInstance(t)!)
            .ToList();
        var solution = project.Solution;
        var original = solution;
        var edits = 0;
        ImmutableArray<Diagnostic> reports;
        while (true)
        {
            reports = await ReportsAsync(solution.GetProject(project.Id)!, analyzers);
            var next = await FirstFixAsync(solution, reports, providers);
            if (next is null || edits == MaxEdits)
            {
                break;
            }

            var (report, action) = next.Value;
            var before = solution.GetDocument(report.Location.SourceTree!)!;
            var changed = (await action.GetOperationsAsync(CancellationToken.None)).OfType<ApplyChangesOperation>().Single().ChangedSolution;
            foreach (var id in changed.GetChanges(solution).GetProjectChanges().SelectMany(p => p.GetChangedDocuments()))
            {
                changed = (await Formatter.FormatAsync(changed.GetDocument(id)!, Formatter.Annotation)).Project.Solution;
            }

            edits++;
            Console.WriteLine($"-- edit {edits}: {Where(folder, report)}: {report.Id}: {report.GetMessage()}");
            Console.WriteLine($"   fix: {action.Title}");
            foreach (var id in changed.GetChanges(solution).GetProjectChanges().SelectMany(p => p.GetChangedDocuments()))
            {
                Console.Write(await UnifiedDiffAsync(folder, solution.GetDocument(id)!, changed.GetDocument(id)!));
            }

            var left = (await ReportsAsync(changed.GetProject(project.Id)!, analyzers)).Length;
            solution = changed;
            if (left >= reports.Length)
            {
                Console.WriteLine($"   (the edit did not remove its report; stopping)");
                reports = await ReportsAsync(solution.GetProject(project.Id)!, analyzers);
                break;
            }
        }

        foreach (var report in reports)
        {
            Console.WriteLine($"-- no fix: {Where(folder, report)}: {report.Id}: {report.GetMessage()}");
        }

        var errorsBefore = Errors(await original.GetProject(project.Id)!.GetCompilationAsync());
        var errorsAfter = Errors(await solution.GetProject(project.Id)!.GetCompilationAsync());
        Console.WriteLine($"edits: {edits}; reports left without a fix: {reports.Length}; compiler errors {errorsBefore.Count} before, {errorsAfter.Count} after"
            + (errorsAfter.Count > errorsBefore.Count ? $" (new: {string.Join("; ", errorsAfter.Except(errorsBefore).Take(5))})" : string.Empty));
        if (write)
        {
            foreach (var id in solution.GetChanges(original).GetProjectChanges().SelectMany(p => p.GetChangedDocuments()))
            {
                var document = solution.GetDocument(id)!;
                await File.WriteAllTextAsync(document.FilePath!, (await document.GetTextAsync()).ToString());
            }
        }

        return errorsAfter.Count > errorsBefore.Count ? 1 : 0;
    }

    private static async Task<ImmutableArray<Diagnostic>> ReportsAsync(Project project, ImmutableArray<DiagnosticAnalyzer> analyzers)
    {
        var compilation = (await project.GetCompilationAsync())!;
        return (await compilation.WithAnalyzers(analyzers).GetAnalyzerDiagnosticsAsync())
            .Where(d => FixedIds.Contains(d.Id))
            .OrderBy(d => d.Location.SourceTree?.FilePath, StringComparer.Ordinal)
            .ThenBy(d => d.Location.SourceSpan.Start)
            .ToImmutableArray();
    }

    private static async Task<(Diagnostic Report, CodeAction Action)?> FirstFixAsync(Solution solution, ImmutableArray<Diagnostic> reports, List<CodeFixProvider> providers)
    {
        foreach (var report in reports)
        {
            var document = solution.GetDocument(report.Location.SourceTree);
            foreach (var provider in providers.Where(p => document is not null && p.FixableDiagnosticIds.Contains(report.Id)))
            {
                var actions = new List<CodeAction>();
                await provider.RegisterCodeFixesAsync(new CodeFixContext(document!, report, (action, _) => actions.Add(action), CancellationToken.None));
                if (actions.Count > 0)
                {
                    return (report, actions[0]);
                }
            }
        }

        return null;
    }

    private static List<string> Errors(Compilation? compilation) =>
        compilation!.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => $"{d.Id} {d.GetMessage()}").ToList();

    private static string Where(string folder, Diagnostic report)
    {
        var span = report.Location.GetLineSpan();
        return $"{Path.GetRelativePath(folder, span.Path)}:{span.StartLinePosition.Line + 1}";
    }

    /// <summary>The change as <c>diff -u</c> prints it: three lines of context, nearby changes in one hunk.</summary>
    private static async Task<string> UnifiedDiffAsync(string folder, Document before, Document after)
    {
        const int Context = 3;
        var a = (await before.GetTextAsync()).Lines.Select(l => l.ToString()).ToArray();
        var b = (await after.GetTextAsync()).Lines.Select(l => l.ToString()).ToArray();
        var ops = EditScript(a, b);
        var path = Path.GetRelativePath(folder, before.FilePath!);
        var output = new StringBuilder($"--- a/{path}\n+++ b/{path}\n");
        var changed = Enumerable.Range(0, ops.Count).Where(i => ops[i].Kind != ' ').ToList();
        var next = 0;
        while (next < changed.Count)
        {
            var first = changed[next];
            var last = first;
            while (next < changed.Count && changed[next] <= last + 2 * Context + 1)
            {
                last = changed[next++];
            }

            var (start, end) = (Math.Max(0, first - Context), Math.Min(ops.Count - 1, last + Context));
            var hunk = ops.GetRange(start, end - start + 1);
            var oldStart = ops.Take(start).Count(o => o.Kind != '+') + 1;
            var newStart = ops.Take(start).Count(o => o.Kind != '-') + 1;
            output.Append($"@@ -{oldStart},{hunk.Count(o => o.Kind != '+')} +{newStart},{hunk.Count(o => o.Kind != '-')} @@\n");
            foreach (var (kind, line) in hunk)
            {
                output.Append(kind).Append(line).Append('\n');
            }
        }

        return output.ToString();
    }

    /// <summary>A shortest edit script by longest common subsequence, after the common head and tail are set aside.</summary>
    private static List<(char Kind, string Line)> EditScript(string[] a, string[] b)
    {
        var head = 0;
        while (head < a.Length && head < b.Length && a[head] == b[head])
        {
            head++;
        }

        var tail = 0;
        while (tail < a.Length - head && tail < b.Length - head && a[^(tail + 1)] == b[^(tail + 1)])
        {
            tail++;
        }

        var (n, m) = (a.Length - head - tail, b.Length - head - tail);
        var common = new int[n + 1, m + 1];
        for (var i = n - 1; i >= 0; i--)
        {
            for (var j = m - 1; j >= 0; j--)
            {
                common[i, j] = a[head + i] == b[head + j] ? common[i + 1, j + 1] + 1 : Math.Max(common[i + 1, j], common[i, j + 1]);
            }
        }

        var ops = a.Take(head).Select(line => (' ', line)).ToList();
        var (x, y) = (0, 0);
        while (x < n || y < m)
        {
            if (x < n && y < m && a[head + x] == b[head + y])
            {
                ops.Add((' ', a[head + x++]));
                y++;
            }
            else if (x < n && (y == m || common[x + 1, y] >= common[x, y + 1]))
            {
                ops.Add(('-', a[head + x++]));
            }
            else
            {
                ops.Add(('+', b[head + y++]));
            }
        }

        ops.AddRange(a.Skip(a.Length - tail).Select(line => (' ', line)));
        return ops;
    }
}
