using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using TenantCrm.Seeding;
using TenantCrm.Tests.Infrastructure;

namespace TenantCrm.Tests;

[Collection(CrmCollection.Name)]
[Trait("Speed", "Slow")]
public sealed class TenantTokenTests(CrmFixture fixture)
{
    [Theory]
    [InlineData("X-Tenant-Token")]
    [InlineData("tenant_token")]
    [InlineData("Cookie")]
    public async Task The_tenant_is_named_by_either_header_or_the_cookie(string header)
    {
        using var client = fixture.App.CreateCrmClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/dashboard");
        var tenant = SeedData.TenantKey(1);
        request.Headers.Add(header, header == "Cookie" ? $"theme=dark; tenant_token={tenant}" : tenant);

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var dashboard = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(CrmFixture.CustomersPerTenant, dashboard.GetProperty("customers").GetInt64());
    }

    [Fact]
    public async Task A_header_wins_over_the_cookie()
    {
        using var client = fixture.App.CreateCrmClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/dashboard");
        request.Headers.Add("X-Tenant-Token", SeedData.TenantKey(1));
        request.Headers.Add("Cookie", "tenant_token=no-such-tenant");

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData("/api/dashboard")]
    [InlineData("/api/customers")]
    [InlineData("/api/users/1/menu")]
    public async Task Without_a_token_the_answer_is_unauthorized(string path)
    {
        using var client = fixture.App.CreateCrmClient();

        using var response = await client.SendAsync(CrmRequests.Get(path, tenant: null));

        var problem = await CrmRequests.AssertProblemAsync(response, HttpStatusCode.Unauthorized);
        Assert.Equal("TenantToken", Assert.Single(response.Headers.WwwAuthenticate).Scheme);
        Assert.Contains("X-Tenant-Token", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("tenant-9999")]
    [InlineData("acme")]
    public async Task An_unknown_tenant_is_a_not_found_problem_not_a_redirect(string tenant)
    {
        using var client = fixture.App.CreateCrmClient();

        using var response = await client.SendAsync(CrmRequests.Get("/api/dashboard", tenant));

        var problem = await CrmRequests.AssertProblemAsync(response, HttpStatusCode.NotFound);
        Assert.Equal("Unknown tenant", problem.GetProperty("title").GetString());
    }

    [Theory]
    [InlineData("../crm_master")]
    [InlineData("tenant-0001; DROP DATABASE crm_master")]
    [InlineData("-starts-with-a-dash")]
    [InlineData("ţenant")]
    public async Task A_malformed_token_is_the_same_not_found_problem(string tenant)
    {
        using var client = fixture.App.CreateCrmClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/customers");
        request.Headers.Add("Cookie", $"tenant_token={Uri.EscapeDataString(tenant)}");

        using var response = await client.SendAsync(request);

        var problem = await CrmRequests.AssertProblemAsync(response, HttpStatusCode.NotFound);
        Assert.Equal("Unknown tenant", problem.GetProperty("title").GetString());
        Assert.Equal(1, await fixture.ScalarAsync("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'crm_master'"));
    }

    [Fact]
    public async Task A_route_that_does_not_exist_is_a_not_found_problem()
    {
        using var client = fixture.App.CreateCrmClient();

        using var response = await client.SendAsync(CrmRequests.Get("/api/nothing-here", SeedData.TenantKey(1)));

        await CrmRequests.AssertProblemAsync(response, HttpStatusCode.NotFound);
    }
}
