using System.Net;
using System.Text.Json;
using TenantCrm.Seeding;
using TenantCrm.Tests.Infrastructure;

namespace TenantCrm.Tests;

[Collection(CrmCollection.Name)]
[Trait("Speed", "Slow")]
public sealed class MenuTests(CrmFixture fixture)
{
    private static readonly string Tenant = SeedData.TenantKey(1);

    [Theory]
    [InlineData("admin", new[] { "customers", "customers-new", "deals", "pipeline", "reports", "settings" })]
    [InlineData("sales", new[] { "customers", "customers-new", "deals", "pipeline" })]
    [InlineData("viewer", new string[0])]
    public async Task The_menu_shows_the_entries_the_users_permissions_allow(string user, string[] entries)
    {
        var id = await UserIdAsync(Tenant, user);
        using var client = fixture.App.CreateCrmClient();

        var menu = await client.GetJsonAsync($"/api/users/{id}/menu", Tenant);

        Assert.Equal(id, menu.GetProperty("user").GetProperty("id").GetInt64());
        Assert.Equal($"{user}@{Tenant}.example", menu.GetProperty("user").GetProperty("email").GetString());
        Assert.Equal(entries, menu.GetProperty("entries").EnumerateArray().Select(entry => entry.GetProperty("id").GetString()));
    }

    [Fact]
    public async Task A_permission_granted_in_the_tenant_database_shows_up()
    {
        var tenant = SeedData.TenantKey(4);
        var id = await UserIdAsync(tenant, "viewer");
        await fixture.Server.ExecuteAsync($"INSERT INTO permissions (user_id, permission) VALUES ({id}, 'reports.view'), ({id}, 'no.such.entry')", SeedData.TenantDatabase(4));
        using var client = fixture.App.CreateCrmClient();

        var menu = await client.GetJsonAsync($"/api/users/{id}/menu", tenant);

        Assert.Equal(["reports"], menu.GetProperty("entries").EnumerateArray().Select(entry => entry.GetProperty("id").GetString()));
    }

    [Fact]
    public async Task A_user_of_another_tenant_is_not_found()
    {
        var otherTenantsAdmin = await UserIdAsync(SeedData.TenantKey(2), "admin");
        using var client = fixture.App.CreateCrmClient();

        using var response = await client.SendAsync(CrmRequests.Get($"/api/users/{otherTenantsAdmin}/menu", Tenant));

        var problem = await CrmRequests.AssertProblemAsync(response, HttpStatusCode.NotFound);
        Assert.Equal("Unknown user", problem.GetProperty("title").GetString());
    }

    [Fact]
    public async Task A_user_that_does_not_exist_is_not_found()
    {
        using var client = fixture.App.CreateCrmClient();

        using var response = await client.SendAsync(CrmRequests.Get("/api/users/987654/menu", Tenant));

        await CrmRequests.AssertProblemAsync(response, HttpStatusCode.NotFound);
    }

    private Task<long> UserIdAsync(string tenant, string user) =>
        fixture.ScalarAsync($"SELECT id FROM users WHERE tenant_key = '{tenant}' AND email = '{user}@{tenant}.example'", CrmFixture.MasterDatabase);
}
