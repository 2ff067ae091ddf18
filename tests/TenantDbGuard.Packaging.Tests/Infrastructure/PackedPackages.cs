using System.Xml.Linq;
using TenantDbGuard.Analyzers.Tests;

namespace TenantDbGuard.Packaging.Tests.Infrastructure;

/// <summary>The tests that share one packing of the packages; they run one after another.</summary>
[CollectionDefinition(Name)]
public sealed class PackedPackagesCollection : ICollectionFixture<PackedPackages>
{
    public const string Name = "Packed packages";
}

/// <summary>
/// Packs TenantDbGuard.Analyzers, TenantDbGuard.Runtime and TenantDbGuard.EntityFrameworkCore once per test run, from the working tree, with a unique
/// prerelease version, into a temporary local feed; hands out consumer projects restored against that feed.
/// Afterwards it deletes its temporary folder and that version from the global packages folder.
/// </summary>
public sealed class PackedPackages : IAsyncLifetime
{
    public const string AnalyzersId = "TenantDbGuard.Analyzers";
    public const string RuntimeId = "TenantDbGuard.Runtime";
    public const string EntityFrameworkCoreId = "TenantDbGuard.EntityFrameworkCore";

    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("tdg-packaging-");
    private readonly Dictionary<string, Task<ConsumerProject>> _consumers = new(StringComparer.Ordinal);
    private readonly string _versionSuffix;

    public PackedPackages()
    {
        _versionSuffix = $"e2e.{DateTime.UtcNow.Ticks}";
        Version = $"{ReadVersionPrefix()}-{_versionSuffix}";
        Feed = Path.Combine(_root.FullName, "feed");
    }

    /// <summary>The version the packages were packed with.</summary>
    public string Version { get; }

    /// <summary>The local feed that holds the packages.</summary>
    public string Feed { get; }

    public string AnalyzersPackage => Path.Combine(Feed, $"{AnalyzersId}.{Version}.nupkg");

    public string RuntimePackage => Path.Combine(Feed, $"{RuntimeId}.{Version}.nupkg");

    public string RuntimeSymbolsPackage => Path.Combine(Feed, $"{RuntimeId}.{Version}.snupkg");

    public string EntityFrameworkCorePackage => Path.Combine(Feed, $"{EntityFrameworkCoreId}.{Version}.nupkg");

    public async Task InitializeAsync()
    {
        // The build goes to a private artifacts folder, so it neither reads nor disturbs the repository's bin/obj.
        var artifacts = Path.Combine(_root.FullName, "build");
        foreach (var project in new[] { "src/CodeFixes/TenantDbGuard.CodeFixes.csproj", "src/Runtime/TenantDbGuard.Runtime.csproj", "src/EntityFrameworkCore/TenantDbGuard.EntityFrameworkCore.csproj" })
        {
            var pack = await DotnetCli.RunAsync(
                RepositoryRoot.Path,
                "pack", RepositoryRoot.Combine(project), "-c", "Release",
                "--version-suffix", _versionSuffix,
                "--artifacts-path", artifacts,
                $"-p:PackageOutputPath={Feed}{Path.DirectorySeparatorChar}",
                "-nologo", "-tl:off", "-clp:NoSummary");
            if (pack.ExitCode != 0)
            {
                throw new InvalidOperationException($"Packing {project} failed:\n{pack}");
            }
        }
    }

    public Task DisposeAsync()
    {
        DotnetCli.DeleteWorkFolder(_root.FullName);
        var globalPackages = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        foreach (var id in new[] { AnalyzersId, RuntimeId, EntityFrameworkCoreId })
        {
            var idFolder = Path.Combine(globalPackages, id.ToLowerInvariant());
            DotnetCli.DeleteWorkFolder(Path.Combine(idFolder, Version.ToLowerInvariant()));
            if (Directory.Exists(idFolder) && !Directory.EnumerateFileSystemEntries(idFolder).Any())
            {
                DotnetCli.DeleteWorkFolder(idFolder);
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// A consumer project restored once against the feed; <paramref name="name"/> keys it, so the second caller gets the
    /// same project.
    /// </summary>
    internal Task<ConsumerProject> GetConsumerAsync(string name, string packageReferences, IReadOnlyDictionary<string, string> variants)
    {
        lock (_consumers)
        {
            if (!_consumers.TryGetValue(name, out var consumer))
            {
                consumer = ConsumerProject.CreateAsync(Path.Combine(_root.FullName, name), Feed, packageReferences, variants);
                _consumers.Add(name, consumer);
            }

            return consumer;
        }
    }

    /// <summary>The <c>VersionPrefix</c> of the repository's Directory.Build.props, which the packages are versioned by.</summary>
    private static string ReadVersionPrefix()
    {
        var props = XDocument.Load(RepositoryRoot.Combine("Directory.Build.props"));
        return props.Descendants("VersionPrefix").Single().Value;
    }
}
