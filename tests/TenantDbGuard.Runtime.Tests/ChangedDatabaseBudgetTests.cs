using System.Collections.Concurrent;
using Dapper;
using MySqlConnector;
using TenantDbGuard.Runtime.Tests.Infrastructure;
using Xunit.Abstractions;

namespace TenantDbGuard.Runtime.Tests;

/// <summary>
/// Code may move its lease's session to another database with <c>USE</c> (MySqlConnector then resets that session with
/// <c>COM_CHANGE_USER</c> the next time it leaves its pool, unless the runtime put it back first). The server must never
/// see more of the application's sessions than the budget meanwhile, and the budget must keep serving: after a lease
/// that also left a statement running, MySqlConnector's <c>COM_CHANGE_USER</c> and the abandoned statement read from one
/// socket and the session hung in <c>Change user</c> on the server (the leases that followed waited out their acquire
/// timeout, and the server counted such sessions beyond the budget once the runtime gave up on them). A monitor polls
/// the server's process list every few milliseconds while leases come and go.
/// </summary>
[Collection(MariaDbCollection.Name)]
public sealed class ChangedDatabaseBudgetTests(ITestOutputHelper output)
{
    public enum Shape
    {
        LeaseThenLease,
        HelperThenLease,
        LeaseThenHelper,
        LeaseLeftRunning,
        LeaseThenCancelledLease,
    }

    [Theory]
    [InlineData(Shape.LeaseThenLease, 2)]
    [InlineData(Shape.HelperThenLease, 2)]
    [InlineData(Shape.LeaseThenHelper, 2)]
    [InlineData(Shape.LeaseLeftRunning, 3)]
    [InlineData(Shape.LeaseThenCancelledLease, 3)]
    public async Task A_session_code_moved_to_another_database_never_takes_the_server_beyond_the_budget(Shape shape, int budget)
    {
        await using var server = await MariaDbServer.StartAsync(maxConnections: 20);
        var tenants = await TenantLayout.CreateTenantsAsync(server, 3);
        await server.WaitForAppConnectionsAsync();
        await using var db = server.CreateTenantDatabase(o =>
        {
            o.MaxConnections = budget;
            o.MaxConnectionsPerTenant = budget;
            o.AcquireTimeout = TimeSpan.FromSeconds(5);
        });

        using var stop = new CancellationTokenSource();
        var seen = new ConcurrentBag<string>();
        var maxSeen = 0;
        await using var monitorConnection = await server.OpenConnectionAsync();
        var monitor = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var rows = (await monitorConnection.QueryAsync<(long Id, string Command, long Ms, string State)>(
                    $"SELECT ID, COMMAND, CAST(TIME_MS AS SIGNED), COALESCE(STATE, '') FROM information_schema.PROCESSLIST WHERE USER = '{MariaDbServer.AppUser}'")).AsList();
                maxSeen = Math.Max(maxSeen, rows.Count);
                if (rows.Count > budget)
                {
                    seen.Add(string.Join(" | ", rows));
                }

                await Task.Delay(2);
            }
        });

        try
        {
            await RunRoundsAsync(db, tenants, shape, budget);
            await db.WaitUntilAllReturnedAsync();
            await Task.Delay(300);
        }
        finally
        {
            stop.Cancel();
            await monitor;
            output.WriteLine($"at most {maxSeen} sessions seen by the server, budget {budget}");
            foreach (var row in seen.Take(10))
            {
                output.WriteLine(row);
            }
        }

        Assert.Empty(seen);
    }

    private static async Task RunRoundsAsync(TenantDatabase db, IReadOnlyList<SeededTenant> tenants, Shape shape, int budget)
    {
        var random = new Random(7);
        var rounds = shape == Shape.LeaseLeftRunning ? 10 : 30;
        for (var round = 0; round < rounds; round++)
        {
            var mine = tenants[round % tenants.Count];
            var other = tenants[(round + 1) % tenants.Count];
            switch (shape)
            {
                case Shape.LeaseThenLease:
                case Shape.LeaseThenHelper:
                case Shape.LeaseThenCancelledLease:
                    await using (var lease = await db.GetConnectionAsync(mine.Key))
                    {
                        await lease.Connection.ExecuteAsync($"USE {other.DatabaseName}");
                    }

                    break;
                case Shape.HelperThenLease:
                    await db.ExecuteTenantAsync(mine.Key, $"DO 1; USE {other.DatabaseName}");
                    break;
                case Shape.LeaseLeftRunning:
                    await using (var lease = await db.GetConnectionAsync(mine.Key))
                    {
                        await lease.Connection.ExecuteAsync($"USE {other.DatabaseName}");
                        _ = lease.Connection.ExecuteAsync("DO SLEEP(0.05)").ContinueWith(t => t.Exception, TaskScheduler.Default);
                    }

                    break;
            }

            // Every tenant's next leases, some at once, while the session above is being taken back.
            var next = Enumerable.Range(0, budget).Select(async i =>
            {
                var tenant = tenants[(round + i) % tenants.Count];
                if (shape == Shape.LeaseThenHelper)
                {
                    Assert.Equal(tenant.DatabaseName, await db.ExecuteScalarTenantAsync<string>(tenant.Key, "SELECT DATABASE()"));
                    return;
                }

                using var cancel = new CancellationTokenSource();
                if (shape == Shape.LeaseThenCancelledLease)
                {
                    cancel.CancelAfter(random.Next(1, 6));
                }

                try
                {
                    await using var lease = await db.GetConnectionAsync(tenant.Key, cancel.Token);
                    Assert.Equal(tenant.DatabaseName, await lease.Connection.ExecuteScalarAsync<string>("SELECT DATABASE()"));
                }
                catch (OperationCanceledException) when (cancel.IsCancellationRequested)
                {
                }
            });
            await Task.WhenAll(next);
        }

    }
}
