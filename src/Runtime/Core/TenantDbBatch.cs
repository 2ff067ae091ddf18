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
        set => _transaction = TenantDbCommand.OwnTransaction(value);
    }

    public override void Cancel() => TenantDbCommand.CancelOn(_connection);

    public override int ExecuteNonQuery() =>
        StatementCancellation.RunStatement(Bind(), _inner, static inner => inner.ExecuteNonQuery());

    public override Task<int> ExecuteNonQueryAsync(CancellationToken cancellationToken = default) =>
        StatementCancellation.RunStatementAsync(
            Bind(), _inner, static inner => inner.ExecuteNonQueryAsync(CancellationToken.None), cancellationToken);

    public override object? ExecuteScalar() =>
        StatementCancellation.RunStatement(Bind(), _inner, static inner => inner.ExecuteScalar());

    public override Task<object?> ExecuteScalarAsync(CancellationToken cancellationToken = default) =>
        StatementCancellation.RunStatementAsync(
            Bind(), _inner, static inner => inner.ExecuteScalarAsync(CancellationToken.None), cancellationToken);

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
        return StatementCancellation.RunStatement(
            lease,
            (Inner: _inner, Lease: lease, Behavior: behavior, CloseWith: ClosesWith(behavior), Connection: _connection!),
            static state => state.Connection.NoteReader(new TenantDbDataReader(
                state.Inner.ExecuteReader(state.Behavior & ~CommandBehavior.CloseConnection), state.Lease, state.CloseWith)));
    }

    protected override Task<DbDataReader> ExecuteDbDataReaderAsync(CommandBehavior behavior, CancellationToken cancellationToken)
    {
        var lease = Bind();
        return StatementCancellation.RunStatementAsync(
            lease,
            (Inner: _inner, Lease: lease, Behavior: behavior, CloseWith: ClosesWith(behavior), Connection: _connection!),
            static async state => state.Connection.NoteReader(new TenantDbDataReader(
                (MySqlDataReader)await state.Inner.ExecuteReaderAsync(state.Behavior & ~CommandBehavior.CloseConnection, CancellationToken.None).ConfigureAwait(false), state.Lease, state.CloseWith)),
            cancellationToken);
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
        foreach (var command in _inner.BatchCommands)
        {
            lease.NoteSql(command.CommandText, command.CommandType);
        }

        _inner.Connection = lease.Connection;
        _inner.Transaction = _transaction?.Inner;
        return lease;
    }
}
