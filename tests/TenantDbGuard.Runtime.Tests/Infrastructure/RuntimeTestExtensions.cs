using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using MySqlConnector;

namespace TenantDbGuard.Runtime.Tests.Infrastructure;

/// <summary>Creating the runtime against a test server, and waiting for what it does in the background.</summary>
public static class RuntimeTestExtensions
{
    private static readonly TimeSpan SettleTimeout = TimeSpan.FromSeconds(5);

    /// <summary>A loopback port nothing listens on (it was free a moment ago): connecting to it is refused at once.</summary>
    public static int UnusedPort()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    /// <summary>
    /// Starts the server's count of used connections (<c>Max_used_connections</c>, with <c>FLUSH STATUS</c>) over
    /// <paramref name="connection"/> once no more than <paramref name="remaining"/> connections are left (at most 10 s):
    /// the server counts a closed session until its thread has ended, which on a loaded machine can lag behind the
    /// setup's last statements, and the count would then hold one of them.
    /// </summary>
    public static async Task FlushStatusWhenSettledAsync(this MySqlConnection connection, int remaining)
    {
        var settling = Stopwatch.StartNew();
        using var threads = new MySqlCommand("SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'THREADS_CONNECTED'", connection);
        while (Convert.ToInt64(await threads.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture) > remaining
               && settling.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(5);
        }

        using var flush = new MySqlCommand("FLUSH STATUS", connection);
        await flush.ExecuteNonQueryAsync();
    }

    /// <summary>
    /// A <see cref="TenantDatabase"/> on <paramref name="server"/>'s master database as the unprivileged application
    /// account (root may exceed <c>max_connections</c> by one, the application may not).
    /// </summary>
    public static TenantDatabase CreateTenantDatabase(
        this MariaDbServer server,
        Action<TenantDbGuardOptions>? configure = null,
        ILoggerFactory? loggers = null,
        IMeterFactory? meters = null)
    {
        var options = new TenantDbGuardOptions { MasterConnectionString = server.GetAppConnectionString(MariaDbFixture.MasterDatabase) };
        configure?.Invoke(options);
        return new TenantDatabase(options, loggers, meters);
    }

    /// <summary>
    /// Waits until every lease has come back and no tenant holds one (connections are reset in the background after a
    /// lease is disposed), and returns the snapshot; fails the test when that does not happen within 5 s.
    /// </summary>
    public static async Task<ConnectionBudgetSnapshot> WaitUntilAllReturnedAsync(this TenantDatabase db)
    {
        var stopwatch = Stopwatch.StartNew();
        while (true)
        {
            var snapshot = db.GetBudgetSnapshot();
            if (snapshot is { InUse: 0, TenantsInUse: 0, Waiting: 0 })
            {
                return snapshot;
            }

            if (stopwatch.Elapsed > SettleTimeout)
            {
                Assert.Fail($"Leases still out after {SettleTimeout.TotalSeconds} s: InUse {snapshot.InUse}, TenantsInUse {snapshot.TenantsInUse}, Waiting {snapshot.Waiting}, Open {snapshot.Open}.");
            }

            await Task.Delay(10);
        }
    }

    /// <summary>Waits until <paramref name="condition"/> holds for the snapshot, and returns it; fails after <paramref name="timeout"/>.</summary>
    public static async Task<ConnectionBudgetSnapshot> WaitForSnapshotAsync(this TenantDatabase db, Func<ConnectionBudgetSnapshot, bool> condition, TimeSpan timeout)
    {
        var stopwatch = Stopwatch.StartNew();
        while (true)
        {
            var snapshot = db.GetBudgetSnapshot();
            if (condition(snapshot))
            {
                return snapshot;
            }

            if (stopwatch.Elapsed > timeout)
            {
                Assert.Fail($"The budget did not reach the expected state within {timeout.TotalMilliseconds} ms: Limit {snapshot.Limit}, Open {snapshot.Open}, InUse {snapshot.InUse}, TenantsInUse {snapshot.TenantsInUse}, Waiting {snapshot.Waiting}.");
            }

            await Task.Delay(10);
        }
    }

    /// <summary>Polls <paramref name="condition"/> until it holds; fails the test, naming <paramref name="what"/>, after <paramref name="timeout"/>.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var stopwatch = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(stopwatch.Elapsed < timeout, $"Timed out after {timeout.TotalSeconds:0.#} s waiting until {what}.");
            await Task.Delay(20);
        }
    }

    /// <summary>
    /// Clears MySqlConnector's own pools (other tests keep pooled application connections), collects the leases other
    /// tests leak on purpose (their connections close when the runtime reclaims them), and waits until the server sees
    /// at most <paramref name="atMost"/> connections of the application account, so that a test can count its own.
    /// Sessions still there after the wait are listed in the failure and killed, so that what one test left behind
    /// fails that test only, not every test after it on the shared server.
    /// </summary>
    public static async Task WaitForAppConnectionsAsync(this MariaDbServer server, int atMost = 0)
    {
        await MySqlConnection.ClearAllPoolsAsync();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var stopwatch = Stopwatch.StartNew();
        int count;
        while ((count = await server.CountConnectionsAsync()) > atMost)
        {
            if (stopwatch.Elapsed > SettleTimeout)
            {
                var sessions = await server.ListSessionsAsync();
                foreach (var session in sessions)
                {
                    // Each line starts with the session's id; one that ended meanwhile is no error.
                    await Record.ExceptionAsync(() => server.ExecuteAsync($"KILL {session.Split(' ')[0]}"));
                }

                Assert.Fail($"The server still sees {count} connections of {MariaDbServer.AppUser} after {SettleTimeout.TotalSeconds} s; expected at most {atMost}. Killed so that later tests start clean: {string.Join("; ", sessions)}.");
            }

            await Task.Delay(20);
        }
    }
}
