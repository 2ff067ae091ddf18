using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using MySqlConnector;

namespace TenantDbGuard.Bench;

/// <summary>
/// The connection storm of issue 4: many tenant databases, a few dozen concurrent workers, each query on a random
/// tenant, against a server with MariaDB's default <c>max_connections</c>. The same load runs twice, first with raw
/// MySqlConnector (one connection string, so one pool, per tenant database), then through TenantDbGuard.Runtime with
/// its default options; the server is restarted before each so that both start from nothing.
/// </summary>
internal static class StormBench
{
    private const string Query = "SELECT COUNT(*) FROM customers";
    private const string StatusFilter = "Variable_name IN ('Threads_connected', 'Max_used_connections')";

    // The server's counters of statements and protocol commands (COM_CHANGE_USER, COM_RESET_CONNECTION, ...), every
    // statement or command a client sent (Questions), new connections, and tables the server had to open because its
    // table cache did not hold them (the server's own cost of many tenants), per query.
    private const string CommandFilter =
        "Variable_name LIKE 'Com\\_%' OR Variable_name IN ('Questions', 'Connections', 'Opened_tables', 'Opened_table_definitions')";
    private static readonly TimeSpan SampleInterval = TimeSpan.FromMilliseconds(250);

    public sealed record Settings(int Seconds, int Tenants, int Workers, int MaxConnections, string CsvPath, string Modes = "raw,runtime", int HotPercent = 0, int TableCache = 0, int WarmupSeconds = 0, bool AllocationTypes = false);

    public static async Task<int> RunAsync(Settings settings)
    {
        BenchReport.PrintMachine();
        Console.WriteLine(
            $"storm: {settings.Tenants} tenant databases, {settings.Workers} workers, {settings.Seconds} s per mode, " +
            $"server max_connections {settings.MaxConnections}, query \"{Query}\" on a random tenant, no think time");

        Console.Write("Starting MariaDB and creating the tenant databases... ");
        var setup = Stopwatch.StartNew();
        await using var bench = await BenchServer.StartAsync(settings.MaxConnections, settings.Tenants);
        Console.WriteLine($"{setup.Elapsed.TotalSeconds:0.0} s");

        var connectionStrings = Enumerable.Range(1, settings.Tenants).Select(bench.TenantConnectionString).ToArray();
        var results = new List<ModeResult>();
        foreach (var mode in settings.Modes.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            results.Add(mode switch
            {
                "raw" => await RunModeAsync(bench, settings, "raw", _ => new RawLoad(connectionStrings)),
                "single" => await RunModeAsync(bench, settings, "single", _ => new RawLoad(connectionStrings.Select(_ => connectionStrings[0]).ToArray())),
                "switch" => await RunModeAsync(bench, settings, "switch", _ => new SwitchLoad(connectionStrings[0], settings.Tenants)),
                "runtime" => await RunModeAsync(bench, settings, "runtime", b => new RuntimeLoad(b.MasterConnectionString)),
                _ => throw new ArgumentException($"--modes: unknown mode '{mode}' (raw, single, switch, runtime)."),
            });
        }

        PrintSummary(results, settings);
        WriteCsv(settings.CsvPath, results, settings);
        Console.WriteLine($"Time series written to {Path.GetFullPath(settings.CsvPath)}");
        return 0;
    }

