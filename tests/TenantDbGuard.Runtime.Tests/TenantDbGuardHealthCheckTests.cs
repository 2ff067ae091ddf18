using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using TenantDbGuard.Runtime.Tests.Infrastructure;

namespace TenantDbGuard.Runtime.Tests;

/// <summary>The health check (TenantDbGuard.HealthChecks) against a real server, registered as an application does.</summary>
[Collection(MariaDbCollection.Name)]
public sealed class TenantDbGuardHealthCheckTests(MariaDbFixture fixture) : IAsyncLifetime
{
    private MariaDbServer Server => fixture.Server;

    public Task InitializeAsync() => fixture.CreateTenantsAsync(3);

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Healthy_when_the_master_answers_and_nothing_waits_with_the_budget_in_the_data()
    {
        await using var provider = Provider(Server.GetAppConnectionString(MariaDbFixture.MasterDatabase), o => o.MaxConnections = 4);
        await provider.GetRequiredService<TenantDatabase>().QueryTenantAsync<int>(Key(1), "SELECT 1");

        var entry = await CheckAsync(provider);

        Assert.Equal(HealthStatus.Healthy, entry.Status);
        Assert.Equal((4, 0, 0, 0), ((int)entry.Data["max"], (int)entry.Data["in_use"], (int)entry.Data["pending"], (int)entry.Data["recent_timeouts"]));
        Assert.InRange((int)entry.Data["open"], 1, 4);
        Assert.Equal(60d, entry.Data["timeout_window_seconds"]);
    }

