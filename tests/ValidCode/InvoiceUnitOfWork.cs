using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace ValidCode;

/// <summary>
/// Opens its connection and transaction on first use and keeps them until it is committed and disposed.
/// </summary>
public sealed class InvoiceUnitOfWork : IAsyncDisposable
{
    private readonly MySqlDataSource _dataSource;
    private MySqlConnection? _connection;
    private MySqlTransaction? _transaction;
    private bool _committed;

    public InvoiceUnitOfWork(MySqlDataSource dataSource) => _dataSource = dataSource;

    public async Task<int> ExecuteAsync(string sql, object? param, CancellationToken cancellationToken)
    {
        var transaction = await EnsureTransactionAsync(cancellationToken);
        return await transaction.Connection!.ExecuteAsync(new CommandDefinition(sql, param, transaction, cancellationToken: cancellationToken));
    }

    public async Task<T?> QuerySingleAsync<T>(string sql, object? param, CancellationToken cancellationToken)
    {
        var transaction = await EnsureTransactionAsync(cancellationToken);
        return await transaction.Connection!.QuerySingleOrDefaultAsync<T>(new CommandDefinition(sql, param, transaction, cancellationToken: cancellationToken));
    }

    public async Task CommitAsync(CancellationToken cancellationToken)
    {
        if (_transaction is null)
        {
            return;
        }

        await _transaction.CommitAsync(cancellationToken);
        _committed = true;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_transaction is not null)
            {
                if (!_committed)
                {
                    await _transaction.RollbackAsync();
                }

                await _transaction.DisposeAsync();
            }
        }
        finally
        {
            if (_connection is not null)
            {
                await _connection.DisposeAsync();
            }

            _transaction = null;
            _connection = null;
        }
    }

    private async ValueTask<MySqlTransaction> EnsureTransactionAsync(CancellationToken cancellationToken)
    {
        if (_transaction is not null)
        {
            return _transaction;
        }

        _connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        _transaction = await _connection.BeginTransactionAsync(cancellationToken);
        return _transaction;
    }
}

public sealed record InvoiceLine(string Sku, int Quantity, decimal UnitPrice)
{
    public decimal Total => Quantity * UnitPrice;
}

public sealed class InvoiceService
{
    private readonly TenantDataSources _dataSources;

    public InvoiceService(TenantDataSources dataSources) => _dataSources = dataSources;

    public async Task<long> CreateInvoiceAsync(string tenant, long customerId, IReadOnlyList<InvoiceLine> lines, CancellationToken cancellationToken)
    {
        if (lines.Count == 0 || lines.Any(l => l.Quantity <= 0 || l.UnitPrice < 0))
        {
            throw new ArgumentException("An invoice needs at least one line with a positive quantity and a price.", nameof(lines));
        }

        await using var unitOfWork = new InvoiceUnitOfWork(_dataSources.GetDataSource(tenant));
        var invoiceId = await unitOfWork.QuerySingleAsync<long>(
            "INSERT INTO invoices (customer_id, total, created_at) VALUES (@customerId, @total, UTC_TIMESTAMP()); SELECT LAST_INSERT_ID();",
            new { customerId, total = lines.Sum(l => l.Total) },
            cancellationToken);
        foreach (var line in lines)
        {
            await unitOfWork.ExecuteAsync(
                "INSERT INTO invoice_lines (invoice_id, sku, quantity, unit_price) VALUES (@invoiceId, @Sku, @Quantity, @UnitPrice)",
                new { invoiceId, line.Sku, line.Quantity, line.UnitPrice },
                cancellationToken);
        }

        await unitOfWork.CommitAsync(cancellationToken);
        return invoiceId;
    }
}
