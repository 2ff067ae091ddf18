using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;
using TenantDbGuard.Analyzers.Tests.FixExecution;
using Xunit.Abstractions;

namespace TenantDbGuard.Analyzers.Tests;

/// <summary>
/// The repair as users run it, in bulk: <c>dotnet format analyzers --diagnostics TDG001 TDG003 TDG004 TDG005</c> over copies
/// of <c>samples/Leaks</c>, <c>samples/TenantCrm.Leaky</c> and <c>samples/LegacyBilling</c> (one solution), twice. The
/// second run must change nothing, the result must build, and the execution check runs every member the repair
/// changed, and every type TDG005 reports (from its constructors to its release), before and after, against MariaDB. Slow (three MSBuild runs), so there is one test. Set
/// <c>TDG_FIX_SAMPLES_OUT</c> to a folder to keep the repaired samples for review.
/// </summary>
[Collection(FixExecutionCollection.Name)]
[Trait("Speed", "Slow")]
public sealed class DotnetFormatEndToEndTests
{
    // Loading the workspace alone takes minutes on a busy two-core machine.
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(15);

    private static readonly Sample[] Samples =
    [
        // LeakyTenantQueries takes a pool per tenant database, made here from the run's connection string.
        new("samples/Leaks", AllFixed: true, Setup: """
            static class ExecutionSetup
            {
                public static Leaks.TenantConnectionPool Pool(string connectionString) =>
                    new(tenant => new MySqlConnector.MySqlConnectionStringBuilder(connectionString) { Database = tenant }.ConnectionString);
            }
            """),

        // PipelineReports and TenantMaintenance run on TenantDatabase, over the check's master database; its budget
        // says how many leases are still out.
        new("samples/TenantCrm.Leaky", AllFixed: true, Setup: $$"""
            static class ExecutionSetup
            {
                private static TenantDbGuard.TenantDatabase s_database;

                public static TenantDbGuard.TenantDatabase Database(string connectionString) => s_database = new(new TenantDbGuard.TenantDbGuardOptions
                {
                    MasterConnectionString = new MySqlConnector.MySqlConnectionStringBuilder(connectionString) { Database = "{{SharedMariaDb.MasterDatabase}}" }.ConnectionString,
                    AcquireTimeout = System.TimeSpan.FromSeconds(5),
                    ResetSessionOnRelease = false,
                });

                public static int Held() => s_database?.GetBudgetSnapshot().InUse ?? 0;
            }
            """),

        // After the repair the analyzer still reports the array of Task.WhenAll acquisitions (were the second call to
        // throw before it returns its task, the first connection would be lost; an async method cannot).
        new("samples/LegacyBilling", AllFixed: false, Setup: string.Empty),
    ];

    private readonly ITestOutputHelper _output;

    public DotnetFormatEndToEndTests(ITestOutputHelper output)
    {
        _output = output;
    }

    [Fact]
    public async Task Dotnet_format_repairs_the_samples_in_one_pass_and_the_result_builds_and_runs_as_before_without_the_leaks()
    {
        // Under artifacts/ (git-ignored) so that the repository's Directory.Build.props and central package versions apply.
        var work = RepositoryRoot.Combine($"artifacts/e2e/{Guid.NewGuid():N}");
        try
        {
            foreach (var sample in Samples)
            {
                CopySample(RepositoryRoot.Combine(sample.Path), Path.Combine(work, sample.Name));
            }

            var solution = Path.Combine(work, "Samples.sln");
            foreach (var command in new[] { ["new", "sln", "-n", "Samples", "--format", "sln"], (string[])["sln", solution, "add", .. Samples.Select(s => Path.Combine(work, s.Name, s.Name + ".csproj"))] })
            {
                var result = await RunDotnetAsync(work, command);
                Assert.True(result.ExitCode == 0, result.ToString());
            }

            var before = Samples.ToDictionary(s => s, s => Read(Path.Combine(work, s.Name)));
            await FormatAsync(work, solution);
            var after = Samples.ToDictionary(s => s, s => Read(Path.Combine(work, s.Name)));
            foreach (var sample in Samples)
            {
                Assert.True(!before[sample].SequenceEqual(after[sample]), $"dotnet format changed nothing in {sample.Path}.");
            }

            // Bulk runs are repeated (CI, a second developer): the second finds nothing left to change.
            await FormatAsync(work, solution);
            foreach (var sample in Samples)
            {
                var again = Read(Path.Combine(work, sample.Name));
                var changed = again.Where(file => after[sample][file.Key] != file.Value).Select(file => $"{file.Key}:\n{file.Value}").ToList();
                Assert.True(changed.Count == 0, $"A second dotnet format changed {sample.Path} again:\n{string.Join("\n", changed)}");
            }

            var build = await RunDotnetAsync(work, "build", solution, "-p:TreatWarningsAsErrors=false", "-nologo", "-tl:off", "-nodeReuse:false");
            Assert.True(build.ExitCode == 0, $"The repaired samples do not build:\n{build.Output}");
            foreach (var sample in Samples)
            {
                var remaining = build.Output.Split('\n')
                    .Where(line => (line.Contains("warning TDG005", StringComparison.Ordinal) || (sample.AllFixed && line.Contains("warning TDG001", StringComparison.Ordinal)))
                                   && line.Contains($"/{sample.Name}/", StringComparison.Ordinal))
                    .Distinct()
                    .ToList();
                Assert.True(remaining.Count == 0, $"Still reported in {sample.Path} after the repair:\n{string.Join("\n", remaining)}");
            }

            var owners = 0;

            foreach (var sample in Samples)
            {
                _output.WriteLine($"{sample.Path}: the repair changed {string.Join(", ", before[sample].Keys.Where(f => before[sample][f] != after[sample][f]).Order(StringComparer.Ordinal))}");
                if (Environment.GetEnvironmentVariable("TDG_FIX_SAMPLES_OUT") is { Length: > 0 } review)
                {
                    // For the review of every edit: diff -ru samples <this folder>.
                    CopySample(Path.Combine(work, sample.Name), Path.Combine(review, sample.Name));
                }

                var (report, reportedOwners) = await CheckAsync(sample, before[sample], after[sample]);
                Assert.True(report.Failures.Count == 0, $"The execution check of the repaired {sample.Path} found:\n{string.Join("\n", report.Failures)}");
                owners += reportedOwners;
            }

            Assert.True(owners > 0, "No sample has a type TDG005 reports: the repair of owners is not covered.");
        }
        finally
        {
            DotnetCli.DeleteWorkFolder(work);
        }
    }

