using System;
using System.Collections;
using System.Collections.ObjectModel;
using System.Data;
using System.Data.Common;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using MySqlConnector;

namespace TenantDbGuard.Core;

/// <summary>
/// A reader of a <see cref="TenantDbConnection"/>'s command: MySqlConnector's reader, whose asynchronous reads are
/// cancelled within the budget (see <see cref="StatementCancellation"/>), and which closes its connection, lease and
/// all, when it was run with <see cref="CommandBehavior.CloseConnection"/>.
/// </summary>
internal sealed class TenantDbDataReader : DbDataReader, IDbColumnSchemaGenerator
{
    private readonly MySqlDataReader _inner;
    private readonly TenantDbConnection? _closeWith;
    private readonly TenantConnectionLease _lease;
    private volatile bool _pastLastResult;

    public TenantDbDataReader(MySqlDataReader inner, TenantConnectionLease lease, TenantDbConnection? closeWith)
    {
        _inner = inner;
        _lease = lease;
        _closeWith = closeWith;
    }

    public override int Depth => _inner.Depth;

    public override int FieldCount => _inner.FieldCount;

    public override int VisibleFieldCount => _inner.VisibleFieldCount;

    public override bool HasRows => _inner.HasRows;

    public override bool IsClosed => _inner.IsClosed;

    public override int RecordsAffected => _inner.RecordsAffected;

    public override object this[int ordinal] => _inner[ordinal];

    public override object this[string name] => _inner[name];

    public override bool Read() => _inner.Read();

    public override Task<bool> ReadAsync(CancellationToken cancellationToken) =>
        StatementCancellation.RunAsync(_lease, _inner, static inner => inner.ReadAsync(CancellationToken.None), cancellationToken);

    /// <summary>The lease the reader's statement runs on.</summary>
    internal TenantConnectionLease Lease => _lease;

    public override bool NextResult() => Past(_inner.NextResult());

    public override async Task<bool> NextResultAsync(CancellationToken cancellationToken) =>
        Past(await StatementCancellation.RunAsync(_lease, _inner, static inner => inner.NextResultAsync(CancellationToken.None), cancellationToken).ConfigureAwait(false));

    /// <summary>
    /// Ends the driver's reader when <see cref="NextResult"/> said there is no more result and the reader was not
    /// disposed: its statement is over (nothing more comes from the server, and ending it sends nothing), but the
    /// driver's session still counts as querying until the reader is disposed, which would make the lease's end take
    /// it for a statement still on its way (killed and closed after the reset timeout instead of reset). Called when the
    /// lease ends; errors are the driver's to keep (the lease's end checks the session as usual).
    /// </summary>
    internal void EndIfPastLastResult()
    {
        if (!_pastLastResult || _inner.IsClosed)
        {
            return;
        }

        try
        {
            _inner.Dispose();
        }
        catch (Exception exception) when (exception is MySqlException or InvalidOperationException or IOException)
        {
            // The session failed meanwhile: the lease's end sees that and closes it.
        }
    }

    private bool Past(bool more)
    {
        if (!more)
        {
            _pastLastResult = true;
        }

        return more;
    }

    public override bool GetBoolean(int ordinal) => _inner.GetBoolean(ordinal);

    public override byte GetByte(int ordinal) => _inner.GetByte(ordinal);

    public override long GetBytes(int ordinal, long dataOffset, byte[]? buffer, int bufferOffset, int length) => _inner.GetBytes(ordinal, dataOffset, buffer, bufferOffset, length);

    public override char GetChar(int ordinal) => _inner.GetChar(ordinal);

    public override long GetChars(int ordinal, long dataOffset, char[]? buffer, int bufferOffset, int length) => _inner.GetChars(ordinal, dataOffset, buffer, bufferOffset, length);

    public override string GetDataTypeName(int ordinal) => _inner.GetDataTypeName(ordinal);

    public override DateTime GetDateTime(int ordinal) => _inner.GetDateTime(ordinal);

    public override decimal GetDecimal(int ordinal) => _inner.GetDecimal(ordinal);

    public override double GetDouble(int ordinal) => _inner.GetDouble(ordinal);

    public override Type GetFieldType(int ordinal) => _inner.GetFieldType(ordinal);

    public override float GetFloat(int ordinal) => _inner.GetFloat(ordinal);

    public override Guid GetGuid(int ordinal) => _inner.GetGuid(ordinal);

    public override short GetInt16(int ordinal) => _inner.GetInt16(ordinal);

    public override int GetInt32(int ordinal) => _inner.GetInt32(ordinal);

    public override long GetInt64(int ordinal) => _inner.GetInt64(ordinal);

    public override string GetName(int ordinal) => _inner.GetName(ordinal);

    public override int GetOrdinal(string name) => _inner.GetOrdinal(name);

    public override string GetString(int ordinal) => _inner.GetString(ordinal);

    public override object GetValue(int ordinal) => _inner.GetValue(ordinal);

    public override int GetValues(object[] values) => _inner.GetValues(values);

    public override bool IsDBNull(int ordinal) => _inner.IsDBNull(ordinal);

    public override Task<bool> IsDBNullAsync(int ordinal, CancellationToken cancellationToken) => _inner.IsDBNullAsync(ordinal, CancellationToken.None);

    public override T GetFieldValue<T>(int ordinal) => _inner.GetFieldValue<T>(ordinal);

    public override Task<T> GetFieldValueAsync<T>(int ordinal, CancellationToken cancellationToken) => _inner.GetFieldValueAsync<T>(ordinal, CancellationToken.None);

    public override Stream GetStream(int ordinal) => _inner.GetStream(ordinal);

    public override TextReader GetTextReader(int ordinal) => _inner.GetTextReader(ordinal);

    public override Type GetProviderSpecificFieldType(int ordinal) => _inner.GetProviderSpecificFieldType(ordinal);

    public override object GetProviderSpecificValue(int ordinal) => _inner.GetProviderSpecificValue(ordinal);

    public override int GetProviderSpecificValues(object[] values) => _inner.GetProviderSpecificValues(values);

    public override DataTable? GetSchemaTable() => _inner.GetSchemaTable();

    public ReadOnlyCollection<DbColumn> GetColumnSchema() => _inner.GetColumnSchema();

    public override IEnumerator GetEnumerator() => _inner.GetEnumerator();

    public override void Close()
    {
        try
        {
            _inner.Close();
        }
        finally
        {
            _closeWith?.CloseLease(_lease);
        }
    }

    public override async Task CloseAsync()
    {
        try
        {
            await _inner.CloseAsync().ConfigureAwait(false);
        }
        finally
        {
            _closeWith?.CloseLease(_lease);
        }
    }

    public override async ValueTask DisposeAsync()
    {
        try
        {
            await _inner.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            _closeWith?.CloseLease(_lease);
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Close();
        }

        base.Dispose(disposing);
    }
}
