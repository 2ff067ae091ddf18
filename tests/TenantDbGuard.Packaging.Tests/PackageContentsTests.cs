using System.Collections.Immutable;
using System.IO.Compression;
using System.Reflection;
using System.Runtime.Loader;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.Diagnostics;
using TenantDbGuard.Packaging.Tests.Infrastructure;

namespace TenantDbGuard.Packaging.Tests;

/// <summary>What the packages hold: files, nuspec metadata, symbols, and analyzer dlls that really load.</summary>
[Collection(PackedPackagesCollection.Name)]
[Trait("Speed", "Slow")]
public sealed class PackageContentsTests(PackedPackages packages)
{
    private const string AnalyzerFolder = "analyzers/dotnet/cs/";
    private const string RepositoryUrl = "https://github.com/tenantdbguard/TenantDbGuard";

    private static readonly string[] AnalyzerDlls =
    [
        AnalyzerFolder + "TenantDbGuard.Analyzers.dll",
        AnalyzerFolder + "TenantDbGuard.CodeFixes.dll",
    ];

    private static readonly string[] RuntimeDependencies =
    [
        "Dapper",
        "Microsoft.Extensions.DependencyInjection.Abstractions",
        "Microsoft.Extensions.Diagnostics.Abstractions",
        "Microsoft.Extensions.Logging.Abstractions",
        "Microsoft.Extensions.Options",
        "Microsoft.Extensions.Options.ConfigurationExtensions",
        "MySqlConnector",
    ];

    private static readonly string[] EntityFrameworkCoreDependencies =
    [
        "Microsoft.EntityFrameworkCore.Relational",
        "Microsoft.Extensions.Hosting.Abstractions",
        "Pomelo.EntityFrameworkCore.MySql",
        PackedPackages.RuntimeId,
    ];

    public static TheoryData<string> PackageIds => new() { PackedPackages.AnalyzersId, PackedPackages.RuntimeId, PackedPackages.EntityFrameworkCoreId };

    [Fact]
    public void Analyzers_package_holds_exactly_the_analyzer_and_code_fix_dlls_readme_and_license()
    {
        AssertPayload(packages.AnalyzersPackage, [.. AnalyzerDlls, "LICENSE", "PACKAGE.md"]);
    }

    [Fact]
    public void Analyzers_package_is_a_development_dependency_without_dependencies()
    {
        var metadata = Metadata(packages.AnalyzersPackage);

        Assert.Equal("true", Element(metadata, "developmentDependency")?.Value);
        Assert.Null(Element(metadata, "dependencies"));
    }

    [Fact]
    public void Runtime_package_holds_the_library_with_xml_docs_for_net8_and_net10_and_the_analyzers()
    {
        AssertPayload(
            packages.RuntimePackage,
            [
                .. AnalyzerDlls,
                "LICENSE",
                "PACKAGE.md",
                "lib/net8.0/TenantDbGuard.Runtime.dll",
                "lib/net8.0/TenantDbGuard.Runtime.xml",
                "lib/net10.0/TenantDbGuard.Runtime.dll",
                "lib/net10.0/TenantDbGuard.Runtime.xml",
            ]);
    }

    [Fact]
    public void Runtime_package_carries_the_same_analyzer_dlls_as_the_analyzers_package()
    {
        foreach (var dll in AnalyzerDlls)
        {
            Assert.True(
                ReadEntry(packages.AnalyzersPackage, dll).SequenceEqual(ReadEntry(packages.RuntimePackage, dll)),
                $"{dll} differs between the two packages.");
        }
    }

    [Fact]
    public void Runtime_package_depends_on_MySqlConnector_Dapper_the_extensions_abstractions_and_options_for_each_framework()
    {
        var groups = Element(Metadata(packages.RuntimePackage), "dependencies")!
            .Elements()
            .ToDictionary(g => (string)g.Attribute("targetFramework")!, g => g.Elements().Select(d => (string)d.Attribute("id")!).Order(StringComparer.Ordinal).ToArray());

        Assert.Equal(["net10.0", "net8.0"], groups.Keys.Order(StringComparer.Ordinal));
        Assert.All(groups.Values, ids => Assert.Equal(RuntimeDependencies, ids));
    }

