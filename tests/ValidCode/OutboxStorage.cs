using System;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace ValidCode;

/// <summary>A tenant and the lease it runs on, passed around as one value.</summary>
public sealed record TenantWork(TenantLease Lease, string Tenant);

/// <summary>
/// An outbox that runs on the caller's connection when it is given one and on its own otherwise, a session that
/// opens lazily, a retry that replaces a broken connection, and a pool-clearing entry point for the host.
/// </summary>
public sealed class OutboxStorage
{
    private readonly MySqlDataSource _dataSource;
    private readonly MySqlConnection? _transportConnection;

    public OutboxStorage(MySqlDataSource dataSource, MySqlConnection? transportConnection = null)
    {
        _dataSource = dataSource;
        _transportConnection = transportConnection;
    }

    /// <summary>Stores a message; releases the connection only when it opened it.</summary>
    public async Task StoreAsync(string messageId, string body, CancellationToken cancellationToken)
    {
        var connection = _transportConnection ?? await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await connection.ExecuteAsync(new CommandDefinition(
                "insert into outbox (message_id, body) values (@messageId, @body)",
                new { messageId, body },
                cancellationToken: cancellationToken)).ConfigureAwait(false);
        }
        finally
        {
            if (_transportConnection is null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Marks dispatched messages, replacing the connection after a transient failure.</summary>
    public async Task<int> MarkDispatchedAsync(CancellationToken cancellationToken)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    return await connection.ExecuteAsync(new CommandDefinition("update outbox set dispatched = 1 where dispatched = 0", cancellationToken: cancellationToken)).ConfigureAwait(false);
                }
                catch (MySqlException ex) when (ex.IsTransient && attempt < 3)
                {
                    await connection.DisposeAsync().ConfigureAwait(false);
                    await Task.Delay(TimeSpan.FromMilliseconds(100 * attempt), cancellationToken).ConfigureAwait(false);
                    connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Runs work for a tenant with the lease carried in a record, given back through it.</summary>
    public static async Task<int> CountForTenantAsync(TenantDatabase database, string tenant, CancellationToken cancellationToken)
    {
        var work = new TenantWork(await database.GetConnectionAsync(tenant, cancellationToken).ConfigureAwait(false), tenant);
        try
        {
            return await work.Lease.Connection.ExecuteScalarAsync<int>(new CommandDefinition("select count(*) from outbox", cancellationToken: cancellationToken)).ConfigureAwait(false);
        }
        finally
        {
            await work.Lease.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Empties every pool of the process; for the host's shutdown.</summary>
    public static void ClearAllPools() => MySqlConnection.ClearAllPools();
}

/// <summary>A session that opens its connection on first use and owns it unless it was given one.</summary>
public sealed class OutboxSession : IAsyncDisposable
{
    private readonly MySqlDataSource _dataSource;
    private MySqlConnection? _connection;

    public OutboxSession(MySqlDataSource dataSource, MySqlConnection? external = null)
    {
        _dataSource = dataSource;
        _connection = external;
        IsExternallyOwned = external is not null;
    }

    public bool IsExternallyOwned { get; }

    public async Task<MySqlConnection> ConnectionAsync(CancellationToken cancellationToken) =>
        _connection ??= await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);

    public async ValueTask DisposeAsync()
    {
        if (!IsExternallyOwned && _connection is not null)
        {
            await _connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}
