using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Testing;

namespace TenantDbGuard.Analyzers.Tests.Verifiers;

/// <summary>Offline references: .NET 10 reference assemblies from a restored package, plus MySqlConnector and Dapper.</summary>
internal static class TestReferences
{
    /// <summary>An empty reference set: nothing is downloaded while a test runs.</summary>
    public static readonly ReferenceAssemblies None = new("net10.0");

    public static readonly ImmutableArray<MetadataReference> All = Basic.Reference.Assemblies.Net100.References.All
        .Cast<MetadataReference>()
        .Append(MetadataReference.CreateFromFile(typeof(MySqlConnector.MySqlConnection).Assembly.Location))
        .Append(MetadataReference.CreateFromFile(typeof(Dapper.SqlMapper).Assembly.Location))
        .ToImmutableArray();
}
