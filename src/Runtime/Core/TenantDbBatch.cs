using System;
using System.Data;
using System.Data.Common;
using System.Threading;
using System.Threading.Tasks;
using MySqlConnector;

namespace TenantDbGuard.Core;

/// <summary>A batch of a <see cref="TenantDbConnection"/>, bound like <see cref="TenantDbCommand"/> to the lease of the moment.</summary>
internal sealed class TenantDbBatch : DbBatch
{
    private readonly MySqlBatch _inner = new();
    private TenantDbConnection? _connection;
    private TenantDbTransaction? _transaction;

    public override int Timeout
    {
        get => _inner.Timeout;
        set => _inner.Timeout = value;
    }

    protected override DbBatchCommandCollection DbBatchCommands => _inner.BatchCommands;

    protected override DbConnection? DbConnection
    {
        get => _connection;
        set => _connection = TenantDbCommand.Own(value);
    }

    protected override DbTransaction? DbTransaction
    {
        get => _transaction;
        set => _transaction = value as TenantDbTransaction ?? (value is null ? null : throw new ArgumentException("The transaction must come from a TenantDbConnection's BeginTransaction.", nameof(value)));
    }

    public override void Cancel()
    {
        if (_connection?.State == ConnectionState.Open)
        {
            _connection.Lease.CancelStatement();
        }
    }

    public override int ExecuteNonQuery()
    {
        Bind();
        return _inner.ExecuteNonQuery();
    }

    public override async Task<int> ExecuteNonQueryAsync(CancellationToken cancellationToken = default)
    {
        using var watch = StatementCancellation.Watch(Bind(), cancellationToken);
        try
        {
            return await _inner.ExecuteNonQueryAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception exception) when (StatementCancellation.IsCancellation(exception, cancellationToken))
        {
            throw StatementCancellation.Cancelled(exception, cancellationToken);
        }
    }

    public override object? ExecuteScalar()
    {
        Bind();
        return _inner.ExecuteScalar();
    }

    public override async Task<object?> ExecuteScalarAsync(CancellationToken cancellationToken = default)
    {
        using var watch = StatementCancellation.Watch(Bind(), cancellationToken);
        try
        {
            return await _inner.ExecuteScalarAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception exception) when (StatementCancellation.IsCancellation(exception, cancellationToken))
        {
            throw StatementCancellation.Cancelled(exception, cancellationToken);
        }
    }

    public override void Prepare()
    {
        Bind();
        _inner.Prepare();
    }

    public override Task PrepareAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Bind();
        return _inner.PrepareAsync(CancellationToken.None);
    }

    protected override DbBatchCommand CreateDbBatchCommand() => new MySqlBatchCommand();

    protected override DbDataReader ExecuteDbDataReader(CommandBehavior behavior)
    {
        var lease = Bind();
        return new TenantDbDataReader(_inner.ExecuteReader(behavior & ~CommandBehavior.CloseConnection), lease, ClosesWith(behavior));
    }

    protected override async Task<DbDataReader> ExecuteDbDataReaderAsync(CommandBehavior behavior, CancellationToken cancellationToken)
    {
        var lease = Bind();
        using var watch = StatementCancellation.Watch(lease, cancellationToken);
        try
        {
            var reader = await _inner.ExecuteReaderAsync(behavior & ~CommandBehavior.CloseConnection, CancellationToken.None).ConfigureAwait(false);
            return new TenantDbDataReader((MySqlDataReader)reader, lease, ClosesWith(behavior));
        }
        catch (Exception exception) when (StatementCancellation.IsCancellation(exception, cancellationToken))
        {
            throw StatementCancellation.Cancelled(exception, cancellationToken);
        }
    }

    public override void Dispose()
    {
        _inner.Dispose();
        base.Dispose();
    }

    private TenantDbConnection? ClosesWith(CommandBehavior behavior) =>
        (behavior & CommandBehavior.CloseConnection) != 0 ? _connection : null;

    private TenantConnectionLease Bind()
    {
        var connection = _connection ?? throw new InvalidOperationException("The batch has no connection: set DbBatch.Connection to an open TenantDbConnection.");
        var lease = connection.Lease;
        _inner.Connection = lease.Connection;
        _inner.Transaction = _transaction?.Inner;
        return lease;
    }
}
