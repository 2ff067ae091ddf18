using System;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using MySqlConnector;
using OpenTelemetry.Metrics;
using TenantCrm;
using TenantCrm.Chat;
using TenantCrm.Seeding;
using TenantDbGuard;

var builder = WebApplication.CreateBuilder(args);

builder.Services.AddOptions<CrmOptions>()
    .Bind(builder.Configuration.GetSection(CrmOptions.Section))
    .ValidateOnStart();
builder.Services.AddSingleton<IValidateOptions<CrmOptions>, CrmOptionsValidator>();

// The runtime's options come from the "TenantDbGuard" section and are checked when the host starts; the master
// connection string comes from ConnectionStrings:Master.
var configuration = builder.Configuration;
builder.Services
    .AddTenantDbGuard(configuration.GetSection("TenantDbGuard"))
    .Configure<TenantDbGuardOptions>(options => options.MasterConnectionString = configuration.GetConnectionString("Master") is { Length: > 0 } master
        // EF Core's MySQL provider (the chat module) needs AllowUserVariables=True on every connection.
        ? new MySqlConnectionStringBuilder(master) { AllowUserVariables = true }.ConnectionString
        : throw new InvalidOperationException(
            "ConnectionStrings:Master is not set. Set it in appsettings.json or as the environment variable ConnectionStrings__Master, " +
            "e.g. Server=127.0.0.1;User ID=crm;Password=...;Database=crm_master."));

// The chat module's EF Core context (TenantDbGuard.EntityFrameworkCore): one per request, for the request's tenant, on
// a connection leased from the same budget as the Dapper helpers'.
builder.Services.AddHttpContextAccessor();
builder.Services.AddTenantDbContext<ChatContext>(sp => Tenant.From(
    sp.GetRequiredService<IHttpContextAccessor>().HttpContext ?? throw new InvalidOperationException("The chat's context is made for a request.")).Key);

builder.Services.AddProblemDetails();
builder.Services.AddExceptionHandler<CrmExceptionHandler>();
// Malformed JSON or query values reach CrmExceptionHandler as BadHttpRequestException instead of an empty 400.
builder.Services.Configure<RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);

builder.Services.AddSingleton<SeedState>();
builder.Services.AddHostedService<CrmSeeder>();

// GET /health: seeding, and the runtime's budget and master database (TenantDbGuard.HealthChecks).
builder.Services.AddCrmHealthChecks();

// GET /metrics: the runtime's connection metrics (db.client.connection.*) for Prometheus.
builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics
    .AddMeter("TenantDbGuard")
    .AddPrometheusExporter());

var app = builder.Build();

app.UseExceptionHandler();
app.UseStatusCodePages();

app.MapHealth();
app.MapPrometheusScrapingEndpoint();
var api = app.MapGroup("/api");
api.MapDashboard();
api.MapCustomers();
api.MapMenu();
api.MapChat();

app.Run();

/// <summary>The application's entry point; public so that tests can host it with <c>WebApplicationFactory</c>.</summary>
public partial class Program;