    [Fact]
    public async Task Degraded_at_once_without_queueing_when_a_budget_of_one_is_held_and_a_caller_waits()
    {
        await using var provider = Provider(Server.GetAppConnectionString(MariaDbFixture.MasterDatabase), o => o.MaxConnections = 1);
        var db = provider.GetRequiredService<TenantDatabase>();
        await using var held = await db.GetConnectionAsync(Key(1));

        var full = await CheckAsync(provider);
        Assert.Equal(HealthStatus.Degraded, full.Status);
        Assert.Equal((1, 1, 0), ((int)full.Data["max"], (int)full.Data["in_use"], (int)full.Data["pending"]));

        var waiter = db.QueryTenantAsync<int>(Key(2), "SELECT 1");
        await db.WaitForSnapshotAsync(s => s.Waiting == 1, TimeSpan.FromSeconds(5));
        var stopwatch = Stopwatch.StartNew();
        var waiting = await CheckAsync(provider);

        // The probe would have waited in line behind the caller (up to its 5 s timeout): it was not made.
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(2), $"the check took {stopwatch.Elapsed}");
        Assert.Equal(HealthStatus.Degraded, waiting.Status);
        Assert.Equal((1, 1), ((int)waiting.Data["in_use"], (int)waiting.Data["pending"]));
        Assert.Contains("1 callers waiting", waiting.Description);
        Assert.Equal(1, db.GetBudgetSnapshot().Waiting);
        await held.DisposeAsync();
        await waiter.WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal(HealthStatus.Healthy, (await CheckAsync(provider)).Status);
    }

    [Fact]
    public async Task Degraded_not_unhealthy_when_the_probe_waits_out_its_timeout_behind_a_full_master_cap()
    {
        await using var provider = Provider(
            Server.GetAppConnectionString(MariaDbFixture.MasterDatabase),
            o =>
            {
                o.MaxConnections = 4;
                o.MaxMasterConnections = 1;
            },
            check => check.ProbeTimeout = TimeSpan.FromMilliseconds(500));
        var db = provider.GetRequiredService<TenantDatabase>();
        await using var master = await db.GetMasterConnectionAsync();

        var entry = await CheckAsync(provider);

        // The master answers the connection that holds the cap; the probe only waited its turn.
        Assert.Equal(HealthStatus.Degraded, entry.Status);
        Assert.Contains("waited", entry.Description);
        Assert.Equal(0, db.GetBudgetSnapshot().Waiting);
    }

    [Fact]
    public async Task Degraded_while_timeouts_are_recent_and_healthy_again_once_they_are_older_than_the_window()
    {
        await using var provider = Provider(
            Server.GetAppConnectionString(MariaDbFixture.MasterDatabase),
            o =>
            {
                // A tenant cap of 1 times the caller out; the budget keeps room for the probe however slow the machine.
                o.MaxConnections = 4;
                o.MaxConnectionsPerTenant = 1;
                o.AcquireTimeout = TimeSpan.FromMilliseconds(200);
            },
            check => check.TimeoutWindow = TimeSpan.FromSeconds(1.5));
        var db = provider.GetRequiredService<TenantDatabase>();
        await using (await db.GetConnectionAsync(Key(1)))
        {
            await Assert.ThrowsAsync<ConnectionBudgetExhaustedException>(() => db.QueryTenantAsync<int>(Key(1), "SELECT 1"));
        }

        await db.WaitUntilAllReturnedAsync();
        var recent = await CheckAsync(provider);
        Assert.Equal(HealthStatus.Degraded, recent.Status);
        Assert.Equal((1, 0, 0), ((int)recent.Data["recent_timeouts"], (int)recent.Data["in_use"], (int)recent.Data["pending"]));
        Assert.Contains("timed out", recent.Description);

        await Task.Delay(TimeSpan.FromSeconds(1.6));
        var later = await CheckAsync(provider);
        Assert.Equal(HealthStatus.Healthy, later.Status);
        Assert.Equal(0, (int)later.Data["recent_timeouts"]);
    }

    [Fact]
    public async Task Unhealthy_when_the_master_server_is_at_a_closed_port()
    {
        var port = RuntimeTestExtensions.UnusedPort();
        await using var provider = Provider($"Server=127.0.0.1;Port={port};User ID=app;Password=x;Database=master", o => o.MaxConnections = 4);

        var entry = await CheckAsync(provider);

        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        Assert.Contains("cannot be reached", entry.Description);
        Assert.NotNull(entry.Exception);
        Assert.Equal(0, (int)entry.Data["in_use"]);
    }

    [Fact]
    public async Task The_failure_status_of_the_registration_is_used_for_an_unreachable_master()
    {
        await using var provider = Provider($"Server=127.0.0.1;Port={RuntimeTestExtensions.UnusedPort()};User ID=app;Password=x;Database=master", o => o.MaxConnections = 4, failureStatus: HealthStatus.Degraded);

        Assert.Equal(HealthStatus.Degraded, (await CheckAsync(provider)).Status);
    }

    [Fact]
    public async Task Unhealthy_once_the_master_server_stops()
    {
        var server = await MariaDbServer.StartAsync();
        try
        {
            await MariaDbFixture.CreateTenantsAsync(server, 1);
            await using var provider = Provider(server.GetAppConnectionString(MariaDbFixture.MasterDatabase), o => o.MaxConnections = 4);
            Assert.Equal(HealthStatus.Healthy, (await CheckAsync(provider)).Status);

            await server.DisposeAsync();
            var entry = await CheckAsync(provider);

            Assert.Equal(HealthStatus.Unhealthy, entry.Status);
            Assert.Equal(0, (int)entry.Data["in_use"]);
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_master_that_accepts_but_never_answers_is_unhealthy_after_the_probe_timeout_and_the_check_is_cancellable()
    {
        await using var silent = SilentMaster.Start();
        await using var provider = Provider(
            $"Server=127.0.0.1;Port={silent.Port};User ID=app;Password=x;Database=master;Connection Timeout=60",
            o => o.MaxConnections = 4,
            check => check.ProbeTimeout = TimeSpan.FromMilliseconds(500));
        var stopwatch = Stopwatch.StartNew();

        var entry = await CheckAsync(provider);

        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        Assert.Contains("did not answer within 0.5 s", entry.Description);
        Assert.InRange(stopwatch.Elapsed, TimeSpan.FromMilliseconds(400), TimeSpan.FromSeconds(5));

        var check = new TenantDbGuardHealthCheck(provider.GetRequiredService<TenantDatabase>(), new TenantDbGuardHealthCheckOptions { ProbeTimeout = TimeSpan.FromSeconds(30) });
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        stopwatch.Restart();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => check.CheckHealthAsync(new HealthCheckContext { Registration = new HealthCheckRegistration("t", check, null, null) }, cancel.Token));
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5), $"cancelling took {stopwatch.Elapsed}");
    }

    [Fact]
    public async Task Health_checks_that_arrive_together_share_one_probe_instead_of_taking_the_budget_from_requests()
    {
        // A master that accepts connections and never answers: each probe holds what it took until its timeout. Load
        // balancers and orchestrators probe from several places at once; six checks must not take six connections of
        // a budget of four (every request would wait behind them), nor open one connection each.
        await using var silent = SilentMaster.Start();
        await using var provider = Provider(
            $"Server=127.0.0.1;Port={silent.Port};User ID=app;Password=x;Database=master;Connection Timeout=60",
            o => o.MaxConnections = 4,
            check => check.ProbeTimeout = TimeSpan.FromSeconds(1));
        var db = provider.GetRequiredService<TenantDatabase>();
        var stopwatch = Stopwatch.StartNew();

        var checks = Enumerable.Range(0, 6).Select(_ => Task.Run(() => CheckAsync(provider))).ToList();
        var mostTaken = 0;
        while (!checks.TrueForAll(check => check.IsCompleted) && stopwatch.Elapsed < TimeSpan.FromSeconds(10))
        {
            var budget = db.GetBudgetSnapshot();
            mostTaken = Math.Max(mostTaken, budget.Open + budget.Waiting);
            await Task.Delay(10);
        }

        var entries = await Task.WhenAll(checks);
        Assert.All(entries, entry => Assert.Equal(HealthStatus.Unhealthy, entry.Status));
        Assert.InRange(stopwatch.Elapsed, TimeSpan.FromMilliseconds(900), TimeSpan.FromSeconds(5));
        Assert.InRange(mostTaken, 0, 1);
        Assert.Equal(1, silent.Accepted);
    }

    [Fact]
    public async Task Health_checks_that_arrive_together_on_a_healthy_master_are_all_healthy_and_the_budget_is_back()
    {
        await using var provider = Provider(
            Server.GetAppConnectionString(MariaDbFixture.MasterDatabase),
            o => o.MaxConnections = 2);
        var db = provider.GetRequiredService<TenantDatabase>();

        for (var round = 0; round < 3; round++)
        {
            var entries = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => CheckAsync(provider))));
            Assert.All(entries, entry => Assert.Equal(HealthStatus.Healthy, entry.Status));
        }

        var snapshot = await db.WaitUntilAllReturnedAsync();
        Assert.InRange(snapshot.Open, 1, 2);
        Assert.Equal(0, db.CountTimeouts(TimeSpan.FromMinutes(1)));
    }

    [Fact]
    public async Task A_keyed_runtime_has_a_check_of_its_own_and_the_unkeyed_check_says_what_to_register()
    {
        // Only a keyed runtime: before, the only check there was asked for the unkeyed one, and the whole report
        // failed with the container's "No service for type" (an orchestrator would restart a healthy service).
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddKeyedTenantDbGuard("eu", options =>
        {
            options.MasterConnectionString = Server.GetAppConnectionString(MariaDbFixture.MasterDatabase);
            options.MaxConnections = 2;
        });
        services.AddHealthChecks().AddKeyedTenantDbGuard("eu").AddTenantDbGuard();
        await using var provider = services.BuildServiceProvider();

        var report = await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        var eu = report.Entries[TenantDbGuardHealthChecksBuilderExtensions.DefaultName + "-eu"];
        Assert.Equal(HealthStatus.Healthy, eu.Status);
        Assert.Equal(2, (int)eu.Data["max"]);
        var unkeyed = report.Entries[TenantDbGuardHealthChecksBuilderExtensions.DefaultName];
        Assert.Equal(HealthStatus.Unhealthy, unkeyed.Status);
        Assert.Contains("AddKeyedTenantDbGuard(key)", unkeyed.Description, StringComparison.Ordinal);
        await provider.GetRequiredKeyedService<TenantDatabase>("eu").WaitUntilAllReturnedAsync();
    }

    [Fact]
    public void Bad_settings_are_refused_with_the_setting_named()
    {
        using var db = Server.CreateTenantDatabase();

        var window = Assert.Throws<ArgumentOutOfRangeException>(() => new TenantDbGuardHealthCheck(db, new TenantDbGuardHealthCheckOptions { TimeoutWindow = TimeSpan.Zero }));
        Assert.Contains("TimeoutWindow must be positive", window.Message);
        var probe = Assert.Throws<ArgumentOutOfRangeException>(() => new TenantDbGuardHealthCheck(db, new TenantDbGuardHealthCheckOptions { ProbeTimeout = TimeSpan.FromSeconds(-1) }));
        Assert.Contains("ProbeTimeout must be positive", probe.Message);
        var endless = Assert.Throws<ArgumentOutOfRangeException>(() => new TenantDbGuardHealthCheck(db, new TenantDbGuardHealthCheckOptions { ProbeTimeout = TimeSpan.FromDays(50) }));
        Assert.Contains("ProbeTimeout must be positive and at most 49 days", endless.Message);
    }

    [Fact]
    public async Task The_longest_allowed_probe_timeout_still_probes()
    {
        await using var db = Server.CreateTenantDatabase();
        var check = new TenantDbGuardHealthCheck(db, new TenantDbGuardHealthCheckOptions { ProbeTimeout = TimeSpan.FromDays(49) });

        var result = await check.CheckHealthAsync(new HealthCheckContext { Registration = new HealthCheckRegistration("tdg", check, HealthStatus.Unhealthy, null) });

        Assert.Equal(HealthStatus.Healthy, result.Status);
    }

    [Fact]
    public async Task A_check_waited_on_synchronously_under_a_single_threaded_synchronization_context_completes()
    {
        await using var db = Server.CreateTenantDatabase(o => o.MaxConnections = 4);
        var check = new TenantDbGuardHealthCheck(db, new TenantDbGuardHealthCheckOptions());
        var context = new HealthCheckContext { Registration = new HealthCheckRegistration("tdg", check, HealthStatus.Unhealthy, null) };

        var (status, posts) = await SingleThreadedContext.Run(() => check.CheckHealthAsync(context).GetAwaiter().GetResult().Status, TimeSpan.FromSeconds(15));

        Assert.Equal((HealthStatus.Healthy, 0), (status, posts));
    }

    private static ServiceProvider Provider(
        string masterConnectionString,
        Action<TenantDbGuardOptions> configure,
        Action<TenantDbGuardHealthCheckOptions>? check = null,
        HealthStatus? failureStatus = null)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddTenantDbGuard(options =>
        {
            options.MasterConnectionString = masterConnectionString;
            configure(options);
        });
        services.AddHealthChecks().AddTenantDbGuard(check, failureStatus: failureStatus);
        return services.BuildServiceProvider();
    }

    private static async Task<HealthReportEntry> CheckAsync(IServiceProvider provider)
    {
        var report = await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        return report.Entries[TenantDbGuardHealthChecksBuilderExtensions.DefaultName];
    }

    /// <summary>A master that accepts connections and never answers, until it is disposed.</summary>
    private sealed class SilentMaster : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly List<Socket> _sockets = [];
        private Task _accepting = Task.CompletedTask;

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        /// <summary>How many connections it has accepted.</summary>
        public int Accepted
        {
            get
            {
                lock (_sockets)
                {
                    return _sockets.Count;
                }
            }
        }

        public static SilentMaster Start()
        {
            var master = new SilentMaster();
            master._listener.Start();
            master._accepting = master.AcceptForeverAsync();
            return master;
        }

        public async ValueTask DisposeAsync()
        {
            _listener.Stop();
            await _accepting;
            lock (_sockets)
            {
                foreach (var socket in _sockets)
                {
                    socket.Dispose();
                }
            }

            _listener.Dispose();
        }

        private async Task AcceptForeverAsync()
        {
            try
            {
                while (true)
                {
                    var socket = await _listener.AcceptSocketAsync();
                    lock (_sockets)
                    {
                        _sockets.Add(socket);
                    }
                }
            }
            catch (Exception exception)
                when (exception is SocketException or ObjectDisposedException or InvalidOperationException)
            {
                // Stopped.
            }
        }
    }

    private static string Key(int number) => MariaDbFixture.TenantKey(number);
}
