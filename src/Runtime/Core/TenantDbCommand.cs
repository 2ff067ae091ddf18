using System;
using System.Data;
using System.Data.Common;
using System.Diagnostics.CodeAnalysis;
using System.Threading;
using System.Threading.Tasks;
using MySqlConnector;

namespace TenantDbGuard.Core;

/// <summary>
/// A command of a <see cref="TenantDbConnection"/>: a <see cref="MySqlCommand"/> bound, each time it runs, to the lease
/// its connection holds at that moment. Cancellation goes through the runtime, within the budget.
/// </summary>
internal sealed class TenantDbCommand : DbCommand
{
    private readonly MySqlCommand _inner = new();
    private TenantDbConnection? _connection;
    private TenantDbTransaction? _transaction;

    [AllowNull]
    public override string CommandText
    {
        get => _inner.CommandText;
        set => _inner.CommandText = value;
    }

    public override int CommandTimeout
    {
        get => _inner.CommandTimeout;
        set => _inner.CommandTimeout = value;
    }

    public override CommandType CommandType
    {
        get => _inner.CommandType;
        set => _inner.CommandType = value;
    }

    public override bool DesignTimeVisible
    {
        get => _inner.DesignTimeVisible;
        set => _inner.DesignTimeVisible = value;
    }

    public override UpdateRowSource UpdatedRowSource
    {
        get => _inner.UpdatedRowSource;
        set => _inner.UpdatedRowSource = value;
    }

    protected override DbConnection? DbConnection
    {
        get => _connection;
        set => _connection = Own(value);
    }

    protected override DbParameterCollection DbParameterCollection => _inner.Parameters;

    protected override DbTransaction? DbTransaction
    {
        get => _transaction;
        set => _transaction = OwnTransaction(value);
    }

    public override void Cancel() => CancelOn(_connection);

    public override int ExecuteNonQuery() =>
        StatementCancellation.RunStatement(Bind(), _inner, static inner => inner.ExecuteNonQuery());

    public override Task<int> ExecuteNonQueryAsync(CancellationToken cancellationToken) =>
        StatementCancellation.RunStatementAsync(
            Bind(), _inner, static inner => inner.ExecuteNonQueryAsync(CancellationToken.None), cancellationToken);

    public override object? ExecuteScalar() =>
        StatementCancellation.RunStatement(Bind(), _inner, static inner => inner.ExecuteScalar());

    public override Task<object?> ExecuteScalarAsync(CancellationToken cancellationToken) =>
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

    protected override DbParameter CreateDbParameter() => _inner.CreateParameter();

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
                await state.Inner.ExecuteReaderAsync(state.Behavior & ~CommandBehavior.CloseConnection, CancellationToken.None).ConfigureAwait(false), state.Lease, state.CloseWith)),
            cancellationToken);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inner.Dispose();
        }

        base.Dispose(disposing);
    }

    /// <summary>Checks a connection given to a command or batch: only a <see cref="TenantDbConnection"/> (or none).</summary>
    internal static TenantDbConnection? Own(DbConnection? connection) =>
        connection as TenantDbConnection ?? (connection is null ? null : throw new ArgumentException(
            "A TenantDbGuard command runs only on a TenantDbConnection (from TenantDatabase.ForTenant(key)).", nameof(connection)));

    /// <summary>Checks a transaction given to a command or batch: only a <see cref="TenantDbConnection"/>'s (or none).</summary>
    internal static TenantDbTransaction? OwnTransaction(DbTransaction? transaction) =>
        transaction as TenantDbTransaction ?? (transaction is null ? null : throw new ArgumentException(
            "The transaction must come from a TenantDbConnection's BeginTransaction.", nameof(transaction)));

    /// <summary>Cancels what runs on <paramref name="connection"/>'s lease, within the budget; nothing when it is closed.</summary>
    internal static void CancelOn(TenantDbConnection? connection)
    {
        if (connection?.State == ConnectionState.Open)
        {
            connection.Lease.CancelStatement();
        }
    }

    private TenantDbConnection? ClosesWith(CommandBehavior behavior) =>
        (behavior & CommandBehavior.CloseConnection) != 0 ? _connection : null;

    /// <summary>Puts the command on its connection's current lease (and the transaction's session).</summary>
    private TenantConnectionLease Bind()
    {
        var connection = _connection ?? throw new InvalidOperationException("The command has no connection: set DbCommand.Connection to an open TenantDbConnection.");
        var lease = connection.Lease;
        lease.NoteSql(_inner.CommandText, _inner.CommandType);
        _inner.Connection = lease.Connection;
        _inner.Transaction = _transaction?.Inner;
        return lease;
    }
}
