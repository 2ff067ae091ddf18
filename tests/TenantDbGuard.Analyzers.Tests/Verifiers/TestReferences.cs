using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Testing;

namespace TenantDbGuard.Analyzers.Tests.Verifiers;

/// <summary>
/// Offline references: .NET 10 reference assemblies from a restored package, plus MySqlConnector, Dapper and the
/// dependency-injection and hosting abstractions (service registrations, hosted services, application lifetime).
/// </summary>
internal static class TestReferences
{
    /// <summary>An empty reference set: nothing is downloaded while a test runs.</summary>
    public static readonly ReferenceAssemblies None = new("net10.0");

    /// <summary>The libraries every test compiles against, without the prelude.</summary>
    public static readonly ImmutableArray<MetadataReference> Libraries = FrameworkReferences()
        .Append(MetadataReference.CreateFromFile(typeof(MySqlConnector.MySqlConnection).Assembly.Location))
        .Append(MetadataReference.CreateFromFile(typeof(Dapper.SqlMapper).Assembly.Location))
        .Append(MetadataReference.CreateFromFile(typeof(Microsoft.Extensions.DependencyInjection.IServiceCollection).Assembly.Location))
        .Append(MetadataReference.CreateFromFile(typeof(Microsoft.Extensions.Hosting.IHostedService).Assembly.Location))
        .ToImmutableArray();

    /// <summary>The libraries plus the compiled <see cref="TestPrelude"/>.</summary>
    public static readonly ImmutableArray<MetadataReference> All = Libraries.Add(TestPrelude.Compile(Libraries));

    /// <summary>
    /// The .NET 10 reference assemblies, read from the images the package embeds rather than through its
    /// <c>References</c> class, which is built against Roslyn 4.11 and would not load on the Roslyn 4.8 test leg.
    /// </summary>
    private static IEnumerable<MetadataReference> FrameworkReferences()
    {
        var package = typeof(Basic.Reference.Assemblies.Net100).Assembly;
        foreach (var name in package.GetManifestResourceNames().Order(StringComparer.Ordinal))
        {
            using var stream = package.GetManifestResourceStream(name)!;
            using var image = new MemoryStream();
            stream.CopyTo(image);
            yield return MetadataReference.CreateFromImage(image.ToArray(), filePath: name + ".dll");
        }
    }
}