    private static async Task<ModeResult> RunModeAsync(BenchServer bench, Settings settings, string mode, Func<BenchServer, ILoad> createLoad)
    {
        // Both modes start equal: no pooled connection left in this process, a fresh server, zeroed counters.
        MySqlConnection.ClearAllPools();
        await bench.Server.RestartAsync();
        if (settings.TableCache > 0)
        {
            // Room in the server's table caches for every tenant's table: what is left of the cost of many tenants is
            // then the runtime's (and the server's per-database work), not tables reopened.
            await using var cache = await bench.OpenAdminConnectionAsync();
            await using var command = new MySqlCommand(
                $"SET GLOBAL table_open_cache = {settings.TableCache}, table_definition_cache = {settings.TableCache}", cache);
            await command.ExecuteNonQueryAsync();
        }

        await bench.Server.FlushStatusAsync();

        // Opened before the load, so that it is there when the server is full; it is one of the Threads_connected.
        await using var admin = await bench.OpenAdminConnectionAsync();
        await using var load = createLoad(bench);
        var counters = new Counters();
        var samples = new List<Sample>();
        using var stop = new CancellationTokenSource();
        Console.WriteLine();
        if (settings.WarmupSeconds > 0)
        {
            // Every tenant seen (and its table opened) before the measured run, when the question is the steady state.
            Console.WriteLine($"[{mode}] warming up {settings.WarmupSeconds} s...");
            using var warmupStop = new CancellationTokenSource(TimeSpan.FromSeconds(settings.WarmupSeconds));
            await Task.WhenAll(Enumerable.Range(0, settings.Workers)
                .Select(worker => Task.Run(() => WorkAsync(load, new Counters(), settings.Tenants, settings.HotPercent, seed: 500 + worker, warmupStop.Token))));
        }

        Console.WriteLine($"[{mode}] running {settings.Seconds} s...");

        var commandsBefore = await BenchServer.ReadStatusAsync(admin, CommandFilter);
        using var sampler = settings.AllocationTypes ? new AllocationSampler() : null;
        sampler?.Start();
        var allocatedBefore = GC.GetTotalAllocatedBytes();
        var collectionsBefore = GC.CollectionCount(0);
        var contentionBefore = Monitor.LockContentionCount;
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var serverCpuBefore = bench.Server.ProcessorTime;
        var clock = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, settings.Workers)
            .Select(worker => Task.Run(() => WorkAsync(load, counters, settings.Tenants, settings.HotPercent, seed: 1000 + worker, stop.Token)))
            .ToArray();

        using (var timer = new PeriodicTimer(SampleInterval))
        {
            var lastPrinted = 0;
            do
            {
                var sample = await TakeSampleAsync(admin, mode, clock.Elapsed, counters, load);
                samples.Add(sample);
                if ((int)sample.Elapsed.TotalSeconds >= lastPrinted + 5)
                {
                    lastPrinted = (int)sample.Elapsed.TotalSeconds;
                    Console.WriteLine(
                        $"  {sample.Elapsed.TotalSeconds,5:0.0} s  ok {sample.Ok,8}  failed {sample.Failed,8}  " +
                        $"Threads_connected {sample.ThreadsConnected,4}  Max_used_connections {sample.MaxUsed,4}" +
                        (sample.BudgetOpen is { } open ? $"  runtime open {open}" : string.Empty));
                }
            }
            while (clock.Elapsed < TimeSpan.FromSeconds(settings.Seconds) && await timer.WaitForNextTickAsync());
        }

        // Queries in flight finish (and count); none starts after the deadline.
        stop.Cancel();
        await Task.WhenAll(workers);
        var last = await TakeSampleAsync(admin, mode, clock.Elapsed, counters, load);
        samples.Add(last);
        var operations = Math.Max(1, last.Ok + last.Failed);
        Console.WriteLine(
            $"[{mode}] this process: {(GC.GetTotalAllocatedBytes() - allocatedBefore) / operations:N0} bytes allocated and " +
            $"{(Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalMicroseconds / operations:N0} µs of CPU per query, " +
            $"{GC.CollectionCount(0) - collectionsBefore} gen-0 collections, " +
            $"{(Monitor.LockContentionCount - contentionBefore) / (double)operations:0.000} contended locks per query; the server: " +
            $"{(bench.Server.ProcessorTime - serverCpuBefore).TotalMicroseconds / operations:N0} µs of CPU per query");

        if (sampler is not null)
        {
            Console.WriteLine($"[{mode}] bytes allocated per query by type (sampled, top 25):");
            foreach (var (type, bytes) in sampler.Stop().Take(25))
            {
                Console.WriteLine($"  {bytes / (double)operations,8:N0}  {type}");
            }
        }

