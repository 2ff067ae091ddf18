using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Net.Http;
using System.Threading;
using System.Threading.Tasks;

namespace TenantCrm.Load;

/// <summary>Concurrent clients sending the <see cref="Workload"/> until the time is up; every response is checked.</summary>
internal static class LoadRun
{
    private const int KeptFailures = 10;

    public static async Task<LoadResult> RunAsync(HttpClient client, Workload workload, int clients, TimeSpan duration, CancellationToken cancellationToken)
    {
        var results = workload.Operations.ToDictionary(operation => operation, _ => new OperationResult());
        var failures = new List<string>();
        var deadline = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var started = Stopwatch.GetTimestamp();

        var workers = Enumerable.Range(0, clients).Select(worker => Task.Run(async () =>
        {
            var random = new Random(worker);
            while (Stopwatch.GetTimestamp() < deadline && !cancellationToken.IsCancellationRequested)
            {
                var operation = workload.Next(random);
                using var request = operation.Create(random);
                var sent = Stopwatch.GetTimestamp();
                string? failure;
                try
                {
                    using var response = await client.SendAsync(request, cancellationToken);
                    failure = response.StatusCode == operation.Expected
                        ? null
                        : $"{operation.Name}: {request.Method} {request.RequestUri} got {(int)response.StatusCode}, expected {(int)operation.Expected}: {await response.Content.ReadAsStringAsync(cancellationToken)}";
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    // Interrupted: the request is neither a success nor a failure.
                    break;
                }
                catch (Exception exception)
                {
                    failure = $"{operation.Name}: {request.Method} {request.RequestUri} failed: {exception.GetType().Name}: {exception.Message}";
                }

                results[operation].Record(Stopwatch.GetElapsedTime(sent).TotalMilliseconds, failure is not null);
                if (failure is not null)
                {
                    lock (failures)
                    {
                        if (failures.Count < KeptFailures)
                        {
                            failures.Add(failure);
                        }
                    }
                }
            }
        }, CancellationToken.None)).ToList();

        await Task.WhenAll(workers);
        return new LoadResult(
            Stopwatch.GetElapsedTime(started),
            [.. workload.Operations.Select(operation => (operation, results[operation]))],
            failures);
    }
}

/// <summary>The latencies and failures of one kind of request.</summary>
internal sealed class OperationResult
{
    private readonly List<double> _milliseconds = [];

    public int Requests { get; private set; }

    public int Failures { get; private set; }

    public void Record(double milliseconds, bool failed)
    {
        lock (_milliseconds)
        {
            _milliseconds.Add(milliseconds);
            Requests++;
            Failures += failed ? 1 : 0;
        }
    }

    /// <summary>The latency below which <paramref name="percent"/> of the requests finished (nearest rank).</summary>
    public double Percentile(double percent)
    {
        lock (_milliseconds)
        {
            if (_milliseconds.Count == 0)
            {
                return double.NaN;
            }

            _milliseconds.Sort();
            var rank = (int)Math.Ceiling(percent / 100 * _milliseconds.Count);
            return _milliseconds[Math.Clamp(rank - 1, 0, _milliseconds.Count - 1)];
        }
    }

    public IReadOnlyList<double> Latencies
    {
        get
        {
            lock (_milliseconds)
            {
                return [.. _milliseconds];
            }
        }
    }
}

/// <summary>What a run did.</summary>
internal sealed record LoadResult(TimeSpan Elapsed, IReadOnlyList<(Operation Operation, OperationResult Result)> Operations, IReadOnlyList<string> FirstFailures)
{
    public int Requests => Operations.Sum(o => o.Result.Requests);

    public int Failures => Operations.Sum(o => o.Result.Failures);
}