    [Fact]
    public void EntityFrameworkCore_package_holds_the_library_with_xml_docs_for_net8_and_net10()
    {
        AssertPayload(
            packages.EntityFrameworkCorePackage,
            [
                "LICENSE",
                "PACKAGE.md",
                "lib/net8.0/TenantDbGuard.EntityFrameworkCore.dll",
                "lib/net8.0/TenantDbGuard.EntityFrameworkCore.xml",
                "lib/net10.0/TenantDbGuard.EntityFrameworkCore.dll",
                "lib/net10.0/TenantDbGuard.EntityFrameworkCore.xml",
            ]);
    }

    [Fact]
    public void EntityFrameworkCore_package_depends_on_the_runtime_of_its_version_and_Pomelo_so_the_runtime_does_not()
    {
        var groups = Element(Metadata(packages.EntityFrameworkCorePackage), "dependencies")!.Elements().ToList();

        Assert.Equal(["net10.0", "net8.0"], groups.Select(g => (string)g.Attribute("targetFramework")!).Order(StringComparer.Ordinal));
        foreach (var group in groups)
        {
            var dependencies = group.Elements().ToDictionary(d => (string)d.Attribute("id")!, d => (string)d.Attribute("version")!);
            Assert.Equal(EntityFrameworkCoreDependencies, dependencies.Keys.Order(StringComparer.Ordinal));
            Assert.Equal(packages.Version, dependencies[PackedPackages.RuntimeId]);
            Assert.Equal("9.0.0", dependencies["Pomelo.EntityFrameworkCore.MySql"]);
        }
    }

    [Fact]
    public void Runtime_symbols_package_holds_a_pdb_for_each_framework()
    {
        Assert.True(File.Exists(packages.RuntimeSymbolsPackage), $"{packages.RuntimeSymbolsPackage} was not created.");
        AssertPayload(packages.RuntimeSymbolsPackage, ["lib/net8.0/TenantDbGuard.Runtime.pdb", "lib/net10.0/TenantDbGuard.Runtime.pdb"]);
    }

    [Theory]
    [MemberData(nameof(PackageIds))]
    public void Package_has_its_id_version_description_tags_mit_license_and_repository(string id)
    {
        var metadata = Metadata(PackagePath(id));

        Assert.Equal(id, Element(metadata, "id")?.Value);
        Assert.Equal(packages.Version, Element(metadata, "version")?.Value);
        Assert.False(string.IsNullOrWhiteSpace(Element(metadata, "description")?.Value), "description is empty");
        Assert.Contains("mysql", Element(metadata, "tags")?.Value.Split(' ') ?? []);

        var license = Element(metadata, "license");
        Assert.Equal(("expression", "MIT"), ((string?)license?.Attribute("type"), license?.Value));

        var repository = Element(metadata, "repository");
        Assert.Equal(("git", RepositoryUrl), ((string?)repository?.Attribute("type"), (string?)repository?.Attribute("url")));
        Assert.Equal(RepositoryUrl, Element(metadata, "projectUrl")?.Value);
    }

    [Theory]
    [MemberData(nameof(PackageIds))]
    public void Package_readme_is_packed_names_the_package_and_links_only_absolute_urls(string id)
    {
        var package = PackagePath(id);
        Assert.Equal("PACKAGE.md", Element(Metadata(package), "readme")?.Value);

        var readme = System.Text.Encoding.UTF8.GetString(ReadEntry(package, "PACKAGE.md"));
        Assert.StartsWith($"# {id}\n", readme, StringComparison.Ordinal);

        // nuget.org renders the readme away from the repository, where relative links lead nowhere.
        var relative = Regex.Matches(readme, @"\]\((?!https://)[^)]*\)").Select(m => m.Value).ToList();
        Assert.True(relative.Count == 0, "Links that are not absolute https URLs: " + string.Join(", ", relative));
    }

