using System.Diagnostics;
using TenantDbGuard.Runtime.Tests.Infrastructure;

namespace TenantDbGuard.Runtime.Tests;

/// <summary>
/// Callers that wait are served first come, first served: a connection that comes back goes to the longest waiter,
/// not to whoever asks at that moment, both within a tenant's cap and across the process budget.
/// </summary>
/// <remarks>
/// The order is made by the test, not by timing: each waiter is seen waiting (<see cref="ConnectionBudgetSnapshot.Waiting"/>)
/// before the next one asks, and a newcomer asks right after every release, on the releasing thread, before the
/// waiters could run: a runtime that let waiters race (or newcomers pass them) fails.
/// </remarks>
[Collection(MariaDbCollection.Name)]
public sealed class FairWaitingTests(MariaDbFixture fixture) : IAsyncLifetime
{
    private const int Waiters = 6;

    private MariaDbServer Server => fixture.Server;

    public Task InitializeAsync() => fixture.CreateTenantsAsync(Waiters + 2);

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Waiters_for_a_tenants_cap_are_served_in_the_order_they_came_and_newcomers_queue_behind_them()
    {
        await using var db = Server.CreateTenantDatabase(o => o.MaxConnectionsPerTenant = 1);
        var holder = await db.GetConnectionAsync(Key(1));
        await AssertServedInOrderAsync(db, holder, _ => Key(1));
    }

    [Fact]
    public async Task Waiters_for_the_process_budget_are_served_in_the_order_they_came_whatever_their_tenant()
    {
        await using var db = Server.CreateTenantDatabase(o => o.MaxConnections = 1);

        // Known tenants: looking one up would take the master's connection in the same queue.
        for (var n = 1; n <= Waiters + 1; n++)
        {
            await db.QueryTenantAsync<int>(Key(n), "SELECT 1");
        }

        var holder = await db.GetConnectionAsync(Key(1));
        await AssertServedInOrderAsync(db, holder, n => Key(2 + (n % Waiters)));
    }

    [Fact]
    public async Task A_caller_the_budget_could_serve_at_once_still_queues_behind_one_that_waits()
    {
        // Budget 2, one lease held: the one connection left could serve a caller that cannot be cancelled, but not one
        // that can (the budget keeps room for the KILL that cancelling it sends). The first waits; the second, which
        // the budget alone would let through, must queue behind it rather than take the connection it waits for.
        await using var db = Server.CreateTenantDatabase(o => o.MaxConnections = 2);
        for (var n = 1; n <= 3; n++)
        {
            await db.QueryTenantAsync<int>(Key(n), "SELECT 1");
        }

        var holder = await db.GetConnectionAsync(Key(1));
        using var cancellation = new CancellationTokenSource();
        var first = db.GetConnectionAsync(Key(2), cancellation.Token).AsTask();
        TenantConnectionLease? served = null;
        try
        {
            await db.WaitForSnapshotAsync(s => s.Waiting == 1, TimeSpan.FromSeconds(5));
            var second = db.GetConnectionAsync(Key(3)).AsTask();
            await db.WaitForSnapshotAsync(s => s.Waiting == 2, TimeSpan.FromSeconds(5));
            Assert.False(second.IsCompleted, "The second caller passed the first.");

            await holder.DisposeAsync();
            served = await first.WaitAsync(TimeSpan.FromSeconds(5));
            Assert.False(second.IsCompleted, "The second caller took the room the first one's cancellation needs.");

            await served.DisposeAsync();
            served = await second.WaitAsync(TimeSpan.FromSeconds(5));
        }
        finally
        {
            await holder.DisposeAsync();
            cancellation.Cancel();
            if (served is not null)
            {
                await served.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Once_the_leases_that_can_be_cancelled_are_back_the_whole_budget_serves_the_others()
    {
        // The room kept for a KILL is kept only while a lease that may need one is out.
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.MaxConnections = 2;
            o.AcquireTimeout = TimeSpan.FromSeconds(2);
        });
        for (var n = 1; n <= 2; n++)
        {
            await db.QueryTenantAsync<int>(Key(n), "SELECT 1");
        }

        using (var cancellation = new CancellationTokenSource())
        {
            var cancellable = await db.GetConnectionAsync(Key(1), cancellation.Token);
            await cancellable.DisposeAsync();
        }

        await using var first = await db.GetConnectionAsync(Key(1));
        await using var second = await db.GetConnectionAsync(Key(2));
        Assert.Equal(2, db.GetBudgetSnapshot().InUse);
    }

    /// <summary>
    /// Queues <see cref="Waiters"/> callers behind <paramref name="holder"/> (caller n asks for <paramref name="keyOf"/>(n)),
    /// then releases one lease at a time, a newcomer asking right after each release: the leases must go to the callers
    /// in the order they asked.
    /// </summary>
    private static async Task AssertServedInOrderAsync(TenantDatabase db, TenantConnectionLease holder, Func<int, string> keyOf)
    {
        var callers = new List<Task<TenantConnectionLease>>();
        for (var n = 0; n < Waiters; n++)
        {
            callers.Add(db.GetConnectionAsync(keyOf(n)).AsTask());
            var expected = n + 1;
            await db.WaitForSnapshotAsync(s => s.Waiting == expected, TimeSpan.FromSeconds(5));
        }

        var served = new List<int>();
        try
        {
            for (var turn = 0; turn < Waiters; turn++)
            {
                await holder.DisposeAsync();
                callers.Add(db.GetConnectionAsync(keyOf(callers.Count)).AsTask());

                var stopwatch = Stopwatch.StartNew();
                int next;
                while ((next = NextServed(callers, served)) < 0)
                {
                    Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5), $"Nobody was served after release {turn + 1}.");
                    await Task.Delay(5);
                }

                served.Add(next);
                holder = await callers[next];
                Assert.Equal(Enumerable.Range(0, served.Count), served);
            }
        }
        finally
        {
            await holder.DisposeAsync();
            for (var n = 0; n < callers.Count; n++)
            {
                if (!served.Contains(n))
                {
                    // After a failure some may time out; that must not hide the failure.
                    await (await callers[n].ContinueWith(t => t.IsCompletedSuccessfully ? t.Result : null, TaskScheduler.Default) is { } lease ? lease.DisposeAsync() : default);
                }
            }
        }
    }

    private static int NextServed(List<Task<TenantConnectionLease>> callers, List<int> served)
    {
        for (var n = 0; n < callers.Count; n++)
        {
            if (callers[n].IsCompleted && !served.Contains(n))
            {
                return n;
            }
        }

        return -1;
    }

    private static string Key(int number) => MariaDbFixture.TenantKey(number);
}
