using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace TenantDbGuard.Analyzers.Tests;

/// <summary>
/// The repair as users run it: <c>dotnet format analyzers</c> over a copy of <c>samples/Leaks</c>, then a build of the
/// result. Slow (two MSBuild runs), so there is one test.
/// </summary>
public sealed class DotnetFormatEndToEndTests
{
    // Loading the workspace alone takes minutes on a busy two-core machine.
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(15);

    private readonly ITestOutputHelper _output;

    public DotnetFormatEndToEndTests(ITestOutputHelper output)
    {
        _output = output;
    }

    [Fact]
    public async Task Dotnet_format_fixes_every_TDG001_in_samples_Leaks_and_the_result_builds_without_one()
    {
        var sample = RepositoryRoot.Combine("samples/Leaks");

        // Under artifacts/ (git-ignored) so that the repository's Directory.Build.props and central package versions apply.
        var work = RepositoryRoot.Combine($"artifacts/e2e/{Guid.NewGuid():N}/Leaks");
        try
        {
            CopySample(sample, work);
            var project = Path.Combine(work, "Leaks.csproj");
            var leakyFile = Path.Combine(work, "LeakyTenantQueries.cs");
            var before = await File.ReadAllTextAsync(leakyFile);

            var format = await RunDotnetAsync(work, "format", "analyzers", project, "--diagnostics", "TDG001", "--severity", "warn", "-v", "diag");
            Assert.True(format.ExitCode == 0, $"dotnet format failed with exit code {format.ExitCode}:\n{format.Output}");

            var after = await File.ReadAllTextAsync(leakyFile);
            Assert.True(before != after, $"dotnet format did not change LeakyTenantQueries.cs:\n{format.Output}");

            var build = await RunDotnetAsync(work, "build", project, "-p:TreatWarningsAsErrors=false", "-nologo", "-tl:off", "-nodeReuse:false");
            var remaining = build.Output
                .Split('\n')
                .Where(line => line.Contains("warning TDG001", StringComparison.Ordinal))
                .Select(line => line.Trim())
                .Distinct()
                .ToList();
            Assert.True(
                build.ExitCode == 0 && remaining.Count == 0,
                $"""
                dotnet build exited with {build.ExitCode} and {remaining.Count} TDG001 warning(s) after dotnet format:
                {string.Join("\n", remaining)}

                LeakyTenantQueries.cs after dotnet format:
                {after}

                Build output:
                {build.Output}
                """);
        }
        finally
        {
            DotnetCli.DeleteWorkFolder(Path.GetDirectoryName(work)!);
        }
    }

    /// <summary>Copies the sample without bin/obj and makes its project references absolute.</summary>
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

        var project = Path.Combine(destination, "Leaks.csproj");
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
        _output.WriteLine(result.Output);
        return result;
    }
}
