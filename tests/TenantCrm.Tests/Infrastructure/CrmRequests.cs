using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace TenantCrm.Tests.Infrastructure;

/// <summary>Requests with a tenant token, and the checks every problem response must pass.</summary>
public static class CrmRequests
{
    public static HttpRequestMessage Get(string path, string? tenant) => WithToken(new HttpRequestMessage(HttpMethod.Get, path), tenant);

    public static HttpRequestMessage Post(string path, string? tenant, object body) =>
        WithToken(new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) }, tenant);

    public static async Task<JsonElement> GetJsonAsync(this HttpClient client, string path, string tenant)
    {
        using var response = await client.SendAsync(Get(path, tenant));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    /// <summary>Asserts an RFC 7807 problem with <paramref name="status"/> and no redirect; returns its body.</summary>
    public static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Null(response.Headers.Location);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("title").GetString()));
        return problem;
    }

    private static HttpRequestMessage WithToken(HttpRequestMessage request, string? tenant)
    {
        if (tenant is not null)
        {
            request.Headers.Add("X-Tenant-Token", tenant);
        }

        return request;
    }
}
