using TenantCrm.Seeding;
using TenantCrm.Tests.Infrastructure;

namespace TenantCrm.Tests;

[Collection(CrmCollection.Name)]
[Trait("Speed", "Slow")]
public sealed class DashboardTests(CrmFixture fixture)
{
    [Fact]
    public async Task Dashboard_counts_the_seeded_rows()
    {
        var deals = SeedData.Deals(CrmFixture.DealsPerTenant, CrmFixture.CustomersPerTenant).ToList();
        using var client = fixture.App.CreateCrmClient();

        var dashboard = await client.GetJsonAsync("/api/dashboard", SeedData.TenantKey(1));

        Assert.Equal(CrmFixture.CustomersPerTenant, dashboard.GetProperty("customers").GetInt64());
        Assert.Equal(CrmFixture.DealsPerTenant, dashboard.GetProperty("deals").GetInt64());
        Assert.Equal(deals.Count(deal => deal.IsOpen), dashboard.GetProperty("openDeals").GetInt64());
        Assert.Equal(deals.Where(deal => deal.IsOpen).Sum(deal => deal.Amount), dashboard.GetProperty("pipelineAmount").GetDecimal());
        Assert.InRange(deals.Count(deal => deal.IsOpen), 1, deals.Count - 1);
    }
}
