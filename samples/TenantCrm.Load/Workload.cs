using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Http.Json;

namespace TenantCrm.Load;

/// <summary>
/// The requests the driver sends, with their weights and the one status each must get: the app's endpoints for
/// seeded tenants (the chat module's on EF Core among them), and the wrong requests a public API sees (unknown and malformed tenants, invalid input, another
/// tenant's user, no token).
/// </summary>
internal sealed class Workload
{
    private static readonly string[] Searches = ["North", "Labs", "Foods 1", "100%"];
    private static readonly string[] Channels = ["general", "sales", "support", "random"];

    private readonly int _tenants;
    private readonly IReadOnlyDictionary<int, int[]> _users;
    private readonly Operation[] _operations;
    private readonly int _totalWeight;

    /// <param name="tenants">Tenants 1 to this number exist.</param>
    /// <param name="users">The user ids of each tenant, by tenant number.</param>
    public Workload(int tenants, IReadOnlyDictionary<int, int[]> users)
    {
        _tenants = tenants;
        _users = users;
        _operations =
        [
            new("GET /api/dashboard", 20, HttpStatusCode.OK, random => Get(random, Tenant(random), "/api/dashboard")),
            new("GET /api/customers", 20, HttpStatusCode.OK, random => Get(random, Tenant(random), ListQuery(random))),
            new("GET /api/customers/{id}", 10, HttpStatusCode.OK, random => Get(random, Tenant(random), $"/api/customers/{random.Next(1, 11)}")),
            new("POST /api/customers", 10, HttpStatusCode.Created, random => Post(random, Tenant(random), "/api/customers", NewCustomer(random))),
            new("GET /api/chat/{channel}/messages", 12, HttpStatusCode.OK, random =>
                Get(random, Tenant(random), $"/api/chat/{Pick(random, Channels)}/messages{(random.Next(2) == 0 ? "" : "?limit=20")}")),
            new("POST /api/chat/{channel}/messages", 8, HttpStatusCode.Created, random =>
                Post(random, Tenant(random), $"/api/chat/{Pick(random, Channels)}/messages", new { author = $"Load User {random.Next(1, 50)}", body = $"Message {random.Next(1_000_000)} from the load driver" })),
            new("GET /api/users/{id}/menu", 20, HttpStatusCode.OK, random =>
            {
                var tenant = random.Next(1, _tenants + 1);
                return Get(random, Key(tenant), $"/api/users/{Pick(random, _users[tenant])}/menu");
            }),
            new("unknown or malformed tenant", 6, HttpStatusCode.NotFound, random =>
                Get(random, random.Next(2) == 0 ? $"tenant-{random.Next(_tenants + 1, 10_000):D4}" : "no such tenant!", "/api/dashboard")),
            new("invalid input", 6, HttpStatusCode.BadRequest, random => random.Next(3) switch
            {
                0 => Post(random, Tenant(random), "/api/customers", new { name = " ", email = "not-an-address", deal = new { title = "Renewal", amount = -5 } }),
                1 => Get(random, Tenant(random), $"/api/customers?pageSize={random.Next(101, 1000)}"),
                _ => Post(random, Tenant(random), $"/api/chat/{Pick(random, Channels)}/messages", new { author = "Load User", body = " " }),
            }),
            new("another tenant's user", 4, HttpStatusCode.NotFound, random =>
            {
                var tenant = random.Next(1, _tenants + 1);
                var other = tenant % _tenants + 1;
                return Get(random, Key(tenant), $"/api/users/{Pick(random, _users[other])}/menu");
            }),
            new("no tenant token", 4, HttpStatusCode.Unauthorized, _ => new HttpRequestMessage(HttpMethod.Get, "/api/dashboard")),
        ];
        _totalWeight = _operations.Sum(operation => operation.Weight);
    }

    public IReadOnlyList<Operation> Operations => _operations;

    /// <summary>Picks an operation by weight.</summary>
    public Operation Next(Random random)
    {
        var roll = random.Next(_totalWeight);
        foreach (var operation in _operations)
        {
            roll -= operation.Weight;
            if (roll < 0)
            {
                return operation;
            }
        }

        return _operations[^1];
    }

    private static string Key(int tenant) => $"tenant-{tenant.ToString("D4", CultureInfo.InvariantCulture)}";

    private string Tenant(Random random) => Key(random.Next(1, _tenants + 1));

    private static T Pick<T>(Random random, T[] values) => values[random.Next(values.Length)];

    private static string ListQuery(Random random) => random.Next(3) switch
    {
        0 => "/api/customers",
        1 => $"/api/customers?page={random.Next(1, 3)}&pageSize=10",
        _ => $"/api/customers?search={Uri.EscapeDataString(Searches[random.Next(Searches.Length)])}",
    };

    private static object NewCustomer(Random random)
    {
        var n = random.Next(1_000_000);
        return random.Next(2) == 0
            ? new { name = $"Load Customer {n}", email = $"buyer{n}@load.example", phone = "+1 555 0100" }
            : new { name = $"Load Customer {n}", email = $"buyer{n}@load.example", deal = new { title = $"First order {n}", amount = 1250.50m } };
    }

    /// <summary>Sends the token the three ways the app accepts it, in turn.</summary>
    private static HttpRequestMessage WithToken(HttpRequestMessage request, Random random, string token)
    {
        switch (random.Next(3))
        {
            case 0:
                request.Headers.Add("X-Tenant-Token", token);
                break;
            case 1:
                request.Headers.Add("tenant_token", token);
                break;
            default:
                request.Headers.Add("Cookie", $"tenant_token={Uri.EscapeDataString(token)}");
                break;
        }

        return request;
    }

    private static HttpRequestMessage Get(Random random, string token, string path) =>
        WithToken(new HttpRequestMessage(HttpMethod.Get, path), random, token);

    private static HttpRequestMessage Post(Random random, string token, string path, object body) =>
        WithToken(new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) }, random, token);
}

/// <summary>One kind of request.</summary>
/// <param name="Name">What the report calls it.</param>
/// <param name="Weight">How often it is sent, relative to the others.</param>
/// <param name="Expected">The only status it may get.</param>
/// <param name="Create">Makes one request.</param>
internal sealed record Operation(string Name, int Weight, HttpStatusCode Expected, Func<Random, HttpRequestMessage> Create);
