using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Threading;
using System.Threading.Tasks;

namespace TenantDbGuard.Bench;

/// <summary>
/// Several app instances on one server, as replicas run: N child processes of this program, each with
/// TenantDbGuard.Runtime on default options (nothing tells an instance how many others there are), the storm's query on
/// random tenants, all at once. Prints each instance's throughput and failures and the server's
/// <c>Max_used_connections</c>.
/// </summary>
internal static class InstancesBench
{
    private const string Query = "SELECT COUNT(*) FROM customers";
    private const string ResultPrefix = "RESULT ";

    public sealed record Settings(int Instances, int Seconds, int Tenants, int Workers, int MaxConnections, bool CoordinateOpens = true);

    public sealed record InstanceSettings(string MasterConnectionString, int Seconds, int Tenants, int Workers, bool CoordinateOpens = true);

    public static async Task<int> RunAsync(Settings settings)
    {
        BenchReport.PrintMachine();
        Console.WriteLine(
            $"instances: {settings.Instances} processes x {settings.Workers} workers, {settings.Tenants} tenant databases, {settings.Seconds} s, " +
            $"server max_connections {settings.MaxConnections}, default options{(settings.CoordinateOpens ? string.Empty : " but CoordinateOpens = false")}, query \"{Query}\" on a random tenant, no think time");
        Console.Write("Starting MariaDB and creating the tenant databases... ");
        var setup = Stopwatch.StartNew();
        await using var bench = await BenchServer.StartAsync(settings.MaxConnections, settings.Tenants);
        Console.WriteLine($"{setup.Elapsed.TotalSeconds:0.0} s");
        await bench.Server.FlushStatusAsync();
        await Task.Delay(200);

        var children = Enumerable.Range(1, settings.Instances).Select(_ => StartChild(bench.MasterConnectionString, settings)).ToArray();
        var outputs = await Task.WhenAll(children.Select(ReadChildAsync));

        var maxUsed = await bench.Server.GetStatusAsync("Max_used_connections");
        var refused = await bench.Server.GetStatusAsync("Connection_errors_max_connections");
        var results = outputs.Select(Parse).ToArray();
        Console.WriteLine();
        BenchReport.PrintTable(
            ["instance", "ok", "ok/s", "failed", "p99 ms", "budget at the end", "failures"],
            results.Select((r, i) => new[]
            {
                (i + 1).ToString(CultureInfo.InvariantCulture),
                r.Ok.ToString("N0", CultureInfo.InvariantCulture),
                (r.Ok / r.Seconds).ToString("N0", CultureInfo.InvariantCulture),
                r.Failed.ToString("N0", CultureInfo.InvariantCulture),
                r.P99Milliseconds.ToString("0.0", CultureInfo.InvariantCulture),
                $"{r.Limit} of {r.Ceiling}",
                r.Failures,
            }));
        var rates = results.Select(r => r.Ok / r.Seconds).ToArray();
        Console.WriteLine();
        Console.WriteLine($"total ok/s {rates.Sum():N0}; slowest/fastest instance {rates.Min() / rates.Max():0.00}; failed {results.Sum(r => r.Failed):N0}");
        Console.WriteLine($"server Max_used_connections {maxUsed} (max_connections {settings.MaxConnections}; MariaDB counts an attempt it refuses, so a refusal shows as max_connections + 1); connections it refused {refused}");
        return results.All(r => r.Failed == 0) ? 0 : 1;
    }

    /// <summary>One instance (a child process): the load for the given time, then one line of results.</summary>
    public static async Task<int> RunInstanceAsync(InstanceSettings settings)
    {
        await using var database = new TenantDatabase(new TenantDbGuardOptions { MasterConnectionString = settings.MasterConnectionString, CoordinateOpens = settings.CoordinateOpens });
        var ok = 0L;
        var failures = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        var latencies = new ConcurrentBag<List<double>>();
        var clock = Stopwatch.StartNew();
        var duration = TimeSpan.FromSeconds(settings.Seconds);
        var workers = Enumerable.Range(0, settings.Workers).Select(worker => Task.Run(async () =>
        {
            var random = new Random((Environment.ProcessId * 1000) + worker);
            var mine = new List<double>();
            latencies.Add(mine);
            while (clock.Elapsed < duration)
            {
                var started = Stopwatch.GetTimestamp();
                try
                {
                    await database.ExecuteScalarTenantAsync<long>(BenchServer.TenantKey(random.Next(1, settings.Tenants + 1)), Query);
                    Interlocked.Increment(ref ok);
                    mine.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                }
                catch (Exception exception)
                {
                    failures.AddOrUpdate(exception.GetType().Name, 1, static (_, count) => count + 1);
                }
            }
        })).ToArray();
        await Task.WhenAll(workers);
        var seconds = clock.Elapsed.TotalSeconds;
        var all = latencies.SelectMany(l => l).Order().ToArray();
        var p99 = all.Length == 0 ? 0 : all[(int)Math.Min(all.Length - 1, Math.Ceiling(all.Length * 0.99) - 1)];
        var snapshot = database.GetBudgetSnapshot();

        // Read by name, so that this program still builds against revisions of the runtime from before the ceiling
        // existed (bench/runtime-compare.sh builds it against an older runtime).
        var ceiling = snapshot.GetType().GetProperty("Ceiling")?.GetValue(snapshot) ?? snapshot.Limit;
        var failureText = failures.IsEmpty ? "none" : string.Join("; ", failures.Select(pair => $"{pair.Value} x {pair.Key}"));
        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"{ResultPrefix}{ok}|{failures.Values.Sum()}|{seconds:0.000}|{p99:0.000}|{snapshot.Limit}|{ceiling}|{failureText}"));
        return 0;
    }

    private static Process StartChild(string masterConnectionString, Settings settings)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet")
        {
            start.ArgumentList.Add(Assembly.GetEntryAssembly()!.Location);
        }

        foreach (var argument in new[]
        {
            "instance", "--master", masterConnectionString, "--seconds", settings.Seconds.ToString(CultureInfo.InvariantCulture),
            "--tenants", settings.Tenants.ToString(CultureInfo.InvariantCulture), "--workers", settings.Workers.ToString(CultureInfo.InvariantCulture),
            "--coordinate", settings.CoordinateOpens ? "on" : "off",
        })
        {
            start.ArgumentList.Add(argument);
        }

        return Process.Start(start) ?? throw new InvalidOperationException("Could not start an instance process.");
    }

    private static async Task<string> ReadChildAsync(Process child)
    {
        using (child)
        {
            var output = await child.StandardOutput.ReadToEndAsync();
            await child.WaitForExitAsync();
            return output;
        }
    }

    private static InstanceResult Parse(string output)
    {
        var line = output.Split('\n').Select(l => l.Trim()).LastOrDefault(l => l.StartsWith(ResultPrefix, StringComparison.Ordinal))
            ?? throw new InvalidOperationException("An instance ended without results:\n" + output);
        var parts = line[ResultPrefix.Length..].Split('|');
        return new InstanceResult(
            long.Parse(parts[0], CultureInfo.InvariantCulture),
            long.Parse(parts[1], CultureInfo.InvariantCulture),
            double.Parse(parts[2], CultureInfo.InvariantCulture),
            double.Parse(parts[3], CultureInfo.InvariantCulture),
            int.Parse(parts[4], CultureInfo.InvariantCulture),
            int.Parse(parts[5], CultureInfo.InvariantCulture),
            parts[6]);
    }

    private sealed record InstanceResult(long Ok, long Failed, double Seconds, double P99Milliseconds, int Limit, int Ceiling, string Failures);
}
