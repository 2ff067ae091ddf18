using System.Net;
using Microsoft.Extensions.DependencyInjection;
using TenantCrm.Seeding;
using TenantCrm.Tests.Infrastructure;
using TenantDbGuard;

namespace TenantCrm.Tests;

[Collection(CrmCollection.Name)]
[Trait("Speed", "Slow")]
public sealed class ServiceUnavailableTests(CrmFixture fixture)
{
    [Fact]
    public async Task A_tenant_whose_connections_are_all_in_use_gets_503_with_retry_after_and_recovers()
    {
        await using var app = await fixture.StartAppAsync(new Dictionary<string, string>
        {
            ["TenantDbGuard:MaxConnectionsPerTenant"] = "1",
            ["TenantDbGuard:AcquireTimeout"] = "00:00:00.300",
        });
        var db = app.Services.GetRequiredService<TenantDatabase>();
        var tenant = SeedData.TenantKey(3);
        using var client = app.CreateCrmClient();

        await using (await db.GetConnectionAsync(tenant))
        {
            using var busy = await client.SendAsync(CrmRequests.Get("/api/dashboard", tenant));

            await CrmRequests.AssertProblemAsync(busy, HttpStatusCode.ServiceUnavailable);
            Assert.Equal(TimeSpan.FromSeconds(1), busy.Headers.RetryAfter?.Delta);

            // Other tenants are not held up by this one.
            using var other = await client.SendAsync(CrmRequests.Get("/api/dashboard", SeedData.TenantKey(1)));
            Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        }

        using var again = await client.SendAsync(CrmRequests.Get("/api/dashboard", tenant));
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
    }

    [Fact]
    public async Task A_tenant_whose_database_is_missing_gets_503_with_retry_after()
    {
        await fixture.Server.ExecuteAsync("INSERT INTO tenants (tenant_key, database_name) VALUES ('tenant-moved', 'crm_tenant_moved')", CrmFixture.MasterDatabase);
        try
        {
            using var client = fixture.App.CreateCrmClient();

            using var response = await client.SendAsync(CrmRequests.Get("/api/dashboard", "tenant-moved"));

            var problem = await CrmRequests.AssertProblemAsync(response, HttpStatusCode.ServiceUnavailable);
            Assert.Equal("Tenant database unavailable", problem.GetProperty("title").GetString());
            Assert.Equal(TimeSpan.FromSeconds(30), response.Headers.RetryAfter?.Delta);
        }
        finally
        {
            await fixture.Server.ExecuteAsync("DELETE FROM tenants WHERE tenant_key = 'tenant-moved'", CrmFixture.MasterDatabase);
        }
    }
}
