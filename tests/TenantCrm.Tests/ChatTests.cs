using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using TenantCrm.Seeding;
using TenantCrm.Tests.Infrastructure;

namespace TenantCrm.Tests;

/// <summary>The chat module (EF Core through TenantDbGuard.EntityFrameworkCore): each test uses channels of its own.</summary>
[Collection(CrmCollection.Name)]
[Trait("Speed", "Slow")]
public sealed class ChatTests(CrmFixture fixture)
{
    private static readonly string TenantA = SeedData.TenantKey(3);
    private static readonly string TenantB = SeedData.TenantKey(4);

    [Fact]
    public async Task A_posted_message_is_listed_in_its_channel_oldest_first()
    {
        using var client = fixture.App.CreateCrmClient();
        var channel = NewChannel();

        for (var i = 1; i <= 3; i++)
        {
            using var response = await client.SendAsync(CrmRequests.Post($"/api/chat/{channel}/messages", TenantA, new { author = " Ada ", body = $"message {i}\nsecond line" }));
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
            var created = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal($"/api/chat/{channel}/messages", response.Headers.Location?.OriginalString);
            Assert.Equal("Ada", created.GetProperty("author").GetString());
            Assert.True(created.GetProperty("id").GetInt64() > 0);
        }

        var listed = await client.GetJsonAsync($"/api/chat/{channel}/messages", TenantA);
        Assert.Equal(channel, listed.GetProperty("channel").GetString());
        Assert.Equal(
            ["message 1\nsecond line", "message 2\nsecond line", "message 3\nsecond line"],
            listed.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("body").GetString()));

        // The most recent ones only, still oldest first.
        var recent = await client.GetJsonAsync($"/api/chat/{channel}/messages?limit=2", TenantA);
        Assert.Equal(["message 2\nsecond line", "message 3\nsecond line"], recent.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("body").GetString()));

        // Another channel of the same tenant does not have them.
        var other = await client.GetJsonAsync($"/api/chat/{NewChannel()}/messages", TenantA);
        Assert.Empty(other.GetProperty("messages").EnumerateArray());
        Assert.Equal(3, await fixture.ScalarAsync($"SELECT COUNT(*) FROM chat_messages WHERE channel = '{channel}'", SeedData.TenantDatabase(3)));
    }

    [Fact]
    public async Task A_tenant_never_sees_another_tenants_messages_in_a_channel_of_the_same_name()
    {
        using var client = fixture.App.CreateCrmClient();
        var channel = NewChannel();

        // Interleaved, so that both tenants' contexts run on the app's few physical connections in turn.
        for (var i = 0; i < 4; i++)
        {
            using var a = await client.SendAsync(CrmRequests.Post($"/api/chat/{channel}/messages", TenantA, new { author = "a", body = $"from A {i}" }));
            using var b = await client.SendAsync(CrmRequests.Post($"/api/chat/{channel}/messages", TenantB, new { author = "b", body = $"from B {i}" }));
            Assert.Equal(HttpStatusCode.Created, a.StatusCode);
            Assert.Equal(HttpStatusCode.Created, b.StatusCode);
        }

        var seenByA = await client.GetJsonAsync($"/api/chat/{channel}/messages", TenantA);
        var seenByB = await client.GetJsonAsync($"/api/chat/{channel}/messages", TenantB);
        Assert.All(seenByA.GetProperty("messages").EnumerateArray(), m => Assert.StartsWith("from A", m.GetProperty("body").GetString()));
        Assert.All(seenByB.GetProperty("messages").EnumerateArray(), m => Assert.StartsWith("from B", m.GetProperty("body").GetString()));
        Assert.Equal(4, seenByA.GetProperty("messages").GetArrayLength());
        Assert.Equal(4, seenByB.GetProperty("messages").GetArrayLength());
    }

    [Theory]
    [InlineData("general", """{"body":"hi"}""", "author")]
    [InlineData("general", """{"author":"Ada"}""", "body")]
    [InlineData("general", """{"author":"Ada","body":"   "}""", "body")]
    [InlineData("general", """{"author":"A\tda","body":"hi"}""", "author")]
    [InlineData("general", """{"author":"Ada","body":"bell \u0007"}""", "body")]
    [InlineData("General", """{"author":"Ada","body":"hi"}""", "channel")]
    [InlineData("no%20spaces", """{"author":"Ada","body":"hi"}""", "channel")]
    public async Task An_invalid_message_is_refused_naming_the_field_and_nothing_is_stored(string channel, string body, string field)
    {
        using var client = fixture.App.CreateCrmClient();
        var before = await fixture.ScalarAsync("SELECT COUNT(*) FROM chat_messages", SeedData.TenantDatabase(3));
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/chat/{channel}/messages") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("X-Tenant-Token", TenantA);

        using var response = await client.SendAsync(request);

        var problem = await CrmRequests.AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal([field], problem.GetProperty("errors").EnumerateObject().Select(property => property.Name));
        Assert.Equal(before, await fixture.ScalarAsync("SELECT COUNT(*) FROM chat_messages", SeedData.TenantDatabase(3)));
    }

    [Fact]
    public async Task Too_long_values_and_a_channel_too_long_are_refused_at_once()
    {
        using var client = fixture.App.CreateCrmClient();

        using var response = await client.SendAsync(CrmRequests.Post(
            $"/api/chat/{new string('c', 65)}/messages", TenantA, new { author = new string('a', 101), body = new string('b', 2001) }));

        var problem = await CrmRequests.AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal(["author", "body", "channel"], problem.GetProperty("errors").EnumerateObject().Select(property => property.Name).Order());
    }

    [Theory]
    [InlineData("0")]
    [InlineData("201")]
    [InlineData("ten")]
    public async Task A_limit_out_of_range_is_a_bad_request(string limit)
    {
        using var client = fixture.App.CreateCrmClient();

        using var response = await client.SendAsync(CrmRequests.Get($"/api/chat/general/messages?limit={limit}", TenantA));

        var problem = await CrmRequests.AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal(["limit"], problem.GetProperty("errors").EnumerateObject().Select(property => property.Name));
    }

    [Theory]
    [InlineData(null, HttpStatusCode.Unauthorized)]
    [InlineData("tenant-9999", HttpStatusCode.NotFound)]
    [InlineData("no such tenant!", HttpStatusCode.NotFound)]
    public async Task A_missing_unknown_or_malformed_tenant_gets_the_same_answers_as_the_other_modules(string? tenant, HttpStatusCode status)
    {
        using var client = fixture.App.CreateCrmClient();

        using var list = await client.SendAsync(CrmRequests.Get("/api/chat/general/messages", tenant));
        using var post = await client.SendAsync(CrmRequests.Post("/api/chat/general/messages", tenant, new { author = "Ada", body = "hi" }));

        await CrmRequests.AssertProblemAsync(list, status);
        await CrmRequests.AssertProblemAsync(post, status);
    }

    private static string NewChannel() => "c-" + Guid.NewGuid().ToString("N")[..16];
}
