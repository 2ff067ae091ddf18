using System.Xml.Linq;
using TenantDbGuard.Analyzers.Tests;

namespace TenantDbGuard.Packaging.Tests.Infrastructure;

/// <summary>
/// A fresh net10.0 class library outside the repository that references the packed packages, restored once. It holds
/// several variants of its code in <c>Variants/</c> and compiles one per build (<c>-p:Variant=Name</c>), so variants
/// need no second restore. Builds run one at a time because they share the project's folders.
/// </summary>
internal sealed class ConsumerProject
{
    private readonly SemaphoreSlim _buildLock = new(1, 1);
    private int _builds;

    private ConsumerProject(string directory)
    {
        Directory = directory;
        ProjectPath = Path.Combine(directory, "Consumer.csproj");
    }

    public string Directory { get; }

    public string ProjectPath { get; }

    public static async Task<ConsumerProject> CreateAsync(
        string directory,
        string feed,
        string packageReferences,
        IReadOnlyDictionary<string, string> variants)
    {
        var consumer = new ConsumerProject(directory);
        System.IO.Directory.CreateDirectory(Path.Combine(directory, "Variants"));
        foreach (var (name, code) in variants)
        {
            await File.WriteAllTextAsync(Path.Combine(directory, "Variants", name + ".cs"), code);
        }

        await File.WriteAllTextAsync(consumer.ProjectPath, $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
                <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
                <Variant Condition="'$(Variant)' == ''">Released</Variant>
              </PropertyGroup>
              <ItemGroup>
            {packageReferences}
              </ItemGroup>
              <ItemGroup>
                <Compile Remove="Variants/**" />
                <Compile Include="Variants/$(Variant).cs" />
              </ItemGroup>
            </Project>
            """);

        // The feed for the packages under test; nuget.org (this machine's user configuration has it too) for the rest.
        await File.WriteAllTextAsync(Path.Combine(directory, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="tenantdbguard-under-test" value="{feed}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" protocolVersion="3" />
              </packageSources>
              <packageSourceMapping>
                <packageSource key="tenantdbguard-under-test">
                  <package pattern="TenantDbGuard.*" />
                </packageSource>
                <packageSource key="nuget.org">
                  <package pattern="*" />
                </packageSource>
              </packageSourceMapping>
            </configuration>
            """);

        // Stop MSBuild from looking for these files in the folders above, wherever the temporary folder is.
        foreach (var file in new[] { "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props" })
        {
            await File.WriteAllTextAsync(Path.Combine(directory, file), "<Project />\n");
        }

        var restore = await DotnetCli.RunAsync(directory, "restore", consumer.ProjectPath, "-nologo", "-tl:off");
        if (restore.ExitCode != 0)
        {
            throw new InvalidOperationException($"Restoring the consumer in {directory} failed:\n{restore}");
        }

        return consumer;
    }

    /// <summary>
    /// Rebuilds the project with the code of <paramref name="variant"/>, with <paramref name="editorConfig"/> as its
    /// <c>.editorconfig</c> when given (none otherwise) and the extra <paramref name="arguments"/>.
    /// </summary>
    public async Task<CommandResult> BuildAsync(string variant, string? editorConfig = null, params string[] arguments)
    {
        await _buildLock.WaitAsync();
        try
        {
            var editorConfigPath = Path.Combine(Directory, ".editorconfig");
            if (editorConfig is null)
            {
                File.Delete(editorConfigPath);
            }
            else
            {
                await File.WriteAllTextAsync(editorConfigPath, editorConfig);
            }

            // Rebuild every time: an up-to-date compile would skip the analyzers and report nothing.
            string[] build =
            [
                "build", ProjectPath, "--no-restore", "--no-incremental", $"-p:Variant={variant}",
                "-nologo", "-tl:off", "-clp:NoSummary", .. arguments,
            ];
            return await DotnetCli.RunAsync(Directory, build);
        }
        finally
        {
            _buildLock.Release();
        }
    }

    /// <summary>A path for a file that one build writes, such as an error log.</summary>
    public string NewOutputPath(string extension) =>
        Path.Combine(Directory, $"build-{Interlocked.Increment(ref _builds)}{extension}");

    /// <summary>The package versions the repository builds with, so that the consumer restores from the local cache.</summary>
    public static string CentralPackageVersion(string id)
    {
        var props = XDocument.Load(RepositoryRoot.Combine("Directory.Packages.props"));
        return props.Descendants("PackageVersion").Single(e => (string?)e.Attribute("Include") == id).Attribute("Version")!.Value;
    }
}
