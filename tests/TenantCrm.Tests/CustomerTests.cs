using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using TenantCrm.Seeding;
using TenantCrm.Tests.Infrastructure;

namespace TenantCrm.Tests;

/// <summary>Reads use tenant 1, which keeps its seeded rows; writes go to tenant 2.</summary>
[Collection(CrmCollection.Name)]
[Trait("Speed", "Slow")]
public sealed class CustomerTests(CrmFixture fixture)
{
    private static readonly string Reader = SeedData.TenantKey(1);
    private static readonly string Writer = SeedData.TenantKey(2);

    [Fact]
    public async Task A_created_customer_can_be_read_and_found()
    {
        using var client = fixture.App.CreateCrmClient();

        using var response = await client.SendAsync(CrmRequests.Post("/api/customers", Writer, new { name = "  Zeta Zebra Holdings ", email = "ops@zeta.example", phone = "+44 20 7946 0000" }));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var created = await response.Content.ReadFromJsonAsync<JsonElement>();
        var id = created.GetProperty("id").GetInt32();
        Assert.Equal($"/api/customers/{id}", response.Headers.Location?.OriginalString);
        Assert.Equal("Zeta Zebra Holdings", created.GetProperty("name").GetString());

        var read = await client.GetJsonAsync($"/api/customers/{id}", Writer);
        Assert.Equal("ops@zeta.example", read.GetProperty("email").GetString());
        Assert.Equal("+44 20 7946 0000", read.GetProperty("phone").GetString());

        var found = await client.GetJsonAsync("/api/customers?search=Zebra%20Holdings", Writer);
        Assert.Equal(1, found.GetProperty("total").GetInt64());
        Assert.Equal(id, found.GetProperty("items")[0].GetProperty("id").GetInt32());

        // Another tenant's database does not have it.
        var elsewhere = await client.GetJsonAsync("/api/customers?search=Zebra%20Holdings", Reader);
        Assert.Equal(0, elsewhere.GetProperty("total").GetInt64());
    }

    [Fact]
    public async Task A_customer_created_with_a_deal_adds_an_open_deal_to_the_pipeline()
    {
        using var client = fixture.App.CreateCrmClient();
        var before = await client.GetJsonAsync("/api/dashboard", Writer);

        using var response = await client.SendAsync(CrmRequests.Post("/api/customers", Writer, new { name = "Omega Freight", deal = new { title = "Fleet tracking", amount = 4200.25m } }));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt32();
        var after = await client.GetJsonAsync("/api/dashboard", Writer);
        Assert.Equal(before.GetProperty("customers").GetInt64() + 1, after.GetProperty("customers").GetInt64());
        Assert.Equal(before.GetProperty("openDeals").GetInt64() + 1, after.GetProperty("openDeals").GetInt64());
        Assert.Equal(before.GetProperty("pipelineAmount").GetDecimal() + 4200.25m, after.GetProperty("pipelineAmount").GetDecimal());
        Assert.Equal(1, await fixture.ScalarAsync($"SELECT COUNT(*) FROM deals WHERE customer_id = {id} AND stage = 'lead'", SeedData.TenantDatabase(2)));
    }

    [Theory]
    [InlineData("""{"name":""}""", "name")]
    [InlineData("""{"email":"a@b.example"}""", "name")]
    [InlineData("""{"name":"   "}""", "name")]
    [InlineData("""{"name":"Tab\tCompany"}""", "name")]
    [InlineData("""{"name":"Ok","email":"not-an-address"}""", "email")]
    [InlineData("""{"name":"Ok","email":"Ann <ann@example.com>"}""", "email")]
    [InlineData("""{"name":"Ok","email":"ann@localhost"}""", "email")]
    [InlineData("""{"name":"Ok","phone":"call me"}""", "phone")]
    [InlineData("""{"name":"Ok","phone":"+1 2"}""", "phone")]
    [InlineData("""{"name":"Ok","deal":{"amount":10}}""", "deal.title")]
    [InlineData("""{"name":"Ok","deal":{"title":"T"}}""", "deal.amount")]
    [InlineData("""{"name":"Ok","deal":{"title":"T","amount":-1}}""", "deal.amount")]
    [InlineData("""{"name":"Ok","deal":{"title":"T","amount":1.005}}""", "deal.amount")]
    [InlineData("""{"name":"Ok","deal":{"title":"T","amount":1000000000.01}}""", "deal.amount")]
    public async Task An_invalid_customer_is_refused_naming_the_field_and_nothing_is_stored(string body, string field)
    {
        using var client = fixture.App.CreateCrmClient();
        var before = await CustomerCountAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/customers") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("X-Tenant-Token", Writer);

        using var response = await client.SendAsync(request);

        var problem = await CrmRequests.AssertProblemAsync(response, HttpStatusCode.BadRequest);
        var errors = problem.GetProperty("errors");
        Assert.Equal([field], errors.EnumerateObject().Select(property => property.Name));
        Assert.NotEmpty(errors.GetProperty(field).EnumerateArray().Select(reason => reason.GetString()));
        Assert.Equal(before, await CustomerCountAsync());
    }

