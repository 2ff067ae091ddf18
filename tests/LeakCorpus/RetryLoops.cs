// Retry loops and loops over tenants: a connection replaced after a transient failure, a connection per tenant with
// continue and break, a pool lease retried with a back-off, and a polling worker.
using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;
using Prelude;

namespace Corpus.Retries;

public sealed class TenantJobs
{
    private readonly MySqlDataSource _dataSource;
    private readonly LeasePool _leases;
    private readonly Pool _pool;

    public TenantJobs(MySqlDataSource dataSource, LeasePool leases, Pool pool)
    {
        _dataSource = dataSource;
        _leases = leases;
        _pool = pool;
    }

    // shape clean: retry that disposes the broken connection, waits and opens a new one; finally disposes the current one
    public async Task<int> ArchiveAsync(CancellationToken cancellationToken)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        try
        {
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    return await connection.ExecuteAsync("insert into JobArchive select * from Job where Finished = 1");
                }
                catch (MySqlException ex) when (ex.IsTransient && attempt < 3)
                {
                    await connection.DisposeAsync();
                    await Task.Delay(TimeSpan.FromMilliseconds(200 * attempt), cancellationToken);
                    connection = await _dataSource.OpenConnectionAsync(cancellationToken);
                }
            }
        }
        finally
        {
            await connection.DisposeAsync();
        }
    }

    // shape leak: the retry opens a new connection without disposing the broken one
    public async Task<int> PurgeAsync(CancellationToken cancellationToken)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken); // expect TDG001: 'connection' is not released when 'connection' is overwritten at line @+12
        try
        {
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    return await connection.ExecuteAsync("delete from Job where Finished = 1");
                }
                catch (MySqlException ex) when (ex.IsTransient && attempt < 3)
                {
                    await Task.Delay(100, cancellationToken);
                    connection = await _dataSource.OpenConnectionAsync(cancellationToken); // expect TDG001: 'connection' is not released when it is acquired again at line @
                }
            }
        }
        finally
        {
            await connection.DisposeAsync();
        }
    }

    // shape clean: a connection per tenant in an await using inside the loop, with continue and break
    public async Task<int> CountAllAsync(IEnumerable<string> tenants, CancellationToken cancellationToken)
    {
        var total = 0;
        foreach (var tenant in tenants)
        {
            if (string.IsNullOrEmpty(tenant))
            {
                continue;
            }

            await using var lease = await _leases.GetConnectionAsync(tenant);
            var count = await lease.ExecuteAsync("select count(*) from Customer");
            if (count < 0)
            {
                break;
            }

            total += count;
        }

        return total;
    }

    // shape leak: a lease per tenant released at the end of the body, skipped by continue
    public async Task<int> RecalculateAsync(IEnumerable<string> tenants)
    {
        var done = 0;
        foreach (var tenant in tenants)
        {
            var lease = await _leases.GetConnectionAsync(tenant); // expect TDG001: 'lease' is not released when it is acquired again at line @
            if (await lease.ExecuteAsync("select count(*) from Invoice where Dirty = 1") == 0)
            {
                continue;
            }

            await lease.ExecuteAsync("call recalculate_invoices()");
            done++;
            await lease.DisposeAsync();
        }

        return done;
    }

    // shape leak: a pooled connection retried with a back-off, released twice when the retry's acquisition fails
    public int Heartbeat()
    {
        var connection = _pool.GetConnection();
        try
        {
            while (true)
            {
                try
                {
                    return connection.Execute("update Server set Heartbeat = now()");
                }
                catch (TimeoutException)
                {
                    connection.Release(); // expect TDG004: 'connection' is released at line @ and again in the 'finally' at line @+8
                    Thread.Sleep(50);
                    connection = _pool.GetConnection();
                }
            }
        }
        finally
        {
            connection.Release();
        }
    }

    // shape clean: a polling worker that takes a pooled connection per round and releases it in finally
    public async Task PollAsync(Func<PooledConnection, Task<bool>> work, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            var connection = await _pool.GetConnectionAsync(cancellationToken);
            bool more;
            try
            {
                more = await work(connection);
            }
            finally
            {
                connection.Release();
            }

            if (!more)
            {
                await Task.Delay(1000, cancellationToken);
            }
        }
    }

    // shape leak: a sync poller that breaks out of the loop before the release
    public int DrainQueue()
    {
        var drained = 0;
        while (true)
        {
            var connection = _pool.GetConnection(); // expect TDG001: 'connection' is not released on the path that returns at line @+11
            var rows = connection.Execute("delete from Queue order by Id limit 100");
            if (rows == 0)
            {
                break;
            }

            drained += rows;
            connection.Release();
        }

        return drained;
    }
}
