using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using MySqlConnector;

namespace TenantDbGuard.Bench;

/// <summary>
/// What a <c>KILL QUERY</c> from outside does to a statement it lands in: MariaDB may answer with a partial result and
/// no error. One session runs a statement again and again while another sends <c>KILL QUERY</c> to it every 0 to 2 ms;
/// each shape of the tenant lookup is counted by how its runs ended: the full answer, the server's error (1317), or a
/// cut-short answer with no error (a NULL where the full answer has a value, or no row where it has one).
/// </summary>
internal static class KillCutBench
{
    public sealed record Settings(int Seconds);

    private sealed record Shape(string Name, string Sql, Func<List<object?>, bool> IsFull);

    public static async Task<int> RunAsync(Settings settings)
    {
        await using var bench = await BenchServer.StartAsync(maxConnections: 20, tenants: 0);
        await using (var setup = await bench.OpenAdminConnectionAsync())
        {
            // Tenant 'a' and tenant 'z' share a database; 50,000 inactive rows between them make the subquery scan.
            await using var command = new MySqlCommand(
                $"USE {BenchServer.MasterDatabase}; " +
                "INSERT INTO tenants (tenant_key, database_name, is_active) VALUES ('a', 'db_shared', 1), ('z', 'db_shared', 1); " +
                "INSERT INTO tenants (tenant_key, database_name, is_active) SELECT CONCAT('m-', seq), CONCAT('db_', seq), 0 FROM seq_1_to_50000;",
                setup) { CommandTimeout = 120 };
            await command.ExecuteNonQueryAsync();
        }

        const string others = "o.is_active = 1 AND o.tenant_key <> t.tenant_key AND o.database_name = t.database_name";
        var shapes = new[]
        {
            new Shape("scalar subquery, LIMIT 1 (the lookup before)", $"SELECT t.tenant_key, (SELECT o.tenant_key FROM tenants o WHERE {others} LIMIT 1) FROM tenants t WHERE t.tenant_key = 'a' AND t.is_active = 1 LIMIT 1", row => row.Count == 1 && row[0] is "z"),
            new Shape("aggregate subquery with a mark (the lookup now)", $"SELECT t.tenant_key, (SELECT IF(COUNT(*) = 0, '-', CONCAT('+', MIN(o.tenant_key))) FROM tenants o WHERE {others}) FROM tenants t WHERE t.tenant_key = 'a' AND t.is_active = 1 LIMIT 1", row => row.Count == 1 && row[0] is "+z"),
            new Shape("left join", $"SELECT t.tenant_key, o.tenant_key FROM tenants t LEFT JOIN tenants o ON {others} WHERE t.tenant_key = 'a' AND t.is_active = 1 LIMIT 1", row => row.Count == 1 && row[0] is "z"),
            new Shape("the row by its key alone", "SELECT t.tenant_key, t.database_name FROM tenants t WHERE t.tenant_key = 'a' AND t.is_active = 1 LIMIT 1", row => row.Count == 1 && row[0] is "db_shared"),
        };

        Console.WriteLine($"KILL QUERY every 0-2 ms, {settings.Seconds} s per shape");
        Console.WriteLine($"{"shape",-50} {"runs",8} {"full",8} {"1317",8} {"cut, no error",14}  cut answers seen");
        foreach (var shape in shapes)
        {
            await RunShapeAsync(bench, shape, TimeSpan.FromSeconds(settings.Seconds));
        }

        return 0;
    }

    private static async Task RunShapeAsync(BenchServer bench, Shape shape, TimeSpan duration)
    {
        var connectionString = new MySqlConnectionStringBuilder(bench.MasterConnectionString) { Pooling = false }.ConnectionString;
        await using var target = new MySqlConnection(connectionString);
        await target.OpenAsync();
        await using var killer = await bench.OpenAdminConnectionAsync();
        using var stop = new CancellationTokenSource(duration);
        var id = target.ServerThread;
        var kills = Task.Run(async () =>
        {
            var random = new Random(1);
            while (!stop.IsCancellationRequested)
            {
                await Task.Delay(random.Next(3));
                await using var kill = new MySqlCommand($"KILL QUERY {id}", killer);
                await kill.ExecuteNonQueryAsync();
            }
        });

        long runs = 0, full = 0, interrupted = 0, cut = 0;
        var answers = new SortedSet<string>(StringComparer.Ordinal);
        while (!stop.IsCancellationRequested)
        {
            runs++;
            try
            {
                await using var command = new MySqlCommand(shape.Sql, target);
                await using var reader = await command.ExecuteReaderAsync();
                var row = new List<object?>();
                while (await reader.ReadAsync())
                {
                    row.Add(reader.IsDBNull(1) ? null : reader.GetValue(1));
                }

                while (await reader.NextResultAsync())
                {
                }

                if (shape.IsFull(row))
                {
                    full++;
                }
                else
                {
                    cut++;
                    answers.Add(row.Count == 0 ? "no row" : string.Join(",", row.Select(v => v ?? "NULL")));
                }
            }
            catch (MySqlException exception) when (exception.ErrorCode == MySqlErrorCode.QueryInterrupted)
            {
                interrupted++;
            }
        }

        await kills;
        Console.WriteLine($"{shape.Name,-50} {runs,8:N0} {full,8:N0} {interrupted,8:N0} {cut,14:N0}  {string.Join("; ", answers)}");
    }
}
