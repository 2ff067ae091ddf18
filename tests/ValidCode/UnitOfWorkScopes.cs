using System;
using System.Data;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace ValidCode;

/// <summary>A unit of work that holds a connection and a transaction; both are released on every path.</summary>
public sealed class TenantUnitOfWork : IAsyncDisposable
{
    private readonly MySqlConnection _connection;
    private readonly MySqlTransaction _transaction;
    private bool _completed;

    private TenantUnitOfWork(MySqlConnection connection, MySqlTransaction transaction)
    {
        _connection = connection;
        _transaction = transaction;
    }

    public static async Task<TenantUnitOfWork> BeginAsync(MySqlDataSource dataSource, CancellationToken ct)
    {
        var connection = await dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);
        try
        {
            var transaction = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, ct)
                .ConfigureAwait(false);
            return new TenantUnitOfWork(connection, transaction);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public Task<int> ExecuteAsync(string sql, object? parameters = null) =>
        _connection.ExecuteAsync(sql, parameters, _transaction);

    public async Task CommitAsync(CancellationToken ct)
    {
        await _transaction.CommitAsync(ct).ConfigureAwait(false);
        _completed = true;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_completed)
            {
                await _transaction.RollbackAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            await _transaction.DisposeAsync().ConfigureAwait(false);
            await _connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}

public sealed class UnitOfWorkUsers(TenantDataSources sources)
{
    public async Task RenameAsync(string tenant, long id, string name, CancellationToken ct)
    {
        await using var work = await TenantUnitOfWork.BeginAsync(sources.GetDataSource(tenant), ct)
            .ConfigureAwait(false);
        await work.ExecuteAsync("UPDATE customers SET name = @name WHERE id = @id", new { id, name })
            .ConfigureAwait(false);
        await work.CommitAsync(ct).ConfigureAwait(false);
    }

    public void OpenInto(string tenant, ref MySqlConnection? connection)
    {
        connection?.Dispose();
        connection = sources.GetDataSource(tenant).OpenConnection();
    }

    public int CountWithRef(string tenant)
    {
        MySqlConnection? connection = null;
        try
        {
            OpenInto(tenant, ref connection);
            return connection!.ExecuteScalar<int>("SELECT COUNT(*) FROM orders");
        }
        finally
        {
            connection?.Dispose();
        }
    }

    public async Task<int> RethrowingAsync(string tenant, CancellationToken ct)
    {
        var connection = await sources.GetDataSource(tenant).OpenConnectionAsync(ct).ConfigureAwait(false);
        try
        {
            try
            {
                return await connection.ExecuteAsync("UPDATE stats SET hits = hits + 1").ConfigureAwait(false);
            }
            catch (MySqlException e) when (e.ErrorCode == MySqlErrorCode.LockDeadlock)
            {
                return await connection.ExecuteAsync("UPDATE stats SET hits = hits + 1").ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                throw;
            }
        }
        finally
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}
