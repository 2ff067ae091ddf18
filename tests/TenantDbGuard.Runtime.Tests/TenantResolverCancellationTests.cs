using TenantDbGuard.Runtime.Tests.Infrastructure;

namespace TenantDbGuard.Runtime.Tests;

/// <summary>
/// The caller's token reaches the tenant lookup (a custom resolver, or the read of the tenants table), and a lookup
/// that was cancelled or failed is not remembered: the next caller looks the key up again.
/// </summary>
[Collection(MariaDbCollection.Name)]
public sealed class TenantResolverCancellationTests(MariaDbFixture fixture) : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(5);

    private MariaDbServer Server => fixture.Server;

    public Task InitializeAsync() => fixture.CreateTenantsAsync(2);

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task A_resolver_that_waits_is_cancelled_by_the_helpers_token()
    {
        var resolver = new WaitingResolver(MariaDbFixture.TenantDatabase(1));
        await using var db = Server.CreateTenantDatabase(o => o.TenantResolver = resolver.ResolveAsync);
        using var cancel = new CancellationTokenSource();

        var query = db.QueryTenantAsync<int>("waits", "SELECT 1", cancellationToken: cancel.Token);
        await resolver.Started.WaitAsync(Patience);
        cancel.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => query);
        await resolver.Cancelled.WaitAsync(Patience);
    }

    [Fact]
    public async Task A_resolver_that_waits_is_cancelled_by_the_token_given_to_OpenConnectionAsync()
    {
        var resolver = new WaitingResolver(MariaDbFixture.TenantDatabase(1));
        await using var db = Server.CreateTenantDatabase(o => o.TenantResolver = resolver.ResolveAsync);
        using var cancel = new CancellationTokenSource();

        var open = db.ForTenant("waits").OpenConnectionAsync(cancel.Token).AsTask();
        await resolver.Started.WaitAsync(Patience);
        cancel.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => open);
        await resolver.Cancelled.WaitAsync(Patience);
        Assert.Equal(0, db.GetBudgetSnapshot().InUse);
    }

    [Fact]
    public async Task A_cancelled_lookup_is_not_remembered_and_the_next_caller_looks_the_key_up_again()
    {
        // The first lookup waits until it is cancelled; the second one answers.
        var resolver = new WaitingResolver(MariaDbFixture.TenantDatabase(2)) { AnswerFromCall = 2 };
        await using var db = Server.CreateTenantDatabase(o => o.TenantResolver = resolver.ResolveAsync);
        using var cancel = new CancellationTokenSource();
        var first = db.QueryTenantAsync<string>("waits", "SELECT DATABASE()", cancellationToken: cancel.Token);
        await resolver.Started.WaitAsync(Patience);
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first);

        var rows = await db.QueryTenantAsync<string>("waits", "SELECT DATABASE()").WaitAsync(Patience);

        Assert.Equal([MariaDbFixture.TenantDatabase(2)], rows);
        Assert.Equal(2, resolver.Calls);
    }

    [Fact]
    public async Task One_caller_cancelling_does_not_cancel_the_lookup_another_caller_waits_for()
    {
        var resolver = new WaitingResolver(MariaDbFixture.TenantDatabase(1)) { AnswerFromCall = int.MaxValue };
        await using var db = Server.CreateTenantDatabase(o => o.TenantResolver = resolver.ResolveAsync);
        using var cancel = new CancellationTokenSource();
        var leaving = db.QueryTenantAsync<string>("shared", "SELECT DATABASE()", cancellationToken: cancel.Token);
        await resolver.Started.WaitAsync(Patience);
        var staying = db.QueryTenantAsync<string>("shared", "SELECT DATABASE()");
        await Task.Delay(50);

        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => leaving);
        Assert.False(resolver.Cancelled.IsCompleted);
        resolver.Answer();

        Assert.Equal([MariaDbFixture.TenantDatabase(1)], await staying.WaitAsync(Patience));
        Assert.Equal(1, resolver.Calls);
    }

    [Fact]
    public async Task A_resolver_that_fails_is_not_remembered_as_failing()
    {
        var calls = 0;
        await using var db = Server.CreateTenantDatabase(o => o.TenantResolver = (key, ct) =>
            Interlocked.Increment(ref calls) == 1
                ? throw new TimeoutException("The tenant directory did not answer.")
                : ValueTask.FromResult<TenantInfo?>(new TenantInfo(key, MariaDbFixture.TenantDatabase(1))));

        await Assert.ThrowsAsync<TimeoutException>(() => db.QueryTenantAsync<int>("flaky", "SELECT 1"));

        Assert.Equal([1], await db.QueryTenantAsync<int>("flaky", "SELECT 1"));
        Assert.Equal(2, calls);
    }

    [Fact]
    public async Task A_lookup_in_the_tenants_table_stops_waiting_for_a_master_connection_when_its_caller_cancels()
    {
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.MaxMasterConnections = 1;
            o.AcquireTimeout = TimeSpan.FromSeconds(30);
        });
        var masterHeld = await db.GetMasterConnectionAsync();
        using var cancel = new CancellationTokenSource();
        var query = db.QueryTenantAsync<int>(MariaDbFixture.TenantKey(2), "SELECT 1", cancellationToken: cancel.Token);
        await db.WaitForSnapshotAsync(s => s.Waiting == 1, Patience);

        cancel.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => query);
        await db.WaitForSnapshotAsync(s => s.Waiting == 0, Patience);
        await masterHeld.DisposeAsync();
        Assert.Equal([1], await db.QueryTenantAsync<int>(MariaDbFixture.TenantKey(2), "SELECT 1").WaitAsync(Patience));
    }

    /// <summary>
    /// A resolver whose lookups wait, honouring their token, until <see cref="Answer"/> is called; lookups from
    /// <see cref="AnswerFromCall"/> on answer at once.
    /// </summary>
    private sealed class WaitingResolver(string database)
    {
        private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _cancelled = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _answer = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _calls;

        public int AnswerFromCall { get; init; } = int.MaxValue;

        public Task Started => _started.Task;

        public Task Cancelled => _cancelled.Task;

        public int Calls => Volatile.Read(ref _calls);

        public void Answer() => _answer.TrySetResult();

        public async ValueTask<TenantInfo?> ResolveAsync(string key, CancellationToken cancellationToken)
        {
            if (Interlocked.Increment(ref _calls) < AnswerFromCall)
            {
                _started.TrySetResult();
                try
                {
                    await _answer.Task.WaitAsync(cancellationToken);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    _cancelled.TrySetResult();
                    throw;
                }
            }

            return new TenantInfo(key, database);
        }
    }
}
