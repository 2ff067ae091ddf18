using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace ValidCode;

public sealed record OrderLine(long Id, long OrderId, string Sku, int Quantity);

public sealed record OrderHeader(long Id, long CustomerId, decimal Total)
{
    public CustomerRow? Customer { get; set; }
}

public sealed record CustomerRow(long Id, string Name);

public sealed record OrderDetails(OrderHeader Header, IReadOnlyList<OrderLine> Lines);

public sealed class OrderDetailsQueries(TenantDataSources sources)
{
    public async Task<OrderDetails?> FindAsync(string tenant, long id, CancellationToken ct)
    {
        await using var connection = await sources.GetDataSource(tenant).OpenConnectionAsync(ct).ConfigureAwait(false);
        await using var grid = await connection.QueryMultipleAsync(
            "SELECT id, customer_id AS CustomerId, total FROM orders WHERE id = @id;" +
            "SELECT id, order_id AS OrderId, sku, quantity FROM order_lines WHERE order_id = @id",
            new { id }).ConfigureAwait(false);
        var header = await grid.ReadSingleOrDefaultAsync<OrderHeader>().ConfigureAwait(false);
        if (header is null)
        {
            return null;
        }

        var lines = (await grid.ReadAsync<OrderLine>().ConfigureAwait(false)).ToList();
        return new OrderDetails(header, lines);
    }

    public IReadOnlyList<OrderHeader> WithCustomers(string tenant)
    {
        using var connection = sources.GetDataSource(tenant).OpenConnection();
        return connection.Query<OrderHeader, CustomerRow, OrderHeader>(
            "SELECT o.id, o.customer_id AS CustomerId, o.total, c.id, c.name FROM orders o " +
            "JOIN customers c ON c.id = o.customer_id",
            (order, customer) =>
            {
                order.Customer = customer;
                return order;
            },
            splitOn: "id").AsList();
    }

    public (int Orders, int Lines) Counts(string tenant)
    {
        var connection = sources.GetDataSource(tenant).OpenConnection();
        try
        {
            using var grid = connection.QueryMultiple("SELECT COUNT(*) FROM orders; SELECT COUNT(*) FROM order_lines");
            return (grid.ReadSingle<int>(), grid.ReadSingle<int>());
        }
        finally
        {
            connection.Dispose();
        }
    }
}
