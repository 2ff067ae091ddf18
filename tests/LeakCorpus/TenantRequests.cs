// Request handling in a multi-tenant service: lookups that return early, releases only in a catch, loops over
// tenants, connections handed to a repository, background work, and factories that open for their caller.
using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;
using Prelude;

namespace Corpus.Requests;

public sealed record Customer(int Id, string Name);

/// <summary>Owns the connection it is given and disposes it.</summary>
public sealed class CustomerRepository : IAsyncDisposable
{
    private readonly MySqlConnection _connection;

    public CustomerRepository(MySqlConnection connection) => _connection = connection;

    public Task<Customer?> FindAsync(int id) =>
        _connection.QuerySingleOrDefaultAsync<Customer>("select id, name from customers where id = @id", new { id });

    public ValueTask DisposeAsync() => _connection.DisposeAsync();
}

public sealed class CustomerEndpoints
{
    private readonly MySqlDataSource _dataSource;
    private readonly Pool _pool;
    private readonly LeasePool _leases;

    public CustomerEndpoints(MySqlDataSource dataSource, Pool pool, LeasePool leases)
    {
        _dataSource = dataSource;
        _pool = pool;
        _leases = leases;
    }

    // shape leak: returns early when the customer is missing, before the connection is disposed
    public async Task<Customer?> FindAsync(int id, CancellationToken cancellationToken)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken); // expect TDG001: 'connection' is not released on the path that returns at line @+4
        var exists = await connection.ExecuteScalarAsync<int>("select count(*) from customers where id = @id", new { id });
        if (exists == 0)
        {
            return null;
        }

        var customer = await connection.QuerySingleAsync<Customer>("select id, name from customers where id = @id", new { id });
        await connection.DisposeAsync();
        return customer;
    }

    // shape clean: the same lookup with await using
    public async Task<Customer?> FindSafelyAsync(int id, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        var exists = await connection.ExecuteScalarAsync<int>("select count(*) from customers where id = @id", new { id });
        if (exists == 0)
        {
            return null;
        }

        return await connection.QuerySingleAsync<Customer>("select id, name from customers where id = @id", new { id });
    }

    // shape leak: the lease goes back only when the statement fails
    public int Touch(int id)
    {
        var lease = _pool.GetConnection(); // expect TDG001: 'lease' is not released on the path that returns at line @+12
        int changed;
        try
        {
            changed = lease.Execute("update customers set touched_at = now() where id = " + id);
        }
        catch (Exception)
        {
            lease.Release();
            throw;
        }

        return changed;
    }

    // shape clean: released in finally, once
    public int TouchSafely(int id)
    {
        var lease = _pool.GetConnection();
        try
        {
            return lease.Execute("update customers set touched_at = now() where id = " + id);
        }
        finally
        {
            lease.Release();
        }
    }

    // shape leak: a lease taken and thrown away
    public async Task WarmUpAsync(CancellationToken cancellationToken)
    {
        await _pool.GetConnectionAsync(cancellationToken); // expect TDG001: The result of 'GetConnectionAsync' is not released because the result is discarded
    }

    // shape leak: a tenant skipped with continue after its lease was taken (the next tenant's lease replaces it)
    public void Recount(IReadOnlyList<string> tenants)
    {
        foreach (var tenant in tenants)
        {
            var lease = _pool.GetConnection(); // expect TDG001: 'lease' is not released when it is acquired again at line @
            if (tenant.Length == 0)
            {
                continue;
            }

            lease.Execute("update stats set customers = (select count(*) from customers)");
            lease.Release();
        }
    }

    // shape clean: a lease per tenant with using, continue and break
    public int RecountSafely(IReadOnlyList<string> tenants)
    {
        var done = 0;
        foreach (var tenant in tenants)
        {
            using var lease = _leases.GetConnection();
            if (tenant.Length == 0)
            {
                continue;
            }

            if (lease.Execute("update stats set customers = (select count(*) from customers)") < 0)
            {
                break;
            }

            done++;
        }

        return done;
    }

    // shape leak: the command is disposed, the connection it runs on is not
    public async Task<long> CountAsync(string connectionString, CancellationToken cancellationToken)
    {
        var connection = new MySqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken); // expect TDG001: 'connection' is not released on the path that returns at line @+2
        await using var command = new MySqlCommand("select count(*) from customers", connection);
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    // shape clean: the connection goes to a repository that owns and disposes it
    public async Task<Customer?> FindThroughRepositoryAsync(int id, CancellationToken cancellationToken)
    {
        await using var repository = new CustomerRepository(await _dataSource.OpenConnectionAsync(cancellationToken));
        return await repository.FindAsync(id);
    }

    // shape leak: background work that opens a connection and never disposes it
    public Task ScheduleCleanup(CancellationToken cancellationToken) =>
        Task.Run(async () =>
        {
            var connection = await _dataSource.OpenConnectionAsync(cancellationToken); // expect TDG001: 'connection' is not released on the path that leaves the method after line @+1
            await connection.ExecuteAsync("delete from sessions where expires_at < now()");
        }, cancellationToken);

    // shape clean: a transaction and its connection, both with await using
    public async Task RenameAsync(int id, string name, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await connection.ExecuteAsync("update customers set name = @name where id = @id", new { id, name }, transaction);
        await transaction.CommitAsync(cancellationToken);
    }

    // shape leak: a factory that hands its caller the connection, but loses it when the database switch fails
    public async Task<MySqlConnection> OpenTenantAsync(string database, CancellationToken cancellationToken)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken); // expect TDG001: 'connection' is not released if an exception is thrown at line @+1
        await connection.ChangeDatabaseAsync(database, cancellationToken);
        return connection;
    }

    // shape clean: the same factory, disposing the connection when the switch fails
    public async Task<MySqlConnection> OpenTenantSafelyAsync(string database, CancellationToken cancellationToken)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        try
        {
            await connection.ChangeDatabaseAsync(database, cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    // shape leak: released in one arm of a switch only
    public int Archive(string tier)
    {
        var lease = _pool.GetConnection(); // expect TDG001: 'lease' is not released on the path that returns at line @+9
        switch (tier)
        {
            case "gold":
                var kept = lease.Execute("insert into archive select * from orders");
                lease.Release();
                return kept;
            default:
                lease.Execute("delete from orders where created_at < now() - interval 1 year");
                return 0;
        }
    }
}
