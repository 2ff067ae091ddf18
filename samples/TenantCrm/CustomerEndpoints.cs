using System;
using System.Collections.Generic;
using System.Linq;
using System.Net.Mail;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using TenantDbGuard;

namespace TenantCrm;

/// <summary>
/// <c>GET /api/customers</c> (search and paging), <c>GET /api/customers/{id}</c> and <c>POST /api/customers</c>
/// (a customer, and optionally its first deal in the same transaction).
/// </summary>
internal static class CustomerEndpoints
{
    public const int MaxPage = 1000;
    public const int MaxPageSize = 100;
    public const int DefaultPageSize = 20;
    public const int MaxNameLength = 100;
    public const int MaxEmailLength = 254;
    public const int MaxPhoneLength = 32;
    public const int MaxSearchLength = 100;
    public const int MaxDealTitleLength = 200;
    public const decimal MaxDealAmount = 1_000_000_000m;

    private const string Columns = "id, name, email, phone, created_at AS CreatedAt";

    public static void MapCustomers(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/customers", ListAsync);
        routes.MapGet("/customers/{id:int}", GetAsync);
        routes.MapPost("/customers", CreateAsync);
    }

    private static async Task<IResult> ListAsync(Tenant tenant, TenantDatabase db, string? search, string? page, string? pageSize, CancellationToken ct)
    {
        var errors = new ValidationErrors();
        var text = errors.Text(nameof(search), search, MaxSearchLength);
        var pageNumber = errors.Number(nameof(page), page, 1, 1, MaxPage);
        var size = errors.Number(nameof(pageSize), pageSize, DefaultPageSize, 1, MaxPageSize);
        if (!errors.IsEmpty)
        {
            return errors.ToResult();
        }

        var filter = text is null ? "" : "WHERE name LIKE @pattern ESCAPE '!'";
        var parameters = new { pattern = $"%{EscapeLike(text)}%", take = size, skip = (pageNumber - 1) * size };
        var result = await db.WithTenantConnectionAsync(tenant.Key, async (connection, token) =>
        {
            var total = await connection.ExecuteScalarAsync<long>(new CommandDefinition($"SELECT COUNT(*) FROM customers {filter}", parameters, cancellationToken: token));
            var items = await connection.QueryAsync<Customer>(new CommandDefinition(
                $"SELECT {Columns} FROM customers {filter} ORDER BY name, id LIMIT @take OFFSET @skip", parameters, cancellationToken: token));
            return new CustomerPage(pageNumber, size, total, items.AsList());
        }, ct);
        return TypedResults.Ok(result);
    }

    private static async Task<IResult> GetAsync(Tenant tenant, TenantDatabase db, int id, CancellationToken ct)
    {
        var rows = await db.QueryTenantAsync<Customer>(tenant.Key, $"SELECT {Columns} FROM customers WHERE id = @id", new { id }, ct);
        return rows.Count == 0
            ? TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Unknown customer", detail: $"This tenant has no customer {id}.")
            : TypedResults.Ok(rows[0]);
    }

    private static async Task<IResult> CreateAsync(Tenant tenant, TenantDatabase db, NewCustomer request, CancellationToken ct)
    {
        var errors = new ValidationErrors();
        var customer = new
        {
            name = errors.Text("name", request.Name, MaxNameLength, required: true),
            email = Email(errors, request.Email),
            phone = Phone(errors, request.Phone),
        };
        var deal = request.Deal is null ? null : new
        {
            title = errors.Text("deal.title", request.Deal.Title, MaxDealTitleLength, required: true),
            amount = Amount(errors, request.Deal.Amount),
        };
        if (!errors.IsEmpty)
        {
            return errors.ToResult();
        }

        const string Insert = "INSERT INTO customers (name, email, phone) VALUES (@name, @email, @phone); SELECT LAST_INSERT_ID();";
        long id;
        if (deal is null)
        {
            id = await db.ExecuteScalarTenantAsync<long>(tenant.Key, Insert, customer, ct);
        }
        else
        {
            id = await db.WithTenantTransactionAsync(tenant.Key, async (connection, transaction, token) =>
            {
                var customerId = await connection.ExecuteScalarAsync<long>(new CommandDefinition(Insert, customer, transaction, cancellationToken: token));
                await connection.ExecuteAsync(new CommandDefinition(
                    "INSERT INTO deals (customer_id, title, stage, amount) VALUES (@customerId, @title, 'lead', @amount)",
                    new { customerId, deal.title, deal.amount },
                    transaction,
                    cancellationToken: token));
                return customerId;
            }, cancellationToken: ct);
        }

        var created = await db.QueryTenantAsync<Customer>(tenant.Key, $"SELECT {Columns} FROM customers WHERE id = @id", new { id }, ct);
        return TypedResults.Created($"/api/customers/{id}", created.Single());
    }

    private static string? Email(ValidationErrors errors, string? value)
    {
        var email = errors.Text("email", value, MaxEmailLength);
        if (email is not null
            && !(MailAddress.TryCreate(email, out var address) && address.Address == email && address.Host.Contains('.', StringComparison.Ordinal)))
        {
            errors.Add("email", "The email must be an address such as name@example.com.");
        }

        return email;
    }

    private static string? Phone(ValidationErrors errors, string? value)
    {
        var phone = errors.Text("phone", value, MaxPhoneLength);
        if (phone is not null && (!phone.All(c => char.IsAsciiDigit(c) || c is ' ' or '+' or '-' or '(' or ')' or '.') || phone.Count(char.IsAsciiDigit) < 5))
        {
            errors.Add("phone", "The phone must have at least 5 digits and only digits, spaces and + - ( ) .");
        }

        return phone;
    }

    private static decimal Amount(ValidationErrors errors, decimal? value)
    {
        if (value is not { } amount)
        {
            errors.Add("deal.amount", "The deal.amount is required.");
            return 0;
        }

        if (amount < 0 || amount > MaxDealAmount || decimal.Round(amount, 2) != amount)
        {
            errors.Add("deal.amount", $"The deal.amount must be from 0 to {MaxDealAmount:0} with at most two decimals.");
        }

        return amount;
    }

    private static string EscapeLike(string? text) =>
        text is null ? "" : text.Replace("!", "!!", StringComparison.Ordinal).Replace("%", "!%", StringComparison.Ordinal).Replace("_", "!_", StringComparison.Ordinal);

    /// <summary>A customer as the API shows it.</summary>
    internal sealed class Customer
    {
        public int Id { get; init; }

        public string Name { get; init; } = "";

        public string? Email { get; init; }

        public string? Phone { get; init; }

        public DateTime CreatedAt { get; init; }
    }

    /// <summary>One page of customers.</summary>
    internal sealed record CustomerPage(int Page, int PageSize, long Total, IReadOnlyList<Customer> Items);

    /// <summary>The body of <c>POST /api/customers</c>.</summary>
    internal sealed record NewCustomer(string? Name, string? Email, string? Phone, NewDeal? Deal);

    /// <summary>The first deal of a new customer.</summary>
    internal sealed record NewDeal(string? Title, decimal? Amount);
}
