using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace TenantDbGuard.Bench;

/// <summary>
/// Where the time of one operation goes: each step alone, one worker, timed over many calls, and the server
/// commands each step costs (from the deltas of the server's <c>Com_*</c> counters).
/// </summary>
internal static class OverheadProbe
{
    private const string Query = "SELECT 1";
    private const int Repeats = 5;
    private const string CounterFilter =
        "Variable_name IN ('Questions', 'Connections', 'Com_select', 'Com_change_db', 'Com_admin_commands', 'Com_reset_connection', 'Com_change_user')";

    public static async Task RunAsync(BenchServer bench, TenantDatabase database, int operations)
    {
        var key = BenchServer.TenantKey(1);
        var rawConnectionString = bench.TenantConnectionString(1);

        // MySqlConnector without its reset on open: fastest, but session state leaks from one open to the next.
        var noResetConnectionString = new MySqlConnectionStringBuilder(rawConnectionString) { ConnectionReset = false }.ConnectionString;
        await using var admin = await bench.OpenAdminConnectionAsync();
        await using var held = new MySqlConnection(new MySqlConnectionStringBuilder(bench.TenantConnectionString(1)) { Pooling = false }.ConnectionString);
        await held.OpenAsync();
        var databases = new[] { BenchServer.TenantDatabase(1), BenchServer.TenantDatabase(2) };
        var switches = 0;

        var steps = new (string Name, Func<Task> Step)[]
        {
            ("raw: pooled open + SELECT 1 + dispose", async () =>
            {
                await using var connection = new MySqlConnection(rawConnectionString);
                await connection.OpenAsync();
                await using var command = new MySqlCommand(Query, connection);
                await command.ExecuteScalarAsync();
            }),
            ("raw, Connection Reset=false: pooled open + SELECT 1 + dispose", async () =>
            {
                await using var connection = new MySqlConnection(noResetConnectionString);
                await connection.OpenAsync();
                await using var command = new MySqlCommand(Query, connection);
                await command.ExecuteScalarAsync();
            }),
            ("raw: pooled open + dispose (no query)", async () =>
            {
                await using var connection = new MySqlConnection(rawConnectionString);
                await connection.OpenAsync();
            }),
            ("runtime: ExecuteScalarTenantAsync SELECT 1", () => database.ExecuteScalarTenantAsync<long>(key, Query)),
            ("runtime: lease + SELECT 1 + dispose", async () =>
            {
                await using var lease = await database.GetConnectionAsync(key);
                await using var command = new MySqlCommand(Query, lease.Connection);
                await command.ExecuteScalarAsync();
            }),
            ("runtime: lease + dispose (no query)", async () =>
            {
                await using var lease = await database.GetConnectionAsync(key);
            }),
            ("open connection: MySqlCommand.ExecuteScalarAsync", async () =>
            {
                await using var command = new MySqlCommand(Query, held);
                await command.ExecuteScalarAsync();
            }),
            ("open connection: Dapper ExecuteScalarAsync<long>", () => held.ExecuteScalarAsync<long>(new CommandDefinition(Query))),
            ("open connection: ChangeDatabaseAsync", () => held.ChangeDatabaseAsync(databases[switches++ % 2])),
            ("open connection: ResetConnectionAsync", () => held.ResetConnectionAsync().AsTask()),
            ("open connection: PingAsync", () => held.PingAsync()),
        };

        Console.WriteLine();
        Console.WriteLine($"Where the time goes: one worker, {operations} calls per step, median of {Repeats} passes (step order rotates), server commands per call");
        var micros = steps.ToDictionary(s => s.Name, _ => new List<double>(), StringComparer.Ordinal);
        var commands = new Dictionary<string, Dictionary<string, double>>(StringComparer.Ordinal);
        for (var pass = 0; pass < Repeats; pass++)
        {
            // The order rotates from pass to pass, so that no step always follows the same one.
            foreach (var (name, step) in steps.Skip(pass % steps.Length).Concat(steps.Take(pass % steps.Length)))
            {
                for (var i = 0; i < operations / 10; i++)
                {
                    await step();
                }

                // A pooled connection resets in the background after it comes back; let the last one finish.
                await Task.Delay(20);
                var before = await BenchServer.ReadStatusAsync(admin, CounterFilter);
                var clock = Stopwatch.StartNew();
                for (var i = 0; i < operations; i++)
                {
                    await step();
                }

                var elapsed = clock.Elapsed;
                await Task.Delay(20);
                var after = await BenchServer.ReadStatusAsync(admin, CounterFilter);
                micros[name].Add(elapsed.TotalMicroseconds / operations);
                if (!commands.ContainsKey(name))
                {
                    // The admin connection's own SHOW STATUS counts once in Questions.
                    commands[name] = after.Keys
                        .Select(k => (Key: k, PerCall: (after[k] - before.GetValueOrDefault(k) - (k == "Questions" ? 1 : 0)) / (double)operations))
                        .Where(p => p.PerCall >= 0.01)
                        .ToDictionary(p => p.Key, p => p.PerCall, StringComparer.Ordinal);
                }
            }
        }

        BenchReport.PrintTable(
            ["step", "µs per call", "server commands per call"],
            steps.Select(s => new[]
            {
                s.Name,
                OverheadBench.Median(micros[s.Name]).ToString("0.0", CultureInfo.InvariantCulture),
                string.Join(", ", commands[s.Name].OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key} {p.Value:0.00}")),
            }));

        await CheckDatabaseAfterResetAsync(held, database, key);
        var snapshot = database.GetBudgetSnapshot();
        Console.WriteLine($"runtime budget after the probe (one caller at a time throughout): limit {snapshot.Limit}, open {snapshot.Open}, in use {snapshot.InUse}");
        await CompareResetOnReleaseAsync(bench, admin, key);
    }

