using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Runtime.CompilerServices;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Dapper;

namespace ValidCode;

/// <summary>Streams a tenant's customers without loading them all into memory.</summary>
public sealed class CustomerExport
{
    private readonly TenantDataSources _dataSources;

    public CustomerExport(TenantDataSources dataSources) => _dataSources = dataSources;

    public async IAsyncEnumerable<Customer> StreamAsync(string tenant, DateTime? createdSince, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var since = createdSince ?? DateTime.UnixEpoch;
        await using var conn = await _dataSources.GetDataSource(tenant).OpenConnectionAsync(cancellationToken);
        var rows = conn.QueryUnbufferedAsync<CustomerRecord>(
            "SELECT id AS Id, name AS Name, email AS Email, created_at AS CreatedAt FROM customers WHERE created_at >= @since ORDER BY id",
            new { since });
        await foreach (var row in rows.WithCancellation(cancellationToken))
        {
            if (string.IsNullOrEmpty(row.Email))
            {
                continue;
            }

            yield return new Customer(row.Id, row.Name, row.Email, row.CreatedAt);
        }
    }

    public async Task<int> WriteCsvAsync(string tenant, TextWriter writer, CancellationToken cancellationToken)
    {
        var count = 0;
        await writer.WriteLineAsync("id,name,email,created_at");
        await foreach (var customer in StreamAsync(tenant, null, cancellationToken))
        {
            var line = new StringBuilder()
                .Append(customer.Id.ToString(CultureInfo.InvariantCulture)).Append(',')
                .Append(Escape(customer.Name)).Append(',')
                .Append(Escape(customer.Email)).Append(',')
                .Append(customer.CreatedAt.ToString("O", CultureInfo.InvariantCulture));
            await writer.WriteLineAsync(line, cancellationToken);
            count++;
        }

        return count;
    }

    private static string Escape(string value) =>
        value.AsSpan().IndexOfAny(",\"\n") >= 0 ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : value;

    private sealed class CustomerRecord
    {
        public long Id { get; set; }

        public string Name { get; set; } = "";

        public string Email { get; set; } = "";

        public DateTime CreatedAt { get; set; }
    }
}
