using System;
using System.Collections.Generic;
using System.Threading.Tasks;

namespace TenantDbGuard.Runtime.Tests.Infrastructure;

/// <summary>Test classes marked <c>[Collection(MariaDbCollection.Name)]</c> share one server and run one at a time.</summary>
[CollectionDefinition(Name)]
public sealed class MariaDbCollection : ICollectionFixture<MariaDbFixture>
{
    public const string Name = "MariaDb";
}

/// <summary>
/// One MariaDB server for the test run, and the multi-tenant layout the runtime expects: a master
/// database <see cref="MasterDatabase"/> with a <c>tenants</c> table, and one database per tenant.
/// </summary>
public sealed class MariaDbFixture : IAsyncLifetime
{
    public const string MasterDatabase = TenantLayout.MasterDatabase;

    private MariaDbServer? _server;

    public MariaDbServer Server => _server ?? throw new InvalidOperationException("The MariaDB fixture has not started.");

    /// <summary>The key of tenant <paramref name="number"/> (1-based) in the <c>tenants</c> table: <c>tenant-0001</c>.</summary>
    public static string TenantKey(int number) => TenantLayout.TenantKey(number);

    /// <summary>The database of tenant <paramref name="number"/> (1-based): <c>tdg_t_0001</c>.</summary>
    public static string TenantDatabase(int number) => TenantLayout.TenantDatabase(number);

    public async Task InitializeAsync() => _server = await MariaDbServer.StartAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    /// <summary>
    /// Creates the master database and tenants 1 to <paramref name="count"/>, each with a
    /// <c>customers</c> table of three rows, and registers them in <c>tenants</c>. Tenants that
    /// exist already are left as they are, so tests may ask for the same tenants again.
    /// </summary>
    public Task<IReadOnlyList<SeededTenant>> CreateTenantsAsync(int count) => CreateTenantsAsync(Server, count);

    /// <summary>As <see cref="CreateTenantsAsync(int)"/>, on another server (one a test started for itself).</summary>
    public static Task<IReadOnlyList<SeededTenant>> CreateTenantsAsync(MariaDbServer server, int count) =>
        TenantLayout.CreateTenantsAsync(server, count);
}