    /// <summary>
    /// One caller, one lease at a time: how many physical connections the runtime opens for it, with the session reset
    /// that runs in the background after each lease (the default) and without it. Fresh <see cref="TenantDatabase"/>
    /// each time, alternating.
    /// </summary>
    private static async Task CompareResetOnReleaseAsync(BenchServer bench, MySqlConnection admin, string key)
    {
        const int Seconds = 5;
        Console.WriteLine();
        Console.WriteLine($"One caller, lease + SELECT 1 + dispose in a loop for {Seconds} s, fresh TenantDatabase each time:");
        var rows = new List<string[]>();
        foreach (var reset in new[] { true, false, true, false })
        {
            await using var database = new TenantDatabase(new TenantDbGuardOptions
            {
                MasterConnectionString = bench.MasterConnectionString,
                ResetSessionOnRelease = reset,
            });
            // The first lease resolves the budget and the tenant; it is not counted.
            await using (await database.GetConnectionAsync(key))
            {
            }

            var before = await BenchServer.ReadStatusAsync(admin, "Variable_name = 'Connections'");
            var peak = 0;
            long calls = 0;
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < TimeSpan.FromSeconds(Seconds))
            {
                await using (var lease = await database.GetConnectionAsync(key))
                {
                    await using var command = new MySqlCommand(Query, lease.Connection);
                    await command.ExecuteScalarAsync();
                }

                calls++;
                peak = Math.Max(peak, database.GetBudgetSnapshot().Open);
            }

            var elapsed = clock.Elapsed;
            var after = await BenchServer.ReadStatusAsync(admin, "Variable_name = 'Connections'");
            rows.Add(
            [
                reset ? "true (default)" : "false",
                (calls / elapsed.TotalSeconds).ToString("N0", CultureInfo.InvariantCulture),
                peak.ToString(CultureInfo.InvariantCulture),
                (after["Connections"] - before["Connections"]).ToString(CultureInfo.InvariantCulture),
            ]);
        }

        BenchReport.PrintTable(["ResetSessionOnRelease", "ops/s", "peak open", "connections opened"], rows);
    }

    /// <summary>
    /// The runtime keeps a connection's database across leases and resets the session when a lease ends; this
    /// shows what the server and MySqlConnector each believe the database is after a reset.
    /// </summary>
    private static async Task CheckDatabaseAfterResetAsync(MySqlConnection held, TenantDatabase database, string key)
    {
        await held.ChangeDatabaseAsync(BenchServer.TenantDatabase(2));
        await held.ResetConnectionAsync();
        var serverSide = await held.ExecuteScalarAsync<string?>("SELECT DATABASE()");
        Console.WriteLine($"after ChangeDatabase + ResetConnection: MySqlConnection.Database = {held.Database}, server DATABASE() = {serverSide ?? "NULL"}");

        var seen = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            await using var lease = await database.GetConnectionAsync(key);
            seen.Add(await lease.Connection.ExecuteScalarAsync<string?>("SELECT DATABASE()") ?? "NULL");
            await Task.Delay(20);
        }

        Console.WriteLine($"runtime leases for {key}, DATABASE() seen: {string.Join(", ", seen)}");
    }
}
