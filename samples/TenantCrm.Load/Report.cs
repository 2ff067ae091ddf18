using System;
using System.Collections.Generic;
using System.Linq;

namespace TenantCrm.Load;

/// <summary>Prints what a run did: requests, failures and latency per kind of request, and the server's connections.</summary>
internal static class Report
{
    public static void Print(LoadResult result, IReadOnlyList<long> threadsConnected, long peakAfterSeeding, long peakOverall, int maxConnections, Budget budget)
    {
        Console.WriteLine();
        Console.WriteLine($"{"request",-34} {"expect",6} {"count",8} {"failed",7} {"p50 ms",8} {"p99 ms",8}");
        foreach (var (operation, stats) in result.Operations)
        {
            Console.WriteLine($"{operation.Name,-34} {(int)operation.Expected,6} {stats.Requests,8} {stats.Failures,7} {stats.Percentile(50),8:0.0} {stats.Percentile(99),8:0.0}");
        }

        var all = new OperationResult();
        foreach (var latency in result.Operations.SelectMany(o => o.Result.Latencies))
        {
            all.Record(latency, failed: false);
        }

        Console.WriteLine($"{"all",-34} {"",6} {result.Requests,8} {result.Failures,7} {all.Percentile(50),8:0.0} {all.Percentile(99),8:0.0}");
        var chat = result.Operations.Where(o => o.Operation.Name.Contains("/api/chat/", StringComparison.Ordinal)).ToList();
        Console.WriteLine();
        Console.WriteLine($"Chat module (EF Core through TenantDbGuard.EntityFrameworkCore): {chat.Sum(o => o.Result.Requests)} requests, " +
            $"{chat.Sum(o => o.Result.Failures)} failed (invalid chat posts are counted under invalid input)");
        Console.WriteLine($"Requests: {result.Requests} in {result.Elapsed.TotalSeconds:0.0} s ({result.Requests / result.Elapsed.TotalSeconds:0} per second); failures (unexpected status or exception): {result.Failures}");
        foreach (var failure in result.FirstFailures)
        {
            Console.WriteLine($"  {failure}");
        }

        var sampledPeak = threadsConnected.Count == 0 ? 0 : threadsConnected.Max();
        Console.WriteLine($"Server connections: peak {peakAfterSeeding} after seeding, {peakOverall} overall (Max_used_connections); " +
            $"Threads_connected under load peak {sampledPeak} ({threadsConnected.Count} samples)");
        Console.WriteLine($"Limits: server max_connections {maxConnections}; the runtime's budget {budget.Limit} ({budget.Open} open at the end)");
    }

    /// <summary>Prints the runtime's <c>db.client.connection.*</c> series from the app's <c>/metrics</c> (Prometheus text), buckets left out.</summary>
    public static void PrintMetrics(string prometheusText)
    {
        Console.WriteLine();
        Console.WriteLine("The app's /metrics at the end (db.client.connection.*, histogram buckets left out):");
        foreach (var line in prometheusText.Split('\n'))
        {
            if (line.StartsWith("db_client_connection_", StringComparison.Ordinal) && !line.Contains("_bucket{", StringComparison.Ordinal))
            {
                // The scope label is the same on every line.
                Console.WriteLine("  " + line.Replace("otel_scope_name=\"TenantDbGuard\",", string.Empty, StringComparison.Ordinal));
            }
        }
    }
}
