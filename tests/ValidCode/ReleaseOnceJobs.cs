using System;
using System.Collections.Generic;
using System.Data;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace ValidCode;

public sealed record StaleSession(long Id, DateTime ExpiresAt);

/// <summary>
/// Jobs that give their connection back early, close and reopen it, or release it on one branch only:
/// every connection is used only while held and released exactly once on every path.
/// </summary>
public sealed class ReleaseOnceJobs
{
    private readonly string _connectionString;
    private readonly MySqlDataSource _dataSource;
    private readonly TenantPools _pools;
    private readonly TenantDatabase _database;

    public ReleaseOnceJobs(string connectionString, MySqlDataSource dataSource, TenantPools pools, TenantDatabase database)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        _connectionString = connectionString;
        _dataSource = dataSource ?? throw new ArgumentNullException(nameof(dataSource));
        _pools = pools ?? throw new ArgumentNullException(nameof(pools));
        _database = database ?? throw new ArgumentNullException(nameof(database));
    }

    /// <summary>Reads, gives the connection back, then does the slow part without holding it.</summary>
    public IReadOnlyDictionary<string, decimal> RevenueByRegion(int year)
    {
        using var conn = new MySqlConnection(_connectionString);
        conn.Open();
        var rows = conn.Query<(string Region, decimal Amount)>(
            "SELECT region, amount FROM invoices WHERE YEAR(issued_at) = @year", new { year }).AsList();
        conn.Close();

        return rows
            .GroupBy(r => r.Region, StringComparer.OrdinalIgnoreCase)
            .ToDictionary(g => g.Key, g => g.Sum(r => r.Amount), StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>Works in batches and closes the connection between them, so a long job does not pin one.</summary>
    public async Task<int> PurgeInBatchesAsync(DateTime cutoff, int batches, CancellationToken cancellationToken)
    {
        var deleted = 0;
        await using var conn = new MySqlConnection(_connectionString);
        for (var i = 0; i < batches; i++)
        {
            await conn.OpenAsync(cancellationToken);
            var affected = await conn.ExecuteAsync(
                new CommandDefinition("DELETE FROM sessions WHERE expires_at < @cutoff LIMIT 500", new { cutoff }, cancellationToken: cancellationToken));
            await conn.CloseAsync();
            deleted += affected;
            if (affected == 0)
            {
                break;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50), cancellationToken);
        }

        return deleted;
    }

    /// <summary>Closes early, then lets Dapper open the closed connection for one more statement.</summary>
    public async Task<long> RecountAsync(CancellationToken cancellationToken)
    {
        await using var conn = await _dataSource.OpenConnectionAsync(cancellationToken);
        await conn.ExecuteAsync(new CommandDefinition("ANALYZE TABLE sessions", cancellationToken: cancellationToken));
        await conn.CloseAsync();
        if (conn.State != ConnectionState.Closed)
        {
            throw new InvalidOperationException("The connection did not close.");
        }

        return await conn.ExecuteScalarAsync<long>(new CommandDefinition("SELECT COUNT(*) FROM sessions", cancellationToken: cancellationToken));
    }

    /// <summary>The classic ADO.NET shape: close in the finally, dispose with the using.</summary>
    public int ExpireSessions(DateTime now)
    {
        using (var conn = new MySqlConnection(_connectionString))
        {
            try
            {
                conn.Open();
                using var cmd = new MySqlCommand("UPDATE sessions SET expired = 1 WHERE expires_at < @now", conn);
                cmd.Parameters.AddWithValue("@now", now);
                var affected = cmd.ExecuteNonQuery();
                conn.Close();
                return affected;
            }
            finally
            {
                if (conn.State != ConnectionState.Closed)
                {
                    conn.Close();
                }
            }
        }
    }

    /// <summary>Gives the pooled connection back as soon as the rows are read; the flag tells the finally.</summary>
    public async Task<int> NotifyStaleAsync(string tenant, Func<StaleSession, Task> notify, CancellationToken cancellationToken)
    {
        var conn = await _pools.For(tenant).GetConnectionAsync(cancellationToken);
        var released = false;
        try
        {
            var stale = await conn.QueryAsync<StaleSession>(
                "SELECT id, expires_at AS ExpiresAt FROM sessions WHERE expires_at < NOW()", cancellationToken: cancellationToken);
            conn.Release();
            released = true;

            foreach (var session in stale)
            {
                await notify(session);
            }

            return stale.Count;
        }
        finally
        {
            if (!released)
            {
                conn.Release();
            }
        }
    }

    /// <summary>The same, forgetting the connection instead of keeping a flag.</summary>
    public async Task<int> CountThenReportAsync(string tenant, Action<int> report, CancellationToken cancellationToken)
    {
        PooledConnection? conn = await _pools.For(tenant).GetConnectionAsync(cancellationToken);
        try
        {
            var rows = await conn.QueryAsync<int>("SELECT COUNT(*) FROM sessions", cancellationToken: cancellationToken);
            conn.Release();
            conn = null;
            report(rows[0]);
            return rows[0];
        }
        finally
        {
            conn?.Release();
        }
    }

    /// <summary>A read-only tenant returns early; either path releases once.</summary>
    public int Touch(string tenant, bool readOnly)
    {
        var lease = _database.GetConnection(tenant);
        if (readOnly)
        {
            lease.Dispose();
            return 0;
        }

        try
        {
            return lease.Connection.Execute("UPDATE settings SET touched_at = NOW()");
        }
        finally
        {
            lease.Dispose();
        }
    }

    /// <summary>Releases in a catch-all before rethrowing, and after the try on success.</summary>
    public async Task<long> CopyCountersAsync(string tenant, CancellationToken cancellationToken)
    {
        var conn = await _pools.For(tenant).GetConnectionAsync(cancellationToken);
        long copied;
        try
        {
            copied = await conn.ExecuteAsync("INSERT INTO counters_archive SELECT * FROM counters", cancellationToken: cancellationToken);
        }
        catch
        {
            conn.Release();
            throw;
        }

        conn.Release();
        return copied;
    }

    /// <summary>One lease per tenant and iteration, each disposed in its own iteration.</summary>
    public async Task<int> VacuumAllAsync(IEnumerable<string> tenants, CancellationToken cancellationToken)
    {
        var done = 0;
        foreach (var tenant in tenants)
        {
            var lease = await _database.GetConnectionAsync(tenant, cancellationToken);
            try
            {
                await lease.Connection.ExecuteAsync(new CommandDefinition("OPTIMIZE TABLE sessions", cancellationToken: cancellationToken));
            }
            finally
            {
                await lease.DisposeAsync();
            }

            done++;
        }

        return done;
    }
}
