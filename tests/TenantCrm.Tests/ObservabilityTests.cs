using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using MySqlConnector;
using TenantCrm.Seeding;
using TenantCrm.Tests.Infrastructure;
using TenantDbGuard;
using Xunit.Abstractions;

namespace TenantCrm.Tests;

/// <summary><c>GET /metrics</c> (Prometheus, from the runtime's <c>db.client.connection.*</c>) and <c>GET /health</c>.</summary>
[Collection(CrmCollection.Name)]
[Trait("Speed", "Slow")]
public sealed class ObservabilityTests(CrmFixture fixture, ITestOutputHelper output)
{
    private static readonly Regex Sample = new(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>[^}]*)\})?\s+(?<value>\S+)", RegexOptions.Compiled);

    [Fact]
    public async Task Metrics_show_the_connection_pool_with_sensible_values_after_traffic()
    {
        // An app of its own on 'localhost': its pool name differs from the fixture app's, whose meter (named alike, in
        // the same process) every OpenTelemetry provider of the process also reads.
        var master = new MySqlConnectionStringBuilder(fixture.Server.GetAppConnectionString(CrmFixture.MasterDatabase)) { Server = "localhost" };
        await using var app = await fixture.StartAppAsync(new Dictionary<string, string> { ["ConnectionStrings:Master"] = master.ConnectionString });
        using var client = app.CreateCrmClient();
        const int Requests = 24;
        await Task.WhenAll(Enumerable.Range(0, Requests).Select(async n =>
        {
            using var response = await client.SendAsync(CrmRequests.Get("/api/dashboard", SeedData.TenantKey((n % CrmFixture.Tenants) + 1)));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }));
        var db = app.Services.GetRequiredService<TenantDatabase>();
        var pool = $"localhost:{fixture.Server.Port}/{CrmFixture.MasterDatabase}";

        // Connections given back are reset in the background (in neither state) before they are idle again.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        string text;
        List<(string Name, Dictionary<string, string> Labels, double Value)> samples;
        do
        {
            await Task.Delay(50);
            text = await ScrapeAsync(client);
            samples = Parse(text);
        }
        while (Single(samples, "db_client_connection_count", pool, ("db_client_connection_state", "idle")) != db.GetBudgetSnapshot().Open && DateTime.UtcNow < deadline);

        output.WriteLine(text);

        // The throwaway server has max_connections 151; the runtime keeps 10 of them for others.
        Assert.Equal(141, Single(samples, "db_client_connection_max", pool));
        Assert.Equal(0, Single(samples, "db_client_connection_pending_requests", pool));
        var used = samples.Where(s => s.Name == "db_client_connection_count" && s.Labels.GetValueOrDefault("db_client_connection_state") == "used").ToList();
        Assert.Equal(0, used.Sum(s => s.Value));
        var idle = Single(samples, "db_client_connection_count", pool, ("db_client_connection_state", "idle"));
        Assert.InRange(idle, 1, 141);
        Assert.Equal(db.GetBudgetSnapshot().Open, idle);

        // Every request took at least one connection (its tenant's), and gave it back.
        var waits = Single(samples, "db_client_connection_wait_time_seconds_count", pool);
        var uses = Single(samples, "db_client_connection_use_time_seconds_count", pool);
        Assert.True(waits >= Requests, $"{waits} waits for {Requests} requests");
        Assert.Equal(waits, uses);
        Assert.InRange(Single(samples, "db_client_connection_use_time_seconds_sum", pool) / uses, 0, 5);
        Assert.Equal(waits, Single(samples, "db_client_connection_wait_time_seconds_bucket", pool, ("le", "+Inf")));
        Assert.Contains(samples, s => s.Name == "db_client_connection_wait_time_seconds_bucket" && s.Labels.GetValueOrDefault("le") == "0.005");
    }

    [Fact]
    public async Task Health_reports_the_runtimes_check_with_its_data()
    {
        using var client = fixture.App.CreateCrmClient();

        using var response = await client.GetAsync("/health");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var health = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(("ready", "Healthy"), (health.GetProperty("status").GetString(), health.GetProperty("health").GetString()));
        var check = health.GetProperty("checks").GetProperty("tenantdbguard");
        Assert.Equal("Healthy", check.GetProperty("status").GetString());
        Assert.Equal(141, check.GetProperty("data").GetProperty("max").GetInt32());
        Assert.Equal(0, check.GetProperty("data").GetProperty("recent_timeouts").GetInt32());
        Assert.Equal("Healthy", health.GetProperty("checks").GetProperty("seeding").GetProperty("status").GetString());
    }

    [Fact]
    public async Task Health_is_degraded_but_still_200_while_every_connection_of_the_budget_is_held()
    {
        await using var app = await fixture.StartAppAsync(new Dictionary<string, string> { ["TenantDbGuard:MaxConnections"] = "2" });
        var db = app.Services.GetRequiredService<TenantDatabase>();
        using var client = app.CreateCrmClient();

        await using (await db.GetConnectionAsync(SeedData.TenantKey(1)))
        await using (await db.GetConnectionAsync(SeedData.TenantKey(2)))
        {
            using var response = await client.GetAsync("/health");

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var health = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal("Degraded", health.GetProperty("health").GetString());
            var data = health.GetProperty("checks").GetProperty("tenantdbguard").GetProperty("data");
            Assert.Equal((2, 2), (data.GetProperty("max").GetInt32(), data.GetProperty("in_use").GetInt32()));
        }

        using var after = await client.GetAsync("/health");
        Assert.Equal("Healthy", (await after.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("health").GetString());
    }

    private static async Task<string> ScrapeAsync(HttpClient client)
    {
        using var response = await client.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }

    private static List<(string Name, Dictionary<string, string> Labels, double Value)> Parse(string text) =>
        text.Split('\n')
            .Where(line => line.Length > 0 && line[0] != '#')
            .Select(line => Sample.Match(line))
            .Where(match => match.Success)
            .Select(match => (
                match.Groups["name"].Value,
                match.Groups["labels"].Value.Split(',', StringSplitOptions.RemoveEmptyEntries)
                    .Select(label => label.Split('=', 2))
                    .ToDictionary(pair => pair[0], pair => pair[1].Trim('"')),
                double.Parse(match.Groups["value"].Value, CultureInfo.InvariantCulture)))
            .ToList();

    private static double Single(List<(string Name, Dictionary<string, string> Labels, double Value)> samples, string name, string pool, params (string Key, string Value)[] labels) =>
        Assert.Single(samples, s => s.Name == name
            && s.Labels.GetValueOrDefault("db_client_connection_pool_name") == pool
            && labels.All(label => s.Labels.GetValueOrDefault(label.Key) == label.Value)).Value;
}
