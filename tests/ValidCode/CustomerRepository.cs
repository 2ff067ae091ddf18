using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Dapper;

namespace ValidCode;

public sealed record Customer(long Id, string Name, string Email, DateTime CreatedAt);

public sealed class CustomerRepository
{
    private const int MaxPageSize = 200;
    private readonly TenantDataSources _dataSources;

    public CustomerRepository(TenantDataSources dataSources) => _dataSources = dataSources;

    public async Task<IReadOnlyList<Customer>> SearchAsync(string tenant, string? nameFilter, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        limit = Math.Min(limit, MaxPageSize);
        var pattern = string.IsNullOrWhiteSpace(nameFilter) ? "%" : "%" + nameFilter.Trim() + "%";

        var ds = _dataSources.GetDataSource(tenant);
        await using var conn = await ds.OpenConnectionAsync(cancellationToken);
        var rows = await conn.QueryAsync<CustomerRow>(new CommandDefinition(
            "SELECT id, name, email, created_at FROM customers WHERE name LIKE @pattern ORDER BY name LIMIT @limit",
            new { pattern, limit },
            cancellationToken: cancellationToken));
        return rows.Select(Map).ToList();
    }

    public async Task<Customer?> FindAsync(string tenant, long id, CancellationToken cancellationToken)
    {
        if (id <= 0)
        {
            return null;
        }

        await using var conn = await _dataSources.GetDataSource(tenant).OpenConnectionAsync(cancellationToken);
        var row = await conn.QuerySingleOrDefaultAsync<CustomerRow>(new CommandDefinition(
            "SELECT id, name, email, created_at FROM customers WHERE id = @id",
            new { id },
            cancellationToken: cancellationToken));
        if (row is null)
        {
            return null;
        }

        return Map(row);
    }

    public async Task<long> InsertAsync(string tenant, string name, string email, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (!email.Contains('@', StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{email}' is not an e-mail address.", nameof(email));
        }

        await using var conn = await _dataSources.GetDataSource(tenant).OpenConnectionAsync(cancellationToken);
        return await conn.ExecuteScalarAsync<long>(new CommandDefinition(
            "INSERT INTO customers (name, email, created_at) VALUES (@name, @email, UTC_TIMESTAMP()); SELECT LAST_INSERT_ID();",
            new { name = name.Trim(), email = email.Trim().ToLowerInvariant() },
            cancellationToken: cancellationToken));
    }

    public async Task<IReadOnlyDictionary<string, int>> CountByDomainAsync(string tenant, CancellationToken cancellationToken)
    {
        IEnumerable<string> emails;
        await using (var conn = await _dataSources.GetDataSource(tenant).OpenConnectionAsync(cancellationToken).ConfigureAwait(false))
        {
            emails = await conn.QueryAsync<string>(new CommandDefinition("SELECT email FROM customers", cancellationToken: cancellationToken)).ConfigureAwait(false);
        }

        return emails
            .Select(e => e[(e.IndexOf('@', StringComparison.Ordinal) + 1)..])
            .GroupBy(domain => domain, StringComparer.OrdinalIgnoreCase)
            .ToDictionary(g => g.Key, g => g.Count(), StringComparer.OrdinalIgnoreCase);
    }

    private static Customer Map(CustomerRow row) =>
        new(row.id, row.name, row.email, DateTime.SpecifyKind(row.created_at, DateTimeKind.Utc));

    // Column names as they come back from the database.
#pragma warning disable IDE1006
    private sealed record CustomerRow(long id, string name, string email, DateTime created_at);
#pragma warning restore IDE1006
}