    /// <summary>
    /// Runs every member the repair changed, and every owner of a connection TDG005 reports, before and after (with the
    /// sample's setup), under the execution check.
    /// </summary>
    private static async Task<(ExecutionReport Report, int Owners)> CheckAsync(Sample sample, IReadOnlyDictionary<string, string> before, IReadOnlyDictionary<string, string> after)
    {
        var files = before.Keys.Where(f => !f.EndsWith("Program.cs", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
        var original = files.Select(f => before[f]).Append(sample.Setup).ToList();
        var repaired = files.Select(f => after[f]).Append(sample.Setup).ToList();
        var spans = new List<(int Source, TextSpan Span)>();
        for (var i = 0; i < files.Count; i++)
        {
            var changed = Members(after[files[i]]);
            spans.AddRange(Members(before[files[i]]).Where(m => changed.TryGetValue(m.Key, out var text) && text.Text != m.Value.Text).Select(m => (i, m.Value.Span)));
        }

        var compilation = CaseAssembly.Compile("owners", original, OutputKind.DynamicallyLinkedLibrary).Compilation;
        var owners = await compilation.WithAnalyzers([new ConnectionOwnerAnalyzer()]).GetAnalyzerDiagnosticsAsync();
        spans.AddRange(owners.Select(d => (compilation.SyntaxTrees.IndexOf(d.Location.SourceTree!), d.Location.SourceSpan)));
        return (await FixExecutionCheck.RunAsync(original, repaired, spans, OutputKind.DynamicallyLinkedLibrary), owners.Length);
    }

    /// <summary>The methods, constructors and properties of a file, by type and name, with their text and span.</summary>
    private static Dictionary<string, (string Text, TextSpan Span)> Members(string code) =>
        CSharpSyntaxTree.ParseText(code).GetRoot().DescendantNodes()
            .Where(n => n is BaseMethodDeclarationSyntax or PropertyDeclarationSyntax)
            .GroupBy(n => $"{n.FirstAncestorOrSelf<TypeDeclarationSyntax>(t => t != n)?.Identifier.ValueText}.{Name(n)}")
            .ToDictionary(g => g.Key, g => (g.First().ToString(), g.First().Span));

    private static string Name(SyntaxNode member) => member switch
    {
        MethodDeclarationSyntax method => method.Identifier.ValueText + method.ParameterList,
        ConstructorDeclarationSyntax constructor => ".ctor" + constructor.ParameterList,
        PropertyDeclarationSyntax property => property.Identifier.ValueText,
        _ => member.Kind().ToString(),
    };

    private async Task FormatAsync(string work, string solution)
    {
        var format = await RunDotnetAsync(work, "format", "analyzers", solution, "--diagnostics", "TDG001", "TDG003", "TDG004", "TDG005", "--severity", "warn", "-v", "diag");
        Assert.True(format.ExitCode == 0, $"dotnet format failed with exit code {format.ExitCode}:\n{format.Output}");
    }

    private static Dictionary<string, string> Read(string folder) =>
        Directory.EnumerateFiles(folder, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                        && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .ToDictionary(f => Path.GetRelativePath(folder, f), File.ReadAllText);

    /// <summary>Copies a sample without bin/obj and makes its project references absolute.</summary>
    private static void CopySample(string source, string destination)
    {
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(source, file);
            var top = relative.Split(Path.DirectorySeparatorChar)[0];
            if (top is "bin" or "obj")
            {
                continue;
            }

            var target = Path.Combine(destination, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }

        var project = Directory.GetFiles(destination, "*.csproj").Single();
        var text = File.ReadAllText(project);
        var rewritten = Regex.Replace(
            text,
            "(<ProjectReference Include=\")([^\"]+)(\")",
            match => match.Groups[1].Value
                     + Path.GetFullPath(Path.Combine(source, match.Groups[2].Value.Replace('\\', Path.DirectorySeparatorChar)))
                     + match.Groups[3].Value);
        Assert.Contains("TenantDbGuard.CodeFixes.csproj", rewritten, StringComparison.Ordinal);
        File.WriteAllText(project, rewritten);
    }

    private async Task<CommandResult> RunDotnetAsync(string workingDirectory, params string[] arguments)
    {
        _output.WriteLine("> dotnet " + string.Join(" ", arguments));
        var result = await DotnetCli.RunAsync(workingDirectory, CommandTimeout, arguments);
        _output.WriteLine($"exit code {result.ExitCode} after {result.Elapsed.TotalSeconds:F0} s");
        return result;
    }

    private sealed record Sample(string Path, bool AllFixed, string Setup)
    {
        public string Name => System.IO.Path.GetFileName(Path);
    }
}
