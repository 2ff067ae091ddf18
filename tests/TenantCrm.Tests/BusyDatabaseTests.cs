using System.Net;
using Microsoft.Extensions.DependencyInjection;
using TenantCrm.Seeding;
using TenantCrm.Tests.Infrastructure;
using TenantDbGuard;

namespace TenantCrm.Tests;

[Collection(CrmCollection.Name)]
public sealed class BusyDatabaseTests(CrmFixture fixture)
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
}
