using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using MySqlConnector;
using TenantDbGuard.Runtime.Tests.Infrastructure;

namespace TenantCrm.Tests.Infrastructure;

/// <summary>Test classes marked <c>[Collection(CrmCollection.Name)]</c> share one server and one app, one class at a time.</summary>
[CollectionDefinition(Name)]
public sealed class CrmCollection : ICollectionFixture<CrmFixture>
{
    public const string Name = "TenantCrm";
}

/// <summary>
/// A throwaway MariaDB server with an empty master database, and TenantCrm on it, seeded with <see cref="Tenants"/>
/// tenants. Tests that write use their own tenant, so the seeded counts of the others stay as seeded.
/// </summary>
public sealed class CrmFixture : IAsyncLifetime
{
    public const string MasterDatabase = "crm_master";
    public const int Tenants = 6;
    public const int CustomersPerTenant = 12;
    public const int DealsPerTenant = 18;

    private MariaDbServer? _server;
    private CrmApp? _app;

    public MariaDbServer Server => _server ?? throw new InvalidOperationException("The fixture has not started.");

    public CrmApp App => _app ?? throw new InvalidOperationException("The fixture has not started.");

    public async Task InitializeAsync()
    {
        _server = await MariaDbServer.StartAsync();
        await _server.ExecuteAsync($"CREATE DATABASE {MasterDatabase}");
        _app = await StartAppAsync();
    }

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }

        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    /// <summary>Starts another instance of the app on the same server and waits until it has seeded.</summary>
    /// <param name="settings">Settings on top of the fixture's (they win), e.g. <c>TenantDbGuard:AcquireTimeout</c>.</param>
    public async Task<CrmApp> StartAppAsync(IReadOnlyDictionary<string, string>? settings = null)
    {
        var all = new Dictionary<string, string>
        {
            ["ConnectionStrings:Master"] = Server.GetAppConnectionString(MasterDatabase),
            ["TenantCrm:Tenants"] = Tenants.ToString(CultureInfo.InvariantCulture),
            ["TenantCrm:CustomersPerTenant"] = CustomersPerTenant.ToString(CultureInfo.InvariantCulture),
            ["TenantCrm:DealsPerTenant"] = DealsPerTenant.ToString(CultureInfo.InvariantCulture),
            ["TenantCrm:SeedBatchSize"] = "4",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            all[key] = value;
        }

        var app = new CrmApp(all);
        try
        {
            await app.WaitUntilReadyAsync();
            return app;
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
    }

    /// <summary>Runs a query as root and returns its first value, as a long.</summary>
    public async Task<long> ScalarAsync(string sql, string? database = null)
    {
        await using var connection = await Server.OpenConnectionAsync(database);
        await using var command = new MySqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }
}

/// <summary>TenantCrm in the test process, with the given settings.</summary>
public sealed class CrmApp(IReadOnlyDictionary<string, string> settings) : WebApplicationFactory<Program>
{
    /// <summary>A client that follows no redirect and keeps no cookie: every test says what it sends.</summary>
    public HttpClient CreateCrmClient() =>
        CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = false });

    public async Task WaitUntilReadyAsync()
    {
        using var client = CreateCrmClient();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            using var response = await client.GetAsync("/health");
            if (response.StatusCode == HttpStatusCode.OK)
            {
                return;
            }

            var body = await response.Content.ReadFromJsonAsync<JsonElement>();
            if (body.GetProperty("status").GetString() == "failed" || DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"TenantCrm did not get ready: {body}");
            }

            await Task.Delay(50);
        }
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Production");
        foreach (var (key, value) in settings)
        {
            builder.UseSetting(key, value);
        }
    }
}
