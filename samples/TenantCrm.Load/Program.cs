using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Http.Json;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;
using MySqlConnector;
using TenantCrm.Load;
using TenantDbGuard.Runtime.Tests.Infrastructure;

// Usage: TenantCrm.Load [--app path/TenantCrm.dll] [--tenants 200] [--clients 64] [--seconds 20]
// Starts a throwaway MariaDB (max_connections 151) and TenantCrm on it, drives the load, prints the report.
// Exit code: 0 when every request got its expected status, 1 when one did not or the app failed, 2 on a usage
// error, 130 when interrupted.
const int MaxConnections = 151;
const string MasterDatabase = "crm_master";

var settings = new Dictionary<string, string>(StringComparer.Ordinal)
{
    ["--app"] = typeof(Workload).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "TenantCrmApp").Value!,
    ["--tenants"] = "200",
    ["--clients"] = "64",
    ["--seconds"] = "20",
};
for (var i = 0; i < args.Length; i += 2)
{
    if (!settings.ContainsKey(args[i]) || i + 1 >= args.Length)
    {
        Console.Error.WriteLine($"load: unknown or incomplete option '{args[i]}'; options: {string.Join(", ", settings.Keys)}");
        return 2;
    }

    settings[args[i]] = args[i + 1];
}

var appPath = settings["--app"];
if (!System.IO.File.Exists(appPath))
{
    Console.Error.WriteLine($"load: {appPath} does not exist; build samples/TenantCrm first (dotnet build samples/TenantCrm.Load).");
    return 2;
}

var tenants = int.Parse(settings["--tenants"], CultureInfo.InvariantCulture);
var clients = int.Parse(settings["--clients"], CultureInfo.InvariantCulture);
var duration = TimeSpan.FromSeconds(double.Parse(settings["--seconds"], CultureInfo.InvariantCulture));

// Ctrl+C and SIGTERM end the run early; the finally blocks below still stop the app and the server.
using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    stop.Cancel();
});

try
{
    return await RunAsync(appPath, tenants, clients, duration, stop.Token);
}
catch (Exception) when (stop.IsCancellationRequested)
{
    // Ctrl+C reaches the app too (same process group), so whatever failed after it is part of the interruption.
    Console.Error.WriteLine("load: interrupted");
    return 130;
}

static async Task<int> RunAsync(string appPath, int tenants, int clients, TimeSpan duration, CancellationToken stop)
{
    Console.WriteLine($"Starting MariaDB (max_connections {MaxConnections}) in a temporary folder...");
    await using var server = await MariaDbServer.StartAsync(MaxConnections, stop);
    await server.ExecuteAsync($"CREATE DATABASE {MasterDatabase}", cancellationToken: stop);

    Console.WriteLine($"Starting TenantCrm ({tenants} tenants)...");
    using var app = await AppProcess.StartAsync(appPath, new Dictionary<string, string>
    {
        ["ASPNETCORE_ENVIRONMENT"] = "Production",
        ["ConnectionStrings__Master"] = server.GetAppConnectionString(MasterDatabase),
        ["TenantCrm__Tenants"] = tenants.ToString(CultureInfo.InvariantCulture),
        ["TenantCrm__CustomersPerTenant"] = "20",
        ["Logging__LogLevel__Default"] = "Warning",
    }, stop);

    using var client = new HttpClient(new SocketsHttpHandler { UseCookies = false, AllowAutoRedirect = false, MaxConnectionsPerServer = int.MaxValue })
    {
        BaseAddress = app.BaseAddress,
        Timeout = TimeSpan.FromSeconds(30),
    };

    try
    {
        var health = await WaitUntilReadyAsync(client, app, stop);
        var peakAfterSeeding = await server.GetStatusAsync("Max_used_connections", stop);
        Console.WriteLine($"Ready at {app.BaseAddress}: {health.Tenants} tenants seeded in {health.SeedMilliseconds:0} ms; server peak so far {peakAfterSeeding} connections.");

        var users = await LoadUsersAsync(server, stop);
        var workload = new Workload(tenants, users);
        Console.WriteLine($"Driving {clients} concurrent clients for {duration.TotalSeconds:0} s across {tenants} tenants...");

        using var sampling = CancellationTokenSource.CreateLinkedTokenSource(stop);
        var sampler = SampleThreadsConnectedAsync(server, sampling.Token);
        var result = await LoadRun.RunAsync(client, workload, clients, duration, stop);
        await sampling.CancelAsync();
        var threads = await sampler;
        stop.ThrowIfCancellationRequested();

        var peakOverall = await server.GetStatusAsync("Max_used_connections", CancellationToken.None);
        var budget = (await client.GetFromJsonAsync<Health>("/health", CancellationToken.None))!.Budget;
        Report.Print(result, threads, peakAfterSeeding, peakOverall, MaxConnections, budget);
        Report.PrintMetrics(await client.GetStringAsync("/metrics", CancellationToken.None));

        if (result.Failures > 0 || result.Requests == 0)
        {
            Console.WriteLine();
            Console.WriteLine("Last lines of the app's output:");
            Console.WriteLine(app.Output);
            return 1;
        }

        return 0;
    }
    catch (Exception exception) when (!stop.IsCancellationRequested)
    {
        Console.Error.WriteLine($"load: {exception.Message}");
        Console.Error.WriteLine("Last lines of the app's output:");
        Console.Error.WriteLine(app.Output);
        return 1;
    }
}

