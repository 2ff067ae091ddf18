// An NServiceBus-style outbox and saga persister: a storage session that either borrows the transport's connection
// or opens its own, an outbox transaction object that carries the connection to the pipeline, and async all the way.
using System;
using System.Collections.Generic;
using System.Data.Common;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace Corpus.Outbox;

/// <summary>What the pipeline receives: the connection and its transaction, disposed together when the message is done.</summary>
public sealed class OutboxTransaction : IAsyncDisposable
{
    public OutboxTransaction(MySqlConnection connection, MySqlTransaction transaction)
    {
        Connection = connection;
        Transaction = transaction;
    }

    public MySqlConnection Connection { get; }

    public MySqlTransaction Transaction { get; }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Transaction.DisposeAsync();
        }
        finally
        {
            await Connection.DisposeAsync();
        }
    }
}

/// <summary>A plain pair the caller unpacks; it releases nothing itself.</summary>
public sealed record ConnectionAndTransaction(MySqlConnection Connection, MySqlTransaction Transaction);

public sealed class OutboxPersister
{
    private readonly MySqlDataSource _dataSource;
    private readonly MySqlConnection? _transportConnection;

    public OutboxPersister(MySqlDataSource dataSource, MySqlConnection? transportConnection = null)
    {
        _dataSource = dataSource;
        _transportConnection = transportConnection;
    }

    // shape clean: begin hands the connection and transaction to the caller inside the owning outbox transaction
    public async Task<OutboxTransaction> BeginTransactionAsync(CancellationToken cancellationToken)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        try
        {
            var transaction = await connection.BeginTransactionAsync(cancellationToken);
            return new OutboxTransaction(connection, transaction);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    // shape clean: a plain record handed to the caller carries the connection out
    public async Task<ConnectionAndTransaction> BeginRawAsync(CancellationToken cancellationToken)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        try
        {
            return new ConnectionAndTransaction(connection, await connection.BeginTransactionAsync(cancellationToken));
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    // shape clean: the transport's connection when there is one, else our own, released only when it is ours
    public async Task StoreAsync(string messageId, string operations, CancellationToken cancellationToken)
    {
        var connection = _transportConnection ?? await _dataSource.OpenConnectionAsync(cancellationToken);
        try
        {
            await connection.ExecuteAsync("insert into OutboxData (MessageId, Operations) values (@messageId, @operations)", new { messageId, operations });
        }
        finally
        {
            if (_transportConnection is null)
            {
                await connection.DisposeAsync();
            }
        }
    }

    // shape leak: the ownership test is the wrong way round, so our own connection is never released
    public async Task SetAsDispatchedAsync(string messageId, CancellationToken cancellationToken)
    {
        var connection = _transportConnection ?? await _dataSource.OpenConnectionAsync(cancellationToken); // expect TDG001: 'connection' is not released on the path that leaves the method after line @+3
        try
        {
            await connection.ExecuteAsync("update OutboxData set Dispatched = 1 where MessageId = @messageId", new { messageId });
        }
        finally
        {
            if (_transportConnection is not null)
            {
                await connection.DisposeAsync();
            }
        }
    }

    // shape leak: the message is loaded with an unprotected connection and the catch swallows without releasing
    public async Task<string?> GetAsync(string messageId, CancellationToken cancellationToken)
    {
        try
        {
            var connection = await _dataSource.OpenConnectionAsync(cancellationToken); // expect TDG001: 'connection' is not released on the path that returns at line @+7
            var operations = await connection.QuerySingleOrDefaultAsync<string>("select Operations from OutboxData where MessageId = @messageId", new { messageId });
            await connection.DisposeAsync();
            return operations;
        }
        catch (MySqlException)
        {
            return null;
        }
    }

    // shape clean: cleanup in a using statement with a cancellation-aware loop
    public async Task<int> RemoveDispatchedAsync(DateTime before, CancellationToken cancellationToken)
    {
        var total = 0;
        await using (var connection = await _dataSource.OpenConnectionAsync(cancellationToken))
        {
            int removed;
            do
            {
                cancellationToken.ThrowIfCancellationRequested();
                removed = await connection.ExecuteAsync("delete from OutboxData where Dispatched = 1 and DispatchedAt < @before limit 1000", new { before });
                total += removed;
            }
            while (removed > 0);
        }

        return total;
    }
}

public sealed class SagaPersister
{
    private readonly MySqlDataSource _dataSource;

    public SagaPersister(MySqlDataSource dataSource) => _dataSource = dataSource;

    // shape leak: two sagas loaded in parallel, the first connection lost when the second open fails
    public async Task<(string? Order, string? Shipment)> LoadBothAsync(Guid orderId, CancellationToken cancellationToken)
    {
        var orders = await _dataSource.OpenConnectionAsync(cancellationToken); // expect TDG001: 'orders' is not released if an exception is thrown at line @+1
        var shipments = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using (orders)
        await using (shipments)
        {
            var order = await orders.QuerySingleOrDefaultAsync<string>("select Data from OrderSaga where Id = @orderId", new { orderId });
            var shipment = await shipments.QuerySingleOrDefaultAsync<string>("select Data from ShipmentSaga where OrderId = @orderId", new { orderId });
            return (order, shipment);
        }
    }

    // shape clean: the pair from BeginRawAsync is unpacked and both parts disposed
    public async Task CompleteAsync(OutboxPersister persister, Guid sagaId, CancellationToken cancellationToken)
    {
        var (connection, transaction) = await persister.BeginRawAsync(cancellationToken);
        await using (connection)
        await using (transaction)
        {
            await connection.ExecuteAsync("delete from OrderSaga where Id = @sagaId", new { sagaId }, transaction);
            await transaction.CommitAsync(cancellationToken);
        }
    }
}
