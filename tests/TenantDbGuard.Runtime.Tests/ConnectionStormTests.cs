using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Dapper;
using TenantDbGuard.Runtime.Tests.Infrastructure;
using Xunit.Abstractions;

namespace TenantDbGuard.Runtime.Tests;

/// <summary>
/// THE STORM: the scenario that kills a multi-tenant service with one MySqlConnector pool per tenant (issue 4 measured
/// 57% of queries failing with "Too many connections" within 8 s), run through <see cref="TenantDatabase"/> instead.
/// </summary>
/// <remarks>
/// A server of its own with MariaDB's default <c>max_connections</c> of 151, 300 tenant databases, default options
/// (the budget is derived from the server), 64 workers for 30 s doing mixed work on random tenants. The test keeps one
/// root connection of its own to sample the server; that connection is the only one beside the runtime's.
/// </remarks>
[Collection(MariaDbCollection.Name)]
public sealed class ConnectionStormTests(ITestOutputHelper output)
{
    private const int Tenants = 300;
    private const int Workers = 64;
    private static readonly TimeSpan Duration = TimeSpan.FromSeconds(30);

    [Fact]
    [Trait("Category", "Storm")]
    public async Task Storm_300_tenants_64_workers_30_seconds_on_max_connections_151_fails_no_query_and_stays_within_the_budget()
    {
        await using var server = await MariaDbServer.StartAsync(maxConnections: 151);
        await MariaDbFixture.CreateTenantsAsync(server, Tenants);
        await using var db = server.CreateTenantDatabase();
        await using var admin = await server.OpenConnectionAsync();
        await admin.ExecuteAsync("FLUSH STATUS");

        var queries = 0L;
        var failures = new ConcurrentQueue<Exception>();
        var peakThreads = 0L;
        var peakMaxUsed = 0L;
        var peakOpen = 0;
        var samples = 0;
        var clock = Stopwatch.StartNew();
        using var stop = new CancellationTokenSource(Duration);

        var sampler = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var status = (await admin.QueryAsync<(string Name, string Value)>(
                    "SHOW GLOBAL STATUS WHERE Variable_name IN ('Threads_connected', 'Max_used_connections')")).ToDictionary(s => s.Name, s => long.Parse(s.Value, CultureInfo.InvariantCulture));
                peakThreads = Math.Max(peakThreads, status["Threads_connected"]);
                peakMaxUsed = Math.Max(peakMaxUsed, status["Max_used_connections"]);
                peakOpen = Math.Max(peakOpen, db.GetBudgetSnapshot().Open);
                samples++;
                await Task.Delay(100);
            }
        });

        var workers = Enumerable.Range(0, Workers).Select(worker => Task.Run(async () =>
        {
            var random = new Random(worker);
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await RunOneAsync(db, random);
                    Interlocked.Increment(ref queries);
                }
                catch (Exception exception)
                {
                    failures.Enqueue(exception);
                }
            }
        })).ToArray();

        await Task.WhenAll(workers);
        await sampler;
        var elapsed = clock.Elapsed;
        var maxUsed = await admin.ExecuteScalarAsync<string>("SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'MAX_USED_CONNECTIONS'");
        peakMaxUsed = Math.Max(peakMaxUsed, long.Parse(maxUsed!, CultureInfo.InvariantCulture));
        var snapshot = await db.WaitUntilAllReturnedAsync();

        output.WriteLine($"THE STORM: {Tenants} tenants, {Workers} workers, {elapsed.TotalSeconds:0.0} s, server max_connections {server.MaxConnections}");
        output.WriteLine($"  queries:                {queries} ({queries / elapsed.TotalSeconds:0} per second)");
        output.WriteLine($"  failed:                 {failures.Count}");
        output.WriteLine($"  budget (derived):       {snapshot.Limit}");
        output.WriteLine($"  Max_used_connections:   {peakMaxUsed} (budget + 1 admin connection = {snapshot.Limit + 1})");
        output.WriteLine($"  peak Threads_connected: {peakThreads} ({samples} samples, every 100 ms)");
        output.WriteLine($"  peak open in budget:    {peakOpen}; open at the end: {snapshot.Open}");
        foreach (var kind in failures.GroupBy(f => f.GetType().Name + ": " + f.Message).Take(5))
        {
            output.WriteLine($"  {kind.Count()} x {kind.Key}");
        }

        Assert.Empty(failures);
        Assert.Equal(server.MaxConnections - 10, snapshot.Limit);
        Assert.True(queries > 1000, $"Only {queries} queries ran.");
        Assert.InRange(peakMaxUsed, 1, snapshot.Limit + 1);
        Assert.InRange(peakThreads, 1, snapshot.Limit + 1);
        Assert.InRange(peakOpen, 1, snapshot.Limit);
    }

    /// <summary>One unit of mixed work on a random tenant, now and then on the master database.</summary>
    private static async Task RunOneAsync(TenantDatabase db, Random random)
    {
        var tenant = MariaDbFixture.TenantKey(random.Next(1, Tenants + 1));
        switch (random.Next(10))
        {
            case 0 or 1 or 2:
                var customer = Assert.Single(await db.QueryTenantAsync<(int Id, string Name)>(tenant, "SELECT id, name FROM customers WHERE id = @id", new { id = random.Next(1, 4) }));
                Assert.NotEmpty(customer.Name);
                break;
            case 3 or 4:
                Assert.True(await db.ExecuteScalarTenantAsync<long>(tenant, "SELECT COUNT(*) FROM customers") >= 3);
                break;
            case 5:
                await db.WithTenantTransactionAsync(tenant, async (connection, transaction, token) =>
                {
                    // By primary key: a DELETE by name would scan and lock the whole table, and deadlock with the other workers.
                    var id = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
                        "INSERT INTO customers (name) VALUES (@name); SELECT LAST_INSERT_ID();", new { name = "storm" }, transaction, cancellationToken: token));
                    await connection.ExecuteAsync(new CommandDefinition("DELETE FROM customers WHERE id = @id", new { id }, transaction, cancellationToken: token));
                });
                break;
            case 6 or 7:
                await using (var lease = await db.GetConnectionAsync(tenant))
                {
                    await lease.Connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM customers WHERE id <= 3");
                    await lease.Connection.ExecuteScalarAsync<string>("SELECT name FROM customers WHERE id = 1");
                }

                break;
            case 8:
                await db.ExecuteScalarTenantAsync<long>(tenant, "SELECT SLEEP(0.005)");
                break;
            default:
                Assert.Single(await db.QueryMasterAsync<string>("SELECT database_name FROM tenants WHERE tenant_key = @tenant", new { tenant }));
                break;
        }
    }
}
