using TenantDbGuard.Packaging.Tests.Infrastructure;

namespace TenantDbGuard.Packaging.Tests;

/// <summary>A project that references only TenantDbGuard.Runtime gets the analyzers with it.</summary>
[Collection(PackedPackagesCollection.Name)]
[Trait("Speed", "Slow")]
public sealed class RuntimePackageConsumerTests(PackedPackages packages) : ConsumerBuildTests
{
    private const string LeakyCode = """
        using Dapper;
        using TenantDbGuard;

        namespace Consumer;

        public sealed class CustomerCounter(TenantDatabase db)
        {
            public async Task<long> CountAsync(string tenantKey, CancellationToken cancellationToken)
            {
                var lease = await db.GetConnectionAsync(tenantKey, cancellationToken);
                return await lease.Connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM customers");
            }
        }
        """;

    // The same code with the one change that releases the connection on every path.
    private static readonly string ReleasedCode = LeakyCode.Replace("var lease = await", "await using var lease = await", StringComparison.Ordinal);

    private protected override string LeakedVariable => "lease";

    private protected override Task<ConsumerProject> GetConsumerAsync() =>
        packages.GetConsumerAsync(
            "runtime-consumer",
            $"""    <PackageReference Include="{PackedPackages.RuntimeId}" Version="{packages.Version}" />""",
            new Dictionary<string, string> { [Leaky] = LeakyCode, [Released] = ReleasedCode });
}
