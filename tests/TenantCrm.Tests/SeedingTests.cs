using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using TenantCrm.Seeding;
using TenantCrm.Tests.Infrastructure;

namespace TenantCrm.Tests;

[Collection(CrmCollection.Name)]
[Trait("Speed", "Slow")]
public sealed class SeedingTests(CrmFixture fixture)
{
    [Fact]
    public async Task Seeding_creates_every_tenant_with_its_users_and_rows()
    {
        Assert.Equal(CrmFixture.Tenants, await fixture.ScalarAsync("SELECT COUNT(*) FROM tenants WHERE is_active = 1", CrmFixture.MasterDatabase));
        Assert.Equal(CrmFixture.Tenants * SeedData.Users.Count, await fixture.ScalarAsync("SELECT COUNT(*) FROM users", CrmFixture.MasterDatabase));

        var last = SeedData.TenantDatabase(CrmFixture.Tenants);
        Assert.Equal(CrmFixture.CustomersPerTenant, await fixture.ScalarAsync("SELECT COUNT(*) FROM customers", last));
        Assert.Equal(CrmFixture.DealsPerTenant, await fixture.ScalarAsync("SELECT COUNT(*) FROM deals", last));
        Assert.Equal(SeedData.Users.Sum(user => user.Permissions.Count), await fixture.ScalarAsync("SELECT COUNT(*) FROM permissions", last));
    }

    [Fact]
    public async Task Starting_again_changes_no_row()
    {
        var before = await CountRowsAsync();

        await using (await fixture.StartAppAsync())
        {
        }

        Assert.Equal(before, await CountRowsAsync());
    }

    [Fact]
    public async Task Health_is_ready_with_the_tenants_and_the_budget()
    {
        using var client = fixture.App.CreateCrmClient();

        using var response = await client.GetAsync("/health");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var health = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("ready", health.GetProperty("status").GetString());
        Assert.Equal(CrmFixture.Tenants, health.GetProperty("tenants").GetInt32());
        // The throwaway server has max_connections 151; the runtime keeps 10 of them for others.
        Assert.Equal(141, health.GetProperty("budget").GetProperty("limit").GetInt32());
    }

    private async Task<string> CountRowsAsync()
    {
        var counts = new List<long>
        {
            await fixture.ScalarAsync("SELECT COUNT(*) FROM tenants", CrmFixture.MasterDatabase),
            await fixture.ScalarAsync("SELECT COUNT(*) FROM users", CrmFixture.MasterDatabase),
        };
        for (var tenant = 1; tenant <= CrmFixture.Tenants; tenant++)
        {
            foreach (var table in new[] { "customers", "deals", "permissions" })
            {
                counts.Add(await fixture.ScalarAsync($"SELECT COUNT(*) FROM {table}", SeedData.TenantDatabase(tenant)));
            }
        }

        return string.Join(",", counts);
    }
}
