using System.Text.Json;
using TenantDbGuard.Analyzers.Tests;
using TenantDbGuard.Packaging.Tests.Infrastructure;

namespace TenantDbGuard.Packaging.Tests;

/// <summary>
/// What a fresh consumer of a package sees when it builds with warnings as errors: a leak fails the build with
/// TDG001, correct code builds, an <c>.editorconfig</c> line lowers or raises the severity, and the error log holds the finding. Each derived class is one package.
/// </summary>
public abstract class ConsumerBuildTests
{
    /// <summary>The consumer's code variant that leaks a connection (in <c>Variants/Leaky.cs</c>).</summary>
    private protected const string Leaky = "Leaky";

    /// <summary>The same code releasing the connection on every path.</summary>
    private protected const string Released = "Released";

    /// <summary>The consumer project, restored against the packed package.</summary>
    private protected abstract Task<ConsumerProject> GetConsumerAsync();

    /// <summary>The variable that <see cref="Leaky"/> leaks, as TDG001 names it.</summary>
    private protected abstract string LeakedVariable { get; }

    [Fact]
    public async Task A_leaked_connection_fails_the_build_with_error_TDG001()
    {
        var consumer = await GetConsumerAsync();

        var build = await consumer.BuildAsync(Leaky);

        AssertFailsWithTDG001(build);
    }

    [Fact]
    public async Task Code_that_releases_the_connection_builds_and_ships_no_TenantDbGuard_analyzer_dll()
    {
        var consumer = await GetConsumerAsync();

        var build = await consumer.BuildAsync(Released);

        Assert.True(build.ExitCode == 0, $"The build failed:\n{build}");
        Assert.DoesNotContain("TDG001", build.Output, StringComparison.Ordinal);
        var shipped = Directory.EnumerateFiles(Path.Combine(consumer.Directory, "bin"), "TenantDbGuard.*.dll", SearchOption.AllDirectories)
            .Select(Path.GetFileName)
            .Where(name => name is "TenantDbGuard.Analyzers.dll" or "TenantDbGuard.CodeFixes.dll");
        Assert.Empty(shipped);
    }

    [Fact]
    public async Task ErrorLog_writes_SARIF_with_a_TDG001_result_on_the_leaking_file()
    {
        var consumer = await GetConsumerAsync();
        var sarifPath = consumer.NewOutputPath(".sarif");

        // %2C is MSBuild's escape for the comma that would otherwise end the property value.
        var build = await consumer.BuildAsync(Leaky, null, $"-p:ErrorLog={sarifPath}%2Cversion=2.1");

        AssertFailsWithTDG001(build);
        Assert.True(File.Exists(sarifPath), $"No error log at {sarifPath}:\n{build}");
        using var sarif = JsonDocument.Parse(await File.ReadAllTextAsync(sarifPath));
        Assert.Equal("2.1.0", sarif.RootElement.GetProperty("version").GetString());
        var results = sarif.RootElement.GetProperty("runs").EnumerateArray()
            .SelectMany(run => run.GetProperty("results").EnumerateArray())
            .Where(result => result.GetProperty("ruleId").GetString() == "TDG001")
            .ToList();
        var tdg001 = Assert.Single(results);
        Assert.Equal("error", tdg001.GetProperty("level").GetString());
        Assert.Contains($"'{LeakedVariable}'", tdg001.GetProperty("message").GetProperty("text").GetString(), StringComparison.Ordinal);
        var uri = tdg001.GetProperty("locations")[0].GetProperty("physicalLocation").GetProperty("artifactLocation").GetProperty("uri").GetString();
        Assert.EndsWith($"Variants/{Leaky}.cs", uri, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Editorconfig_severity_none_lets_the_leaky_code_build()
    {
        var consumer = await GetConsumerAsync();

        var build = await consumer.BuildAsync(Leaky, EditorConfig("none"));

        Assert.True(build.ExitCode == 0, $"The build failed although TDG001 is switched off:\n{build}");
        Assert.DoesNotContain("TDG001", build.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Editorconfig_severity_error_fails_the_build_without_warnings_as_errors()
    {
        var consumer = await GetConsumerAsync();

        var build = await consumer.BuildAsync(Leaky, EditorConfig("error"), "-p:TreatWarningsAsErrors=false");

        AssertFailsWithTDG001(build);
    }

    private protected void AssertFailsWithTDG001(CommandResult build)
    {
        Assert.True(build.ExitCode != 0, $"The build succeeded despite the leak:\n{build}");
        Assert.True(
            build.Output.Contains($"{Leaky}.cs", StringComparison.Ordinal)
            && build.Output.Contains($"error TDG001: '{LeakedVariable}' is not released", StringComparison.Ordinal),
            $"The build did not fail with error TDG001 on '{LeakedVariable}' in {Leaky}.cs:\n{build}");
        var otherErrors = build.Output.Split('\n').Where(line => line.Contains(": error ", StringComparison.Ordinal) && !line.Contains("error TDG001", StringComparison.Ordinal));
        Assert.Empty(otherErrors);
    }

    private static string EditorConfig(string severity) => $"""
        root = true

        [*.cs]
        dotnet_diagnostic.TDG001.severity = {severity}
        """;
}
