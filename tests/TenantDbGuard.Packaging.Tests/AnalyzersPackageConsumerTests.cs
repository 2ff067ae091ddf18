using TenantDbGuard.Packaging.Tests.Infrastructure;

namespace TenantDbGuard.Packaging.Tests;

/// <summary>A project on plain MySqlConnector that references only TenantDbGuard.Analyzers.</summary>
[Collection(PackedPackagesCollection.Name)]
[Trait("Speed", "Slow")]
public sealed class AnalyzersPackageConsumerTests(PackedPackages packages) : ConsumerBuildTests
{
    private const string LeakyCode = """
        using MySqlConnector;

        namespace Consumer;

        public static class CustomerCounter
        {
            public static async Task<long> CountAsync(string connectionString)
            {
                var connection = new MySqlConnection(connectionString);
                await connection.OpenAsync();
                using var command = new MySqlCommand("SELECT COUNT(*) FROM customers", connection);
                return Convert.ToInt64(await command.ExecuteScalarAsync());
            }
        }
        """;

    // The same code with the one change that releases the connection on every path.
    private static readonly string ReleasedCode = LeakyCode.Replace("var connection = new", "await using var connection = new", StringComparison.Ordinal);

    private protected override string LeakedVariable => "connection";

    private protected override Task<ConsumerProject> GetConsumerAsync() =>
        packages.GetConsumerAsync(
            "analyzers-consumer",
            $"""
                <PackageReference Include="{PackedPackages.AnalyzersId}" Version="{packages.Version}" PrivateAssets="all" />
                <PackageReference Include="MySqlConnector" Version="{ConsumerProject.CentralPackageVersion("MySqlConnector")}" />
            """,
            new Dictionary<string, string> { [Leaky] = LeakyCode, [Released] = ReleasedCode });
}
