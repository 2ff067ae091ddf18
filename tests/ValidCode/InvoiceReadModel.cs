using System;
using System.Collections.Generic;
using System.Data;
using System.Data.Common;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;
using MySqlConnector;

namespace ValidCode;

/// <summary>
/// Read-side code that spreads connection handling over helpers: a method that opens and returns the connection, a
/// reader that owns its connection, an iterator that streams rows, and the helpers that close quietly.
/// </summary>
public sealed class InvoiceReadModel
{
    private readonly MySqlDataSource _dataSource;

    public InvoiceReadModel(MySqlDataSource dataSource)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        _dataSource = dataSource;
    }

    /// <summary>Opens a connection on the tenant's database; the caller owns it.</summary>
    public async Task<MySqlConnection> OpenTenantConnectionAsync(string database, CancellationToken cancellationToken)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await connection.ChangeDatabaseAsync(database, cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public async Task<long> CountAsync(string database, CancellationToken cancellationToken)
    {
        await using var connection = await OpenTenantConnectionAsync(database, cancellationToken).ConfigureAwait(false);
        await using var command = new MySqlCommand("SELECT COUNT(*) FROM invoices", connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false));
    }

    /// <summary>A reader that closes its connection when the caller disposes it.</summary>
    public async Task<DbDataReader> OpenInvoiceReaderAsync(string database, CancellationToken cancellationToken)
    {
        var connection = await OpenTenantConnectionAsync(database, cancellationToken).ConfigureAwait(false);
        try
        {
            var command = new MySqlCommand("SELECT id, total FROM invoices ORDER BY id", connection);
            return await command.ExecuteReaderAsync(CommandBehavior.CloseConnection, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public async Task<decimal> TotalAsync(string database, CancellationToken cancellationToken)
    {
        await using var reader = await OpenInvoiceReaderAsync(database, cancellationToken).ConfigureAwait(false);
        decimal total = 0;
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            total += reader.GetDecimal(1);
        }

        return total;
    }

    /// <summary>Streams the ids; the connection stays open between rows and closes when the enumeration ends.</summary>
    public async IAsyncEnumerable<long> StreamIdsAsync(string database, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenTenantConnectionAsync(database, cancellationToken).ConfigureAwait(false);
        await using var command = new MySqlCommand("SELECT id FROM invoices ORDER BY id", connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return reader.GetInt64(0);
        }
    }

    public async Task<long?> FirstIdAsync(string database, CancellationToken cancellationToken)
    {
        var enumerator = StreamIdsAsync(database, cancellationToken).GetAsyncEnumerator(cancellationToken);
        await using (enumerator.ConfigureAwait(false))
        {
            return await enumerator.MoveNextAsync().ConfigureAwait(false) ? enumerator.Current : null;
        }
    }

    public async Task<List<long>> AllIdsAsync(string database, CancellationToken cancellationToken)
    {
        var ids = new List<long>();
        await foreach (var id in StreamIdsAsync(database, cancellationToken).ConfigureAwait(false))
        {
            ids.Add(id);
        }

        return ids;
    }

    /// <summary>Old code kept for a batch job: closes in a helper that never throws.</summary>
    public int CountOpenInvoices(string connectionString)
    {
        var connection = new MySqlConnection(connectionString);
        try
        {
            connection.Open();
            using var command = new MySqlCommand("SELECT COUNT(*) FROM invoices WHERE paid = 0", connection);
            return Convert.ToInt32(command.ExecuteScalar());
        }
        finally
        {
            CloseQuietly(connection);
        }
    }

    public bool TryOpen(string connectionString, out MySqlConnection? connection)
    {
        connection = new MySqlConnection(connectionString);
        try
        {
            connection.Open();
            return true;
        }
        catch (MySqlException)
        {
            connection.Dispose();
            connection = null;
            return false;
        }
    }

    public int CountIfReachable(string connectionString)
    {
        if (!TryOpen(connectionString, out var connection) || connection is null)
        {
            return -1;
        }

        using (connection)
        {
            using var command = new MySqlCommand("SELECT COUNT(*) FROM invoices", connection);
            return Convert.ToInt32(command.ExecuteScalar());
        }
    }

    private static void CloseQuietly(MySqlConnection connection)
    {
        try
        {
            connection.Dispose();
        }
        catch (MySqlException)
        {
            // Already broken: nothing left to give back.
        }
    }
}

/// <summary>A unit of work that owns one connection and one transaction for its lifetime.</summary>
public sealed class InvoiceUnitOfWorkSession : IAsyncDisposable
{
    private readonly MySqlConnection _connection;
    private readonly MySqlTransaction _transaction;
    private int _disposed;

    private InvoiceUnitOfWorkSession(MySqlConnection connection, MySqlTransaction transaction)
    {
        _connection = connection;
        _transaction = transaction;
    }

    public MySqlConnection Connection => _connection;

    public MySqlTransaction Transaction => _transaction;

    public static async Task<InvoiceUnitOfWorkSession> BeginAsync(MySqlDataSource dataSource, CancellationToken cancellationToken)
    {
        var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            return new InvoiceUnitOfWorkSession(connection, transaction);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public Task CommitAsync(CancellationToken cancellationToken) => _transaction.CommitAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            await _transaction.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            await _connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>Keeps one connection open for a long import, and gives it back when disposed.</summary>
public sealed class ImportConnection : IDisposable
{
    private readonly MySqlConnection _connection;
    private bool _disposed;

    public ImportConnection(string connectionString)
    {
        _connection = new MySqlConnection(connectionString);
        _connection.Open();
    }

    public int Execute(string sql)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        using var command = new MySqlCommand(sql, _connection);
        return command.ExecuteNonQuery();
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _connection.Dispose();
    }
}