    [Fact]
    public async Task Too_long_values_are_refused_for_every_field_at_once()
    {
        using var client = fixture.App.CreateCrmClient();

        using var response = await client.SendAsync(CrmRequests.Post("/api/customers", Writer, new
        {
            name = new string('n', CustomerLimits.Name + 1),
            email = new string('e', CustomerLimits.Email) + "@x.example",
            phone = new string('1', CustomerLimits.Phone + 1),
        }));

        var problem = await CrmRequests.AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal(["email", "name", "phone"], problem.GetProperty("errors").EnumerateObject().Select(property => property.Name).Order());
    }

    [Fact]
    public async Task A_body_that_is_not_json_is_a_bad_request_problem()
    {
        using var client = fixture.App.CreateCrmClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/customers") { Content = new StringContent("{\"name\":", Encoding.UTF8, "application/json") };
        request.Headers.Add("X-Tenant-Token", Writer);

        using var response = await client.SendAsync(request);

        await CrmRequests.AssertProblemAsync(response, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task A_body_that_is_not_json_at_all_is_an_unsupported_media_type_problem()
    {
        using var client = fixture.App.CreateCrmClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/customers") { Content = new StringContent("name=Acme", Encoding.UTF8, "application/x-www-form-urlencoded") };
        request.Headers.Add("X-Tenant-Token", Writer);

        using var response = await client.SendAsync(request);

        var problem = await CrmRequests.AssertProblemAsync(response, HttpStatusCode.UnsupportedMediaType);
        Assert.Equal("Unsupported Media Type", problem.GetProperty("title").GetString());
    }

    [Theory]
    [InlineData("page=0", "page")]
    [InlineData("page=1001", "page")]
    [InlineData("page=two", "page")]
    [InlineData("page=-1", "page")]
    [InlineData("pageSize=0", "pageSize")]
    [InlineData("pageSize=101", "pageSize")]
    [InlineData("pageSize=99999999999", "pageSize")]
    public async Task Paging_out_of_bounds_is_refused_naming_the_parameter(string query, string field)
    {
        using var client = fixture.App.CreateCrmClient();

        using var response = await client.SendAsync(CrmRequests.Get($"/api/customers?{query}", Reader));

        var problem = await CrmRequests.AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal([field], problem.GetProperty("errors").EnumerateObject().Select(property => property.Name));
    }

    [Fact]
    public async Task A_too_long_search_is_refused()
    {
        using var client = fixture.App.CreateCrmClient();

        using var response = await client.SendAsync(CrmRequests.Get($"/api/customers?search={new string('s', 101)}", Reader));

        var problem = await CrmRequests.AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty("search", out _));
    }

    [Fact]
    public async Task Pages_split_the_customers_in_name_order()
    {
        using var client = fixture.App.CreateCrmClient();
        var expected = SeedData.Customers(CrmFixture.CustomersPerTenant).Select(c => c.Name).Order(StringComparer.OrdinalIgnoreCase).ToList();

        var pages = new List<string>();
        for (var page = 1; page <= 3; page++)
        {
            var result = await client.GetJsonAsync($"/api/customers?page={page}&pageSize=5", Reader);
            Assert.Equal(CrmFixture.CustomersPerTenant, result.GetProperty("total").GetInt64());
            pages.AddRange(result.GetProperty("items").EnumerateArray().Select(item => item.GetProperty("name").GetString()!));
        }

        Assert.Equal(expected, pages);
    }

    [Theory]
    [InlineData("%", 0)]
    [InlineData("_", 0)]
    [InlineData("northwind", 2)]
    public async Task Search_matches_names_literally(string search, int expected)
    {
        using var client = fixture.App.CreateCrmClient();

        var result = await client.GetJsonAsync($"/api/customers?search={Uri.EscapeDataString(search)}", Reader);

        Assert.Equal(expected, result.GetProperty("total").GetInt64());
    }

    [Fact]
    public async Task An_unknown_customer_is_a_not_found_problem()
    {
        using var client = fixture.App.CreateCrmClient();

        using var response = await client.SendAsync(CrmRequests.Get("/api/customers/999999", Reader));

        await CrmRequests.AssertProblemAsync(response, HttpStatusCode.NotFound);
    }

    private Task<long> CustomerCountAsync() => fixture.ScalarAsync("SELECT COUNT(*) FROM customers", SeedData.TenantDatabase(2));

    private static class CustomerLimits
    {
        public const int Name = 100;
        public const int Email = 254;
        public const int Phone = 32;
    }
}
