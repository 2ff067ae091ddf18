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
/// The modes take turns in every round, in a rotating order, so that a noisy neighbour hurts each of them alike.
/// </summary>
internal static class OverheadBench
{
    private const string Query = "SELECT 1";

    private static readonly string[] Modes = ["raw", "runtime", "lease"];

    public sealed record Settings(int Seconds, int Rounds, int Workers, int WarmupSeconds, int ProbeOperations);

    public static async Task<int> RunAsync(Settings settings)
    {
        BenchReport.PrintMachine();
        Console.WriteLine(
            $"overhead: one tenant, \"{Query}\" in a closed loop, {settings.Rounds} rounds of {settings.Seconds} s per mode, " +
            $"{settings.WarmupSeconds} s warm-up per mode, modes in rotating order within each round");
        Console.Write("Starting MariaDB... ");
        await using var bench = await BenchServer.StartAsync(maxConnections: 151, tenants: 2);
        Console.WriteLine("ready");

        var summaries = new List<string[]>();
        foreach (var workers in new[] { settings.Workers, 1 }.Distinct())
        {
            // Each level starts from nothing: no pooled connection, a new TenantDatabase.
            MySqlConnection.ClearAllPools();
            await using var database = CreateDatabase(bench);
            summaries.AddRange(await RunRoundsAsync(CreateOperations(bench, database), workers, settings, database));
        }

        Console.WriteLine();
        Console.WriteLine("Summary (median ops/s over the rounds; ratio = runtime or lease / raw, 1.00 = same throughput):");
        BenchReport.PrintTable(
            ["workers", "raw ops/s", "runtime ops/s", "lease ops/s", "runtime/raw (medians)", "runtime/raw (median of rounds)", "lease/raw (medians)", "lease/raw (median of rounds)", "runtime peak open"],
            summaries);

        MySqlConnection.ClearAllPools();
        await using (var database = CreateDatabase(bench))
        {
            await OverheadProbe.RunAsync(bench, database, settings.ProbeOperations);
        }

        Console.WriteLine();
        Console.WriteLine($"load average at end: {BenchReport.LoadAverage()}");
        return 0;
    }

    private static TenantDatabase CreateDatabase(BenchServer bench) =>
        new(new TenantDbGuardOptions { MasterConnectionString = bench.MasterConnectionString });

    /// <summary>The three ways of running the query on tenant 1; each is checked to return 1.</summary>
    private static Dictionary<string, Func<Task<long>>> CreateOperations(BenchServer bench, TenantDatabase database)
    {
        var rawConnectionString = bench.TenantConnectionString(1);
        var tenantKey = BenchServer.TenantKey(1);
        return new Dictionary<string, Func<Task<long>>>(StringComparer.Ordinal)
        {
            ["raw"] = async () =>
            {
                await using var connection = new MySqlConnection(rawConnectionString);
                await connection.OpenAsync();
                await using var command = new MySqlCommand(Query, connection);
                return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
            },
            ["runtime"] = () => database.ExecuteScalarTenantAsync<long>(tenantKey, Query),
            ["lease"] = async () =>
            {
                await using var lease = await database.GetConnectionAsync(tenantKey);
                await using var command = new MySqlCommand(Query, lease.Connection);
                return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
            },
        };
    }