        var commandsAfter = await BenchServer.ReadStatusAsync(admin, CommandFilter);
        var perQuery = commandsAfter
            .Where(pair => pair.Key != "Com_show_status")
            .Select(pair => (pair.Key, PerQuery: (pair.Value - commandsBefore.GetValueOrDefault(pair.Key)) / (double)Math.Max(1, last.Ok)))
            .Where(pair => pair.PerQuery >= 0.005)
            .OrderByDescending(pair => pair.PerQuery);
        Console.WriteLine($"[{mode}] server commands per successful query: " + string.Join(", ", perQuery.Select(pair => $"{pair.Key} {pair.PerQuery:0.00}")));
        var hot = counters.HotLatencies.SelectMany(l => l).Order().ToArray();
        var all = counters.Latencies.SelectMany(l => l).Concat(hot).Order().ToArray();
        Console.WriteLine(
            $"[{mode}] latency of successful queries: all p50 {Percentile(all, 0.50):0.0} ms, p99 {Percentile(all, 0.99):0.0} ms" +
            (hot.Length > 0 ? $"; hot tenant ({hot.Length:N0} queries) p50 {Percentile(hot, 0.50):0.0} ms, p99 {Percentile(hot, 0.99):0.0} ms" : string.Empty));
        return new ModeResult(mode, samples, counters.Kinds.ToDictionary(), load.Budget, load.PeakOpen);
    }

    private static async Task WorkAsync(ILoad load, Counters counters, int tenants, int hotPercent, int seed, CancellationToken stop)
    {
        var random = new Random(seed);
        var latencies = new List<double>();
        var hotLatencies = new List<double>();
        counters.Latencies.Add(latencies);
        counters.HotLatencies.Add(hotLatencies);
        while (!stop.IsCancellationRequested)
        {
            // Tenant 1 is the hot one: it gets hotPercent of the queries, the others share the rest.
            var tenant = random.Next(100) < hotPercent ? 1 : random.Next(1, tenants + 1);
            var started = Stopwatch.GetTimestamp();
            try
            {
                await load.QueryAsync(tenant);
                Interlocked.Increment(ref counters.Ok);
                var milliseconds = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                (tenant == 1 ? hotLatencies : latencies).Add(milliseconds);
            }
            catch (Exception exception)
            {
                Interlocked.Increment(ref counters.Failed);
                counters.Kinds.AddOrUpdate(Classify(exception), 1, static (_, count) => count + 1);
            }
        }
    }

    private static async Task<Sample> TakeSampleAsync(MySqlConnection admin, string mode, TimeSpan elapsed, Counters counters, ILoad load)
    {
        var ok = Interlocked.Read(ref counters.Ok);
        var failed = Interlocked.Read(ref counters.Failed);
        var open = load.SampleOpen();
        var status = await BenchServer.ReadStatusAsync(admin, StatusFilter);
        return new Sample(mode, elapsed, ok, failed, status["Threads_connected"], status["Max_used_connections"], open);
    }

    private static double Percentile(double[] sorted, double fraction) =>
        sorted.Length == 0 ? 0 : sorted[(int)Math.Min(sorted.Length - 1, Math.Ceiling(sorted.Length * fraction) - 1)];

    /// <summary>A short name for what went wrong, to count failures by kind.</summary>
    private static string Classify(Exception exception) => exception switch
    {
        MySqlException { Number: 1040 } => "MySQL 1040 Too many connections",
        MySqlException { ErrorCode: MySqlErrorCode.UnableToConnectToHost } mysql when mysql.Message.Contains("pooled", StringComparison.Ordinal) =>
            "pool timeout (all pooled connections in use)",
        MySqlException mysql => $"MySQL {mysql.Number} {mysql.ErrorCode}",
        ServerConnectionLimitException limit => $"ServerConnectionLimitException ({limit.ErrorCode})",
        ConnectionBudgetExhaustedException budget => $"ConnectionBudgetExhaustedException ({budget.Budget})",
        _ => exception.GetType().Name,
    };

    private static void PrintSummary(List<ModeResult> results, Settings settings)
    {
        Console.WriteLine();
        Console.WriteLine($"Summary: {settings.Tenants} tenants, {settings.Workers} workers, {settings.Seconds} s per mode, server max_connections {settings.MaxConnections}");
        Console.WriteLine("(Threads_connected and Max_used_connections include the one admin connection that samples them.)");
        Console.WriteLine();
        var rows = results.Select(r =>
        {
            var last = r.Samples[^1];
            var total = last.Ok + last.Failed;
            var seconds = last.Elapsed.TotalSeconds;
            return new[]
            {
                r.Mode switch { "raw" => "raw MySqlConnector", "single" => "MySqlConnector, one tenant", "switch" => "MySqlConnector, USE per query", _ => "TenantDbGuard.Runtime" },
                total.ToString("N0", CultureInfo.InvariantCulture),
                last.Ok.ToString("N0", CultureInfo.InvariantCulture),
                (last.Ok / seconds).ToString("N0", CultureInfo.InvariantCulture),
                last.Failed.ToString("N0", CultureInfo.InvariantCulture),
                total == 0 ? "-" : (100.0 * last.Failed / total).ToString("0.0", CultureInfo.InvariantCulture) + " %",
                FirstFailure(r),
                r.Samples.Max(s => s.ThreadsConnected).ToString(CultureInfo.InvariantCulture),
                last.MaxUsed.ToString(CultureInfo.InvariantCulture),
                r.Budget is { } budget ? budget.ToString(CultureInfo.InvariantCulture) : "none",
                r.PeakOpen is { } peak ? peak.ToString(CultureInfo.InvariantCulture) : "-",
            };
        });
        BenchReport.PrintTable(
            ["mode", "queries", "ok", "ok/s", "failed", "failed %", "first failure", "peak Threads_connected", "Max_used_connections", "budget", "peak open (runtime)"],
            rows);

        Console.WriteLine();
        Console.WriteLine("Failures by kind:");
        foreach (var result in results)
        {
            if (result.FailureKinds.Count == 0)
            {
                Console.WriteLine($"  {result.Mode}: none");
                continue;
            }

            foreach (var (kind, count) in result.FailureKinds.OrderByDescending(pair => pair.Value))
            {
                Console.WriteLine($"  {result.Mode}: {count,10:N0}  {kind}");
            }
        }
    }

    private static string FirstFailure(ModeResult result)
    {
        var first = result.Samples.FirstOrDefault(s => s.Failed > 0);
        return first is null ? "never" : $"by {first.Elapsed.TotalSeconds:0.00} s";
    }

    private static void WriteCsv(string path, List<ModeResult> results, Settings settings)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
        }

        var csv = new StringBuilder("mode,elapsed_s,ok,failed,threads_connected,max_used\n");
        foreach (var sample in results.SelectMany(r => r.Samples))
        {
            csv.Append(CultureInfo.InvariantCulture, $"{sample.Mode},{sample.Elapsed.TotalSeconds:0.000},{sample.Ok},{sample.Failed},{sample.ThreadsConnected},{sample.MaxUsed}\n");
        }

        // Comment lines that the plot script reads for its titles and reference lines.
        csv.Append(CultureInfo.InvariantCulture, $"# setting,tenants,{settings.Tenants}\n");
        csv.Append(CultureInfo.InvariantCulture, $"# setting,workers,{settings.Workers}\n");
        csv.Append(CultureInfo.InvariantCulture, $"# setting,seconds,{settings.Seconds}\n");
        csv.Append(CultureInfo.InvariantCulture, $"# setting,max_connections,{settings.MaxConnections}\n");
        foreach (var result in results.Where(r => r.Budget is not null))
        {
            csv.Append(CultureInfo.InvariantCulture, $"# budget,{result.Mode},{result.Budget}\n");
        }

        File.WriteAllText(path, csv.ToString());
    }

    private sealed class Counters
    {
        public long Ok;
        public long Failed;
        public readonly ConcurrentBag<List<double>> Latencies = new();
        public readonly ConcurrentBag<List<double>> HotLatencies = new();
        public readonly ConcurrentDictionary<string, long> Kinds = new(StringComparer.Ordinal);
    }

    private sealed record Sample(string Mode, TimeSpan Elapsed, long Ok, long Failed, long ThreadsConnected, long MaxUsed, int? BudgetOpen);

    private sealed record ModeResult(string Mode, List<Sample> Samples, Dictionary<string, long> FailureKinds, int? Budget, int? PeakOpen);

    /// <summary>One way of running the storm's query on tenant <c>n</c>.</summary>
    private interface ILoad : IAsyncDisposable
    {
        int? Budget { get; }

        int? PeakOpen { get; }

        Task QueryAsync(int tenant);

        /// <summary>Connections the client side has open now, where it knows; also tracks the peak.</summary>
        int? SampleOpen();
    }

    /// <summary>What an app without the runtime does: correct code, one connection string per tenant database.</summary>
    private sealed class RawLoad(string[] connectionStrings) : ILoad
    {
        public int? Budget => null;

        public int? PeakOpen => null;

        public async Task QueryAsync(int tenant)
        {
            await using var connection = new MySqlConnection(connectionStrings[tenant - 1]);
            await connection.OpenAsync();
            await using var command = new MySqlCommand(Query, connection);
            _ = await command.ExecuteScalarAsync();
        }

        public int? SampleOpen() => null;

        public ValueTask DisposeAsync()
        {
            MySqlConnection.ClearAllPools();
            return default;
        }
    }

    /// <summary>
    /// Plain MySqlConnector with one pool, every query on a random tenant: the tenant's database selected by a <c>USE</c>
    /// in the query's own batch, as the runtime's helpers send it (schema tracking off for it, so that MySqlConnector keeps
    /// its cheap reset), and MySqlConnector's own reset when the pool hands the connection out. The server does the work
    /// it does for the runtime (the same databases, the same commands); none of the runtime's guarantees hold (nothing
    /// bounds the connections but the pool size, and the <c>USE</c> is not confirmed before the query runs).
    /// </summary>
    private sealed class SwitchLoad(string connectionString, int tenants) : ILoad
    {
        // MariaDB tracks the current database by default; the same statement as the runtime's keeps the tracking off.
        private const string UsePrefix = "SET STATEMENT session_track_schema=OFF FOR USE `";

        private readonly string[] _batches = Enumerable.Range(1, tenants)
            .Select(tenant => UsePrefix + BenchServer.TenantDatabase(tenant) + "`; " + Query)
            .ToArray();

        public int? Budget => null;

        public int? PeakOpen => null;

        public async Task QueryAsync(int tenant)
        {
            await using var connection = new MySqlConnection(connectionString);
            await connection.OpenAsync();
            await using var command = new MySqlCommand(_batches[tenant - 1], connection);
            _ = await command.ExecuteScalarAsync();
        }

        public int? SampleOpen() => null;

        public ValueTask DisposeAsync()
        {
            MySqlConnection.ClearAllPools();
            return default;
        }
    }

    /// <summary>The same query through TenantDbGuard.Runtime with its default options.</summary>
    private sealed class RuntimeLoad(string masterConnectionString) : ILoad
    {
        private readonly TenantDatabase _database = new(new TenantDbGuardOptions { MasterConnectionString = masterConnectionString });
        private int _peakOpen;

        public int? Budget => _database.GetBudgetSnapshot().Limit;

        public int? PeakOpen => _peakOpen;

        public Task QueryAsync(int tenant) => _database.ExecuteScalarTenantAsync<long>(BenchServer.TenantKey(tenant), Query);

        public int? SampleOpen()
        {
            var open = _database.GetBudgetSnapshot().Open;
            _peakOpen = Math.Max(_peakOpen, open);
            return open;
        }

        public ValueTask DisposeAsync() => _database.DisposeAsync();
    }
}
