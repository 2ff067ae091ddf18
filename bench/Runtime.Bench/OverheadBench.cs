using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Threading.Tasks;
using MySqlConnector;

namespace TenantDbGuard.Bench;

/// <summary>
/// What the runtime costs one tenant that never comes near the budget: <c>SELECT 1</c> in a closed loop, raw
/// MySqlConnector (pooled open, query, dispose) against the runtime's helper and its lease, on one server in one run.
/// MySqlConnector resets the session when a pooled connection is opened, the runtime after a lease ends, in the
/// background; a second pair with the reset off on both sides shows the runtime's own bookkeeping. The modes take
/// turns in every round, in a rotating order, so that a noisy neighbour hurts each of them alike.
/// </summary>
internal static class OverheadBench
{
    private const string Query = "SELECT 1";

    public sealed record Settings(int Seconds, int Rounds, int Workers, int WarmupSeconds, int ProbeOperations);

    /// <summary>The comparisons reported: a mode's throughput over another's.</summary>
    private static readonly (string Over, string Under)[] Ratios =
    [
        ("runtime", "raw"),
        ("lease", "raw"),
        ("lease-noreset", "raw-noreset"),
    ];

    public static async Task<int> RunAsync(Settings settings)
    {
        BenchReport.PrintMachine();
        Console.WriteLine(
            $"overhead: one tenant, \"{Query}\" in a closed loop, {settings.Rounds} rounds of {settings.Seconds} s per mode, " +
            $"{settings.WarmupSeconds} s warm-up per mode, modes in rotating order within each round");
        Console.WriteLine("modes: raw = MySqlConnector defaults (pooled open, query, dispose); runtime = ExecuteScalarTenantAsync; lease = GetConnectionAsync + MySqlCommand;");
        Console.WriteLine("       raw-noreset = raw with Connection Reset=false; lease-noreset = lease with ResetSessionOnRelease=false (neither resets the session between uses)");
        Console.Write("Starting MariaDB... ");
        await using var bench = await BenchServer.StartAsync(maxConnections: 151, tenants: 2);
        Console.WriteLine("ready");

        var throughput = new List<string[]>();
        var ratios = new List<string[]>();
        foreach (var workers in new[] { settings.Workers, 1 }.Distinct())
        {
            // Each level starts from nothing: no pooled connection, new TenantDatabase instances.
            MySqlConnection.ClearAllPools();
            await using var database = CreateDatabase(bench, resetOnRelease: true);
            await using var noReset = CreateDatabase(bench, resetOnRelease: false);
            var (levelThroughput, levelRatios) = await RunRoundsAsync(CreateModes(bench, database, noReset), workers, settings);
            throughput.Add(levelThroughput);
            ratios.AddRange(levelRatios);
        }

        Console.WriteLine();
        Console.WriteLine("Summary: median ops/s over the rounds, and the most connections each TenantDatabase had open");
        BenchReport.PrintTable(
            ["workers", "raw", "runtime", "lease", "raw-noreset", "lease-noreset", "peak open (runtime, lease)", "peak open (lease-noreset)"],
            throughput);
        Console.WriteLine();
        Console.WriteLine("Ratios (1.00 = same throughput; below 0.95 = more than 5% slower):");
        BenchReport.PrintTable(["workers", "ratio", "of the medians", "median of the rounds", "lowest round", "highest round"], ratios);

        MySqlConnection.ClearAllPools();
        await using (var database = CreateDatabase(bench, resetOnRelease: true))
        {
            await OverheadProbe.RunAsync(bench, database, settings.ProbeOperations);
        }

        Console.WriteLine();
        Console.WriteLine($"load average at end: {BenchReport.LoadAverage()}");
        return 0;
    }

    private static TenantDatabase CreateDatabase(BenchServer bench, bool resetOnRelease) =>
        new(new TenantDbGuardOptions { MasterConnectionString = bench.MasterConnectionString, ResetSessionOnRelease = resetOnRelease });

    /// <summary>The ways of running the query on tenant 1; each is checked to return 1.</summary>
    private static Mode[] CreateModes(BenchServer bench, TenantDatabase database, TenantDatabase noReset)
    {
        var rawConnectionString = bench.TenantConnectionString(1);
        var noResetConnectionString = new MySqlConnectionStringBuilder(rawConnectionString) { ConnectionReset = false }.ConnectionString;
        var tenantKey = BenchServer.TenantKey(1);
        return
        [
            new("raw", () => RawAsync(rawConnectionString), null),
            new("runtime", () => database.ExecuteScalarTenantAsync<long>(tenantKey, Query), database),
            new("lease", () => LeaseAsync(database, tenantKey), database),
            new("raw-noreset", () => RawAsync(noResetConnectionString), null),
            new("lease-noreset", () => LeaseAsync(noReset, tenantKey), noReset),
        ];

        static async Task<long> RawAsync(string connectionString)
        {
            await using var connection = new MySqlConnection(connectionString);
            await connection.OpenAsync();
            await using var command = new MySqlCommand(Query, connection);
            return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
        }

        static async Task<long> LeaseAsync(TenantDatabase database, string tenantKey)
        {
            await using var lease = await database.GetConnectionAsync(tenantKey);
            await using var command = new MySqlCommand(Query, lease.Connection);
            return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
        }
    }

