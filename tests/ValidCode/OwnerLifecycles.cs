using System;
using System.Data;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace ValidCode;

public sealed class GuardedOwner : IDisposable
{
    private readonly MySqlConnection _connection;
    private bool _disposed;

    public GuardedOwner(MySqlDataSource dataSource) => _connection = dataSource.OpenConnection();

    public int Count()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _connection.ExecuteScalar<int>("SELECT 1");
    }

    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            _connection.Dispose();
        }
    }
}

public sealed class ReopeningOwner : IAsyncDisposable
{
    private MySqlConnection? _connection;

    public async Task OpenAsync(MySqlDataSource dataSource, CancellationToken ct)
    {
        if (_connection is { State: ConnectionState.Open })
        {
            return;
        }

        if (_connection is not null)
        {
            await _connection.DisposeAsync().ConfigureAwait(false);
        }

        _connection = await dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (_connection is { } connection)
        {
            _connection = null;
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}

public sealed class TransactionOwner : IDisposable
{
    private readonly MySqlConnection _connection;
    private readonly MySqlTransaction _transaction;

    public TransactionOwner(MySqlDataSource dataSource)
    {
        _connection = dataSource.OpenConnection();
        try
        {
            _transaction = _connection.BeginTransaction();
        }
        catch
        {
            _connection.Dispose();
            throw;
        }
    }

    public void Commit() => _transaction.Commit();

    public void Dispose()
    {
        using (_connection)
        {
            _transaction.Dispose();
        }
    }
}

public sealed class ReopenAfterClose(TenantDataSources sources)
{
    public async Task<int> CloseThenNullConditionalAsync(string tenant, CancellationToken ct)
    {
        await using var connection = await sources.GetDataSource(tenant).OpenConnectionAsync(ct);
        var first = await connection.ExecuteScalarAsync<int>("SELECT 1");
        await connection.CloseAsync();
        await (connection?.OpenAsync(ct) ?? Task.CompletedTask);
        await using var transaction = await connection!.BeginTransactionAsync(ct);
        await transaction.CommitAsync(ct);
        return first;
    }

    public string ClosedAndReopenedByPattern(string tenant)
    {
        using var connection = sources.GetDataSource(tenant).OpenConnection();
        connection.Close();
        if (connection is { State: not ConnectionState.Open })
        {
            connection.Open();
        }

        return connection.ServerVersion;
    }

    public int DisposeTwiceGuarded(string tenant)
    {
        MySqlConnection? connection = sources.GetDataSource(tenant).OpenConnection();
        try
        {
            return connection.ExecuteScalar<int>("SELECT 1");
        }
        finally
        {
            connection.Dispose();
            connection = null;
        }
    }
}
