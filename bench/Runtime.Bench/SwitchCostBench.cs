using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using MySqlConnector;

namespace TenantDbGuard.Bench;

/// <summary>
/// What the server (and the client) pay for putting each query on a tenant's database, apart from any pool or runtime:
/// each worker holds one connection of its own for the whole run and sends the storm's query in one of several shapes,
/// the shapes taking turns round after round so that each meets the same machine. The shapes differ only in how the
/// query reaches its database: the difference between two shapes' server CPU per query is that step's price.
/// </summary>
internal static class SwitchCostBench
{
    private const string Query = "SELECT COUNT(*) FROM customers";

    public sealed record Settings(int Seconds, int Rounds, int Tenants, int Workers);

    private sealed record Shape(string Name, Func<int, string> Sql, bool Reset);

    public static async Task<int> RunAsync(Settings settings)
    {
        if (settings.Tenants < 1 || settings.Workers < 1 || settings.Rounds < 1 || settings.Seconds < 1)
        {
            throw new ArgumentException("switchcost: --tenants, --workers, --rounds and --seconds must be at least 1.");
        }

        await using var bench = await BenchServer.StartAsync(maxConnections: settings.Workers + 20, settings.Tenants);
        var uses = Enumerable.Range(1, settings.Tenants).Select(t => $"USE `{BenchServer.TenantDatabase(t)}`;").ToArray();
        var tracked = uses.Select(use => "SET STATEMENT session_track_schema=OFF FOR " + use + Query).ToArray();
        var qualified = Enumerable.Range(1, settings.Tenants).Select(t => $"SELECT COUNT(*) FROM `{BenchServer.TenantDatabase(t)}`.customers").ToArray();
        var shapes = new[]
        {
            new Shape("one database, the query alone", _ => Query, Reset: false),
            new Shape("one database, reset after each query", _ => Query, Reset: true),
            new Shape("USE of the same database in the batch, reset", _ => tracked[0], Reset: true),
            new Shape("USE of a random tenant in the batch, reset", t => tracked[t], Reset: true),
            new Shape("a random tenant's table by schema name, reset", t => qualified[t], Reset: true),
        };

        Console.WriteLine(
            $"{settings.Tenants} tenants, {settings.Workers} workers with a connection each, {settings.Seconds} s per shape, {settings.Rounds} rounds; " +
            "the shapes that reset send COM_RESET_CONNECTION after each query, as a pool's reset does");
        var results = shapes.ToDictionary(shape => shape, _ => new List<(double Rate, double Server, double Client)>());
        for (var round = 1; round <= settings.Rounds; round++)
        {
            foreach (var shape in round % 2 == 1 ? shapes : shapes.Reverse())
            {
                var result = await RunShapeAsync(bench, shape, settings);
                results[shape].Add(result);
                Console.WriteLine($"round {round}  {shape.Name,-48} {result.Rate,9:N0} q/s  server {result.Server,6:N1} µs/q  client {result.Client,6:N1} µs/q");
            }
        }

        Console.WriteLine();
        Console.WriteLine($"| shape | q/s (median) | server µs per query (median) | client µs per query (median) |");
        Console.WriteLine($"|---|--:|--:|--:|");
        foreach (var shape in shapes)
        {
            var runs = results[shape];
            Console.WriteLine($"| {shape.Name} | {OverheadBench.Median(runs.Select(r => r.Rate)):N0} | {OverheadBench.Median(runs.Select(r => r.Server)):N1} | {OverheadBench.Median(runs.Select(r => r.Client)):N1} |");
        }

        return 0;
    }

    private static async Task<(double Rate, double Server, double Client)> RunShapeAsync(BenchServer bench, Shape shape, Settings settings)
    {
        var connectionString = new MySqlConnectionStringBuilder(bench.TenantConnectionString(1)) { Pooling = false }.ConnectionString;
        var connections = new List<MySqlConnection>(settings.Workers);
        try
        {
            for (var i = 0; i < settings.Workers; i++)
            {
                var connection = new MySqlConnection(connectionString);
                connections.Add(connection);
                await connection.OpenAsync();
            }

            long count = 0;
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(settings.Seconds));
            var serverBefore = bench.Server.ProcessorTime;
            var clientBefore = Process.GetCurrentProcess().TotalProcessorTime;
            var started = Stopwatch.GetTimestamp();
            await Task.WhenAll(connections.Select((connection, worker) => Task.Run(async () =>
            {
                var random = new Random(worker);
                while (!stop.IsCancellationRequested)
                {
                    var command = new MySqlCommand(shape.Sql(random.Next(settings.Tenants)), connection);
                    await using (command.ConfigureAwait(false))
                    {
                        await command.ExecuteScalarAsync().ConfigureAwait(false);
                    }

                    if (shape.Reset)
                    {
                        await connection.ResetConnectionAsync().ConfigureAwait(false);
                    }

                    Interlocked.Increment(ref count);
                }
            })));
            var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
            return (
                count / seconds,
                (bench.Server.ProcessorTime - serverBefore).TotalMicroseconds / count,
                (Process.GetCurrentProcess().TotalProcessorTime - clientBefore).TotalMicroseconds / count);
        }
        finally
        {
            foreach (var connection in connections)
            {
                await connection.DisposeAsync();
            }
        }
    }
}