    private static async Task<List<string[]>> RunRoundsAsync(Dictionary<string, Func<Task<long>>> operations, int workers, Settings settings, TenantDatabase database)
    {
        Console.WriteLine();
        Console.WriteLine($"== {workers} worker{(workers == 1 ? "" : "s")} ==");
        foreach (var mode in Modes)
        {
            if (await operations[mode]() != 1)
            {
                throw new InvalidOperationException($"{mode} did not return 1.");
            }

            await MeasureAsync(operations[mode], workers, TimeSpan.FromSeconds(settings.WarmupSeconds), database);
        }

        var results = Modes.ToDictionary(m => m, _ => new double[settings.Rounds], StringComparer.Ordinal);
        var peakOpen = 0;
        for (var round = 0; round < settings.Rounds; round++)
        {
            var order = Modes.Skip(round % Modes.Length).Concat(Modes.Take(round % Modes.Length)).ToArray();
            foreach (var mode in order)
            {
                (results[mode][round], var open) = await MeasureAsync(operations[mode], workers, TimeSpan.FromSeconds(settings.Seconds), database);
                if (mode != "raw")
                {
                    peakOpen = Math.Max(peakOpen, open);
                }
            }

            Console.WriteLine(
                $"  round {round + 1} ({string.Join(", ", order)}): " +
                string.Join("  ", Modes.Select(m => $"{m} {results[m][round],8:N0} ops/s")) +
                $"  runtime/raw {results["runtime"][round] / results["raw"][round]:0.000}  lease/raw {results["lease"][round] / results["raw"][round]:0.000}" +
                $"  (load {BenchReport.LoadAverage()})");
        }

        Console.WriteLine();
        BenchReport.PrintTable(
            ["round", "order", "raw ops/s", "runtime ops/s", "lease ops/s", "runtime/raw", "lease/raw"],
            Enumerable.Range(0, settings.Rounds).Select(r => new[]
            {
                (r + 1).ToString(CultureInfo.InvariantCulture),
                string.Join(" ", Modes.Skip(r % Modes.Length).Concat(Modes.Take(r % Modes.Length))),
                results["raw"][r].ToString("N0", CultureInfo.InvariantCulture),
                results["runtime"][r].ToString("N0", CultureInfo.InvariantCulture),
                results["lease"][r].ToString("N0", CultureInfo.InvariantCulture),
                (results["runtime"][r] / results["raw"][r]).ToString("0.000", CultureInfo.InvariantCulture),
                (results["lease"][r] / results["raw"][r]).ToString("0.000", CultureInfo.InvariantCulture),
            }));

        var raw = Median(results["raw"]);
        var runtime = Median(results["runtime"]);
        var lease = Median(results["lease"]);
        return
        [
            [
                workers.ToString(CultureInfo.InvariantCulture),
                raw.ToString("N0", CultureInfo.InvariantCulture),
                runtime.ToString("N0", CultureInfo.InvariantCulture),
                lease.ToString("N0", CultureInfo.InvariantCulture),
                (runtime / raw).ToString("0.000", CultureInfo.InvariantCulture),
                Median(results["runtime"].Zip(results["raw"], (a, b) => a / b)).ToString("0.000", CultureInfo.InvariantCulture),
                (lease / raw).ToString("0.000", CultureInfo.InvariantCulture),
                Median(results["lease"].Zip(results["raw"], (a, b) => a / b)).ToString("0.000", CultureInfo.InvariantCulture),
                peakOpen.ToString(CultureInfo.InvariantCulture),
            ],
        ];
    }

    /// <summary>
    /// Runs <paramref name="operation"/> in <paramref name="workers"/> closed loops for <paramref name="duration"/>;
    /// returns operations per second, and the most connections the runtime had open meanwhile (sampled every 50 ms).
    /// </summary>
    private static async Task<(double OpsPerSecond, int PeakOpen)> MeasureAsync(Func<Task<long>> operation, int workers, TimeSpan duration, TenantDatabase database)
    {
        var clock = Stopwatch.StartNew();
        var loops = Task.WhenAll(Enumerable.Range(0, workers).Select(_ => Task.Run(async () =>
        {
            long count = 0;
            while (clock.Elapsed < duration)
            {
                await operation();
                count++;
            }

            return count;
        })));
        var peakOpen = database.GetBudgetSnapshot().Open;
        while (!loops.IsCompleted)
        {
            await Task.WhenAny(loops, Task.Delay(50));
            peakOpen = Math.Max(peakOpen, database.GetBudgetSnapshot().Open);
        }

        var counts = await loops;
        return (counts.Sum() / clock.Elapsed.TotalSeconds, peakOpen);
    }

    internal static double Median(IEnumerable<double> values)
    {
        var sorted = values.OrderBy(v => v).ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
