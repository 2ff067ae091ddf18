using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;

namespace ValidCode;

public sealed record OrderSummary(DateOnly Day, int Orders, decimal Revenue);

public enum OrderStatus
{
    Pending,
    Paid,
    Shipped,
    Cancelled,
}

public sealed class OrderService
{
    private readonly TenantPools _pools;

    public OrderService(TenantPools pools) => _pools = pools;

    public async Task<IReadOnlyList<OrderSummary>> GetDailySummaryAsync(string tenant, int days, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(days);
        var since = DateTime.UtcNow.Date.AddDays(-days);

        PooledConnection? c = null;
        try
        {
            c = await _pools.For(tenant).GetConnectionAsync(cancellationToken);
            var rows = await c.QueryAsync<OrderRow>(
                "SELECT created_at AS CreatedAt, total AS Total, status AS Status FROM orders WHERE created_at >= @since",
                new { since },
                cancellationToken);

            return rows
                .Where(r => r.Status != (int)OrderStatus.Cancelled)
                .GroupBy(r => DateOnly.FromDateTime(r.CreatedAt))
                .Select(g => new OrderSummary(g.Key, g.Count(), g.Sum(r => r.Total)))
                .OrderBy(s => s.Day)
                .ToList();
        }
        finally
        {
            c?.Release();
        }
    }

    public async Task<bool> MarkShippedAsync(string tenant, long orderId, CancellationToken cancellationToken)
    {
        var pool = _pools.For(tenant);
        var c = await pool.GetConnectionAsync(cancellationToken);
        try
        {
            var changed = await c.ExecuteAsync(
                "UPDATE orders SET status = @shipped WHERE id = @orderId AND status = @paid",
                new { orderId, shipped = (int)OrderStatus.Shipped, paid = (int)OrderStatus.Paid },
                cancellationToken);
            return changed == 1;
        }
        finally
        {
            pool.Release(c);
        }
    }

    public async Task CancelAsync(string tenant, IReadOnlyCollection<long> orderIds, CancellationToken cancellationToken)
    {
        if (orderIds.Count == 0)
        {
            return;
        }

        var c = await _pools.For(tenant).GetConnectionAsync(cancellationToken);
        try
        {
            foreach (var id in orderIds.Distinct())
            {
                await c.ExecuteAsync("UPDATE orders SET status = @cancelled WHERE id = @id", new { id, cancelled = (int)OrderStatus.Cancelled }, cancellationToken);
            }
        }
        finally
        {
            c.Release();
        }
    }

    private sealed class OrderRow
    {
        public DateTime CreatedAt { get; set; }

        public decimal Total { get; set; }

        public int Status { get; set; }
    }
}