    private static async Task<(string[] Throughput, List<string[]> Ratios)> RunRoundsAsync(Mode[] modes, int workers, Settings settings)
    {
        Console.WriteLine();
        Console.WriteLine($"== {workers} worker{(workers == 1 ? "" : "s")} ==");
        foreach (var mode in modes)
        {
            if (await mode.Run() != 1)
            {
                throw new InvalidOperationException($"{mode.Name} did not return 1.");
            }

            await MeasureAsync(mode, workers, TimeSpan.FromSeconds(settings.WarmupSeconds));
        }

        var results = modes.ToDictionary(m => m.Name, _ => new double[settings.Rounds], StringComparer.Ordinal);
        var peakOpen = new Dictionary<TenantDatabase, int>();
        var orders = new List<Mode[]>();
        for (var round = 0; round < settings.Rounds; round++)
        {
            var order = modes.Skip(round % modes.Length).Concat(modes.Take(round % modes.Length)).ToArray();
            orders.Add(order);
            foreach (var mode in order)
            {
                (results[mode.Name][round], var open) = await MeasureAsync(mode, workers, TimeSpan.FromSeconds(settings.Seconds));
                if (mode.Database is not null)
                {
                    peakOpen[mode.Database] = Math.Max(peakOpen.GetValueOrDefault(mode.Database), open);
                }
            }

            Console.WriteLine(
                $"  round {round + 1}: " +
                string.Join("  ", modes.Select(m => $"{m.Name} {results[m.Name][round]:N0}")) +
                "  " + string.Join("  ", Ratios.Select(r => $"{r.Over}/{r.Under} {results[r.Over][round] / results[r.Under][round]:0.000}")) +
                $"  (load {BenchReport.LoadAverage()})");
        }

        Console.WriteLine();
        BenchReport.PrintTable(
            ["round", "first", .. modes.Select(m => m.Name), .. Ratios.Select(r => $"{r.Over}/{r.Under}")],
            Enumerable.Range(0, settings.Rounds).Select(string[] (r) =>
            [
                (r + 1).ToString(CultureInfo.InvariantCulture),
                orders[r][0].Name,
                .. modes.Select(m => results[m.Name][r].ToString("N0", CultureInfo.InvariantCulture)),
                .. Ratios.Select(ratio => (results[ratio.Over][r] / results[ratio.Under][r]).ToString("0.000", CultureInfo.InvariantCulture)),
            ]));

        string[] throughput =
        [
            workers.ToString(CultureInfo.InvariantCulture),
            .. modes.Select(m => Median(results[m.Name]).ToString("N0", CultureInfo.InvariantCulture)),
            .. modes.Select(m => m.Database).OfType<TenantDatabase>().Distinct().Select(d => peakOpen.GetValueOrDefault(d).ToString(CultureInfo.InvariantCulture)),
        ];
        var ratios = Ratios.Select(ratio =>
        {
            var perRound = results[ratio.Over].Zip(results[ratio.Under], (a, b) => a / b).ToArray();
            return new[]
            {
                workers.ToString(CultureInfo.InvariantCulture),
                $"{ratio.Over}/{ratio.Under}",
                (Median(results[ratio.Over]) / Median(results[ratio.Under])).ToString("0.000", CultureInfo.InvariantCulture),
                Median(perRound).ToString("0.000", CultureInfo.InvariantCulture),
                perRound.Min().ToString("0.000", CultureInfo.InvariantCulture),
                perRound.Max().ToString("0.000", CultureInfo.InvariantCulture),
            };
        }).ToList();
        return (throughput, ratios);
    }

    /// <summary>
    /// Runs <paramref name="mode"/> in <paramref name="workers"/> closed loops for <paramref name="duration"/>; returns
    /// operations per second, and the most connections its TenantDatabase had open meanwhile (sampled every 50 ms).
    /// </summary>
    private static async Task<(double OpsPerSecond, int PeakOpen)> MeasureAsync(Mode mode, int workers, TimeSpan duration)
    {
        var clock = Stopwatch.StartNew();
        var loops = Task.WhenAll(Enumerable.Range(0, workers).Select(_ => Task.Run(async () =>
        {
            long count = 0;
            while (clock.Elapsed < duration)
            {
                await mode.Run();
                count++;
            }

            return count;
        })));
        var peakOpen = 0;
        while (!loops.IsCompleted)
        {
            await Task.WhenAny(loops, Task.Delay(50));
            peakOpen = Math.Max(peakOpen, mode.Database?.GetBudgetSnapshot().Open ?? 0);
        }

        var counts = await loops;
        return (counts.Sum() / clock.Elapsed.TotalSeconds, peakOpen);
    }

    internal static double Median(IEnumerable<double> values)
    {
        var sorted = values.OrderBy(v => v).ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    /// <summary>One way of running the query; <paramref name="Database"/> is the runtime instance it goes through, if any.</summary>
    private sealed record Mode(string Name, Func<Task<long>> Run, TenantDatabase? Database);
}