static async Task<Health> WaitUntilReadyAsync(HttpClient client, AppProcess app, CancellationToken cancellationToken)
{
    var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
    while (DateTime.UtcNow < deadline)
    {
        if (app.HasExited)
        {
            throw new InvalidOperationException("TenantCrm exited while seeding.");
        }

        using var response = await client.GetAsync("/health", cancellationToken);
        if (response.StatusCode == HttpStatusCode.OK)
        {
            return (await response.Content.ReadFromJsonAsync<Health>(cancellationToken))!;
        }

        await Task.Delay(100, cancellationToken);
    }

    throw new TimeoutException("TenantCrm was not ready within 120 s.");
}

static async Task<IReadOnlyDictionary<int, int[]>> LoadUsersAsync(MariaDbServer server, CancellationToken cancellationToken)
{
    var users = new List<(int Tenant, int Id)>();
    await using var connection = await server.OpenConnectionAsync(MasterDatabase, cancellationToken);
    await using var command = new MySqlCommand("SELECT tenant_key, id FROM users", connection);
    await using var reader = await command.ExecuteReaderAsync(cancellationToken);
    while (await reader.ReadAsync(cancellationToken))
    {
        users.Add((int.Parse(reader.GetString(0)["tenant-".Length..], CultureInfo.InvariantCulture), reader.GetInt32(1)));
    }

    return users.GroupBy(user => user.Tenant).ToDictionary(group => group.Key, group => group.Select(user => user.Id).ToArray());
}

// Threads_connected every 250 ms, less the root connection that asks.
static async Task<IReadOnlyList<long>> SampleThreadsConnectedAsync(MariaDbServer server, CancellationToken cancellationToken)
{
    var samples = new List<long>();
    try
    {
        while (true)
        {
            samples.Add(await server.GetStatusAsync("Threads_connected", cancellationToken) - 1);
            await Task.Delay(250, cancellationToken);
        }
    }
    catch (OperationCanceledException)
    {
        return samples;
    }
}

/// <summary>The app's <c>GET /health</c> body.</summary>
internal sealed record Health(string Status, int Tenants, double? SeedMilliseconds, Budget Budget);

/// <summary>The runtime's connection budget as <c>/health</c> reports it.</summary>
internal sealed record Budget(int Limit, int Open, int InUse, int Waiting);
