using System;
using System.Data;
using System.Data.Common;
using System.Diagnostics.CodeAnalysis;
using System.Threading;
using System.Threading.Tasks;
using MySqlConnector;

namespace TenantDbGuard.Core;

/// <summary>
/// The connection a helper hands to Dapper when its batch must start with the statement that selects the tenant's
/// database (see <see cref="PhysicalConnection.LendAsync"/>): the statement is put in front of the command's text when
/// the first command runs, below Dapper. Dapper keys its caches (and the code it generates for parameters) by the SQL
/// text it is given, which therefore stays the caller's, the same for every tenant.
/// </summary>
/// <remarks>Never leaves the runtime: it lives for one helper call, over the lease's connection object.</remarks>
internal sealed class LeadingStatementConnection(MySqlConnection inner, LeadingStatement leadingStatement) : DbConnection
{
    private LeadingStatement? _leadingStatement = leadingStatement;

    [AllowNull]
    public override string ConnectionString
    {
        get => inner.ConnectionString;
        set => throw new NotSupportedException();
    }

    public override string Database => inner.Database;

    public override string DataSource => inner.DataSource;

    public override string ServerVersion => inner.ServerVersion;

    public override ConnectionState State => inner.State;

    public override void ChangeDatabase(string databaseName) => throw new NotSupportedException();

    public override void Close() => inner.Close();

    public override void Open() => inner.Open();

    public override Task OpenAsync(CancellationToken cancellationToken) => inner.OpenAsync(cancellationToken);

    /// <summary>The statement the next command must start with, once; null afterwards.</summary>
    internal LeadingStatement? TakeLeadingStatement() => Interlocked.Exchange(ref _leadingStatement, null);

    protected override DbTransaction BeginDbTransaction(IsolationLevel isolationLevel) => throw new NotSupportedException();

    protected override DbCommand CreateDbCommand() => new LeadingStatementCommand(this, inner.CreateCommand());

    /// <summary>A command that puts its connection's leading statement in front of its text when it first runs.</summary>
    private sealed class LeadingStatementCommand(LeadingStatementConnection connection, MySqlCommand inner) : DbCommand
    {
        private string _text = string.Empty;

        [AllowNull]
        public override string CommandText
        {
            get => _text;
            set
            {
                _text = value ?? string.Empty;
                inner.CommandText = _text;
            }
        }

        public override int CommandTimeout
        {
            get => inner.CommandTimeout;
            set => inner.CommandTimeout = value;
        }

        public override CommandType CommandType
        {
            get => inner.CommandType;
            set => inner.CommandType = value;
        }

        public override bool DesignTimeVisible { get; set; }

        public override UpdateRowSource UpdatedRowSource
        {
            get => inner.UpdatedRowSource;
            set => inner.UpdatedRowSource = value;
        }

        protected override DbConnection? DbConnection
        {
            get => connection;
            set => throw new NotSupportedException();
        }

        protected override DbParameterCollection DbParameterCollection => inner.Parameters;

        protected override DbTransaction? DbTransaction
        {
            get => inner.Transaction;
            set => throw new NotSupportedException();
        }

        public override void Cancel() => inner.Cancel();

        public override int ExecuteNonQuery()
        {
            Lead();
            return inner.ExecuteNonQuery();
        }

        public override object? ExecuteScalar()
        {
            Lead();
            return inner.ExecuteScalar();
        }

        public override Task<int> ExecuteNonQueryAsync(CancellationToken cancellationToken)
        {
            Lead();
            return inner.ExecuteNonQueryAsync(cancellationToken);
        }

        public override Task<object?> ExecuteScalarAsync(CancellationToken cancellationToken)
        {
            Lead();
            return inner.ExecuteScalarAsync(cancellationToken);
        }

        public override void Prepare() => inner.Prepare();

        protected override DbParameter CreateDbParameter() => inner.CreateParameter();

        protected override DbDataReader ExecuteDbDataReader(CommandBehavior behavior)
        {
            Lead();
            return inner.ExecuteReader(behavior);
        }

        protected override async Task<DbDataReader> ExecuteDbDataReaderAsync(CommandBehavior behavior, CancellationToken cancellationToken)
        {
            Lead();
            return await inner.ExecuteReaderAsync(behavior, cancellationToken).ConfigureAwait(false);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }

        public override ValueTask DisposeAsync() => inner.DisposeAsync();

        /// <summary>Runs the leading statement in front of the text, in the same batch, the first time a command runs.</summary>
        private void Lead()
        {
            if (connection.TakeLeadingStatement() is { } statement)
            {
                inner.CommandText = statement.Before(_text);
            }
            else
            {
                inner.CommandText = _text;
            }
        }
    }
}