    [Fact]
    public void Packed_analyzer_and_code_fix_dlls_load_and_serve_TDG001()
    {
        var folder = Directory.CreateTempSubdirectory("tdg-packed-analyzers-");
        var context = new PackedAnalyzersLoadContext(folder.FullName);
        try
        {
            using (var zip = ZipFile.OpenRead(packages.AnalyzersPackage))
            {
                foreach (var dll in AnalyzerDlls)
                {
                    zip.GetEntry(dll)!.ExtractToFile(Path.Combine(folder.FullName, Path.GetFileName(dll)));
                }
            }

            var analyzers = CreateExported<DiagnosticAnalyzer, DiagnosticAnalyzerAttribute>(context, "TenantDbGuard.Analyzers");
            var fixes = CreateExported<CodeFixProvider, ExportCodeFixProviderAttribute>(context, "TenantDbGuard.CodeFixes");

            Assert.Contains("TDG001", analyzers.SelectMany(a => a.SupportedDiagnostics).Select(d => d.Id));
            Assert.Contains("TDG001", fixes.SelectMany(f => f.FixableDiagnosticIds));
        }
        finally
        {
            context.Unload();
            folder.Delete(recursive: true);
        }
    }

    private string PackagePath(string id) => id switch
    {
        PackedPackages.AnalyzersId => packages.AnalyzersPackage,
        PackedPackages.EntityFrameworkCoreId => packages.EntityFrameworkCorePackage,
        _ => packages.RuntimePackage,
    };

    /// <summary>
    /// Asserts the files a package delivers, in any order, leaving out the entries every package has (the nuspec and the
    /// OPC parts).
    /// </summary>
    private static void AssertPayload(string package, string[] expected)
    {
        using var zip = ZipFile.OpenRead(package);
        var actual = zip.Entries
            .Select(e => e.FullName)
            .Where(name => !name.StartsWith("_rels/", StringComparison.Ordinal)
                           && !name.StartsWith("package/", StringComparison.Ordinal)
                           && name != "[Content_Types].xml"
                           && !(name.EndsWith(".nuspec", StringComparison.Ordinal) && !name.Contains('/')));
        Assert.Equal(expected.Order(StringComparer.Ordinal), actual.Order(StringComparer.Ordinal));
    }

    private static byte[] ReadEntry(string package, string entryName)
    {
        using var zip = ZipFile.OpenRead(package);
        var entry = zip.GetEntry(entryName) ?? throw new InvalidOperationException($"{Path.GetFileName(package)} has no {entryName}.");
        using var stream = entry.Open();
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>The <c>metadata</c> element of a package's <c>.nuspec</c>.</summary>
    private static XElement Metadata(string package)
    {
        using var zip = ZipFile.OpenRead(package);
        var entry = zip.Entries.Single(e => !e.FullName.Contains('/') && e.FullName.EndsWith(".nuspec", StringComparison.Ordinal));
        using var stream = entry.Open();
        return Element(XDocument.Load(stream).Root!, "metadata")
            ?? throw new InvalidOperationException($"{Path.GetFileName(package)} has no nuspec metadata.");
    }

    /// <summary>A child element by local name: nuspec namespaces differ between schema versions.</summary>
    private static XElement? Element(XElement parent, string name) =>
        parent.Elements().SingleOrDefault(e => e.Name.LocalName == name);

    /// <summary>Creates every type of the assembly that derives from <typeparamref name="T"/> and carries the export attribute.</summary>
    private static ImmutableArray<T> CreateExported<T, TAttribute>(AssemblyLoadContext context, string assemblyName)
        where TAttribute : Attribute
    {
        var assembly = context.LoadFromAssemblyName(new AssemblyName(assemblyName));
        Assert.Equal(context, AssemblyLoadContext.GetLoadContext(assembly));
        var created = assembly.GetTypes()
            .Where(t => !t.IsAbstract && typeof(T).IsAssignableFrom(t) && t.GetCustomAttribute<TAttribute>() is not null)
            .Select(t => (T)Activator.CreateInstance(t)!)
            .ToImmutableArray();
        Assert.NotEmpty(created);
        return created;
    }

    /// <summary>Loads the packed dlls from their folder and everything else (Roslyn) from the test's own context.</summary>
    private sealed class PackedAnalyzersLoadContext(string folder) : AssemblyLoadContext("packed analyzers", isCollectible: true)
    {
        protected override Assembly? Load(AssemblyName assemblyName)
        {
            var path = Path.Combine(folder, assemblyName.Name + ".dll");
            return File.Exists(path) ? LoadFromAssemblyPath(path) : null;
        }
    }
}
