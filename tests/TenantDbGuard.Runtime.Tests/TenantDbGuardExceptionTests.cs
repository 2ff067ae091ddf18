using System.Data.Common;
using Polly;
using Polly.Retry;
using TenantDbGuard.Runtime.Tests.Infrastructure;

namespace TenantDbGuard.Runtime.Tests;

/// <summary>
/// The runtime's errors as retry policies see them: every one is a <see cref="DbException"/>, and
/// <see cref="DbException.IsTransient"/> tells a retry that may succeed from one that cannot.
/// </summary>
[Collection(MariaDbCollection.Name)]
public sealed class TenantDbGuardExceptionTests(MariaDbFixture fixture) : IAsyncLifetime
{
    private MariaDbServer Server => fixture.Server;

    public Task InitializeAsync() => fixture.CreateTenantsAsync(2);

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task A_retry_policy_for_transient_DbExceptions_retries_a_full_budget_until_the_connection_comes_back()
    {
        await using var db = Server.CreateTenantDatabase(o =>
        {
            o.MaxConnections = 1;
            o.AcquireTimeout = TimeSpan.FromMilliseconds(200);
        });
        var held = await db.GetConnectionAsync(Key(1));
        var failures = new List<Exception>();
        var pipeline = TransientRetry(async failure =>
        {
            failures.Add(failure);
            if (failures.Count == 2)
            {
                // The caller keeps failing while the budget is held; it succeeds once the holder gives the connection back.
                await held.DisposeAsync();
            }
        });

        var rows = await pipeline.ExecuteAsync(async token => await db.QueryTenantAsync<string>(Key(2), "SELECT DATABASE()", cancellationToken: token));

        Assert.Equal([MariaDbFixture.TenantDatabase(2)], rows);
        Assert.InRange(failures.Count, 2, 10);
        Assert.All(failures, failure =>
        {
            var exhausted = Assert.IsType<ConnectionBudgetExhaustedException>(failure);
            Assert.Equal(ConnectionBudgetKind.Process, exhausted.Budget);
            Assert.True(exhausted.IsTransient);
        });
        await held.DisposeAsync();
        await db.WaitUntilAllReturnedAsync();
    }

    [Fact]
    public async Task A_retry_policy_for_transient_DbExceptions_does_not_retry_an_unknown_or_malformed_tenant()
    {
        await using var db = Server.CreateTenantDatabase();
        var failures = new List<Exception>();
        var pipeline = TransientRetry(failure =>
        {
            failures.Add(failure);
            return Task.CompletedTask;
        });

        var unknown = await Assert.ThrowsAsync<TenantNotFoundException>(
            async () => await pipeline.ExecuteAsync(async token => await db.QueryTenantAsync<int>("tenant-9999", "SELECT 1", cancellationToken: token)));
        var malformed = await Assert.ThrowsAsync<InvalidTenantKeyException>(
            async () => await pipeline.ExecuteAsync(async token => await db.QueryTenantAsync<int>("no spaces allowed", "SELECT 1", cancellationToken: token)));

        Assert.Empty(failures);
        Assert.False(Assert.IsAssignableFrom<DbException>(unknown).IsTransient);
        Assert.False(Assert.IsAssignableFrom<DbException>(malformed).IsTransient);
    }

    [Fact]
    public async Task Every_error_of_the_runtime_is_a_TenantDbGuardException_and_a_DbException()
    {
        var runtime = typeof(TenantDatabase).Assembly;
        var exceptions = runtime.GetExportedTypes().Where(t => typeof(Exception).IsAssignableFrom(t)).ToList();

        Assert.Contains(typeof(InvalidTenantKeyException), exceptions);
        Assert.All(exceptions, t => Assert.True(typeof(TenantDbGuardException).IsAssignableFrom(t), $"{t.Name} does not derive from TenantDbGuardException."));
        Assert.True(typeof(DbException).IsAssignableFrom(typeof(TenantDbGuardException)));
        Assert.True(typeof(TenantDbGuardException).IsAbstract);
        Assert.All(exceptions.Where(t => !t.IsAbstract), t => Assert.True(t.IsSealed, $"{t.Name} is not sealed."));
        await Task.CompletedTask;
    }

    /// <summary>A Polly pipeline that retries, ten times at most, what any ADO.NET provider calls transient.</summary>
    private static ResiliencePipeline TransientRetry(Func<Exception, Task> onRetry) =>
        new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<DbException>(exception => exception.IsTransient),
                MaxRetryAttempts = 10,
                BackoffType = DelayBackoffType.Constant,
                Delay = TimeSpan.FromMilliseconds(20),
                OnRetry = async arguments => await onRetry(arguments.Outcome.Exception!),
            })
            .Build();

    private static string Key(int number) => MariaDbFixture.TenantKey(number);
}
