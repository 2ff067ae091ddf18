using System;
using System.Collections.Generic;
using System.Data;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace ValidCode;

/// <summary>Releases behind null tests, patterns, state checks and locks that always hold for a connection.</summary>
public sealed class GuardedReleases
{
    private readonly object _gate = new();
    private readonly string _cs;
    private readonly TenantPool _pool;

    public GuardedReleases(string cs, TenantPool pool)
    {
        _cs = cs;
        _pool = pool;
    }

    public async Task<int> NamedByAPatternAsync(CancellationToken token)
    {
        if (await _pool.GetConnectionAsync(token) is not { } conn)
        {
            return -1;
        }

        try
        {
            return await conn.ExecuteAsync("UPDATE counters SET n = n + 1", cancellationToken: token);
        }
        finally
        {
            conn.Release();
        }
    }

    public async Task<int> NamedByAPatternInsideTheIfAsync(CancellationToken token)
    {
        if (await _pool.GetConnectionAsync(token) is PooledConnection conn)
        {
            try
            {
                return await conn.ExecuteAsync("SELECT 1", cancellationToken: token);
            }
            finally
            {
                conn.Release();
            }
        }

        return 0;
    }

    public async Task<int> OrThrowAsync(CancellationToken token)
    {
        var conn = await _pool.GetConnectionAsync(token) ?? throw new InvalidOperationException("no connection");
        try
        {
            return await conn.ExecuteAsync("SELECT 1", cancellationToken: token);
        }
        finally
        {
            conn.Release();
        }
    }

    public int ClosedWhenOpenThenDisposed()
    {
        var conn = new MySqlConnection(_cs);
        try
        {
            conn.Open();
            return conn.ExecuteScalar<int>("SELECT 1");
        }
        finally
        {
            if (conn.State == ConnectionState.Open)
            {
                conn.Close();
            }

            conn.Dispose();
        }
    }

    public int DisposedThroughAnAsCast()
    {
        var conn = new MySqlConnection(_cs);
        try
        {
            conn.Open();
            return conn.ExecuteScalar<int>("SELECT 1");
        }
        finally
        {
            var disposable = conn as IDisposable;
            disposable?.Dispose();
        }
    }

    public int TakenUnderALock()
    {
        MySqlConnection conn;
        lock (_gate)
        {
            conn = new MySqlConnection(_cs);
        }

        using (conn)
        {
            conn.Open();
            return conn.ExecuteScalar<int>("SELECT 1");
        }
    }

    public async Task<int> OnlyWhenAskedAsync(bool needed, CancellationToken token)
    {
        var conn = needed ? await _pool.GetConnectionAsync(token) : null;
        try
        {
            return conn is null ? 0 : await conn.ExecuteAsync("SELECT 1", cancellationToken: token);
        }
        finally
        {
            conn?.Release();
        }
    }

    public async Task<int[]> ManyTenantsAtOnceAsync(IEnumerable<TenantPool> pools, CancellationToken token)
    {
        var tasks = pools.Select(async pool =>
        {
            var conn = await pool.GetConnectionAsync(token);
            try
            {
                return await conn.ExecuteAsync("SELECT 1", cancellationToken: token);
            }
            finally
            {
                conn.Release();
            }
        });
        return await Task.WhenAll(tasks);
    }

    public async Task<int> WithTransactionAsync(CancellationToken token)
    {
        await using var conn = new MySqlConnection(_cs);
        await conn.OpenAsync(token);
        await using var tx = await conn.BeginTransactionAsync(token);
        var n = await conn.ExecuteAsync("UPDATE counters SET n = n + 1", transaction: tx);
        if (n == 0)
        {
            await tx.RollbackAsync(token);
            return 0;
        }

        await tx.CommitAsync(token);
        return n;
    }

    public async Task<int> SwitchOnTheConnectionAsync(CancellationToken token)
    {
        var conn = await _pool.GetConnectionAsync(token);
        switch (conn)
        {
            case { LeasedAt.Year: < 2000 }:
                conn.Release();
                return -1;
            default:
                try
                {
                    return await conn.ExecuteAsync("SELECT 1", cancellationToken: token);
                }
                finally
                {
                    conn.Release();
                }
        }
    }

    public int DrainQueue(Queue<string> work)
    {
        var done = 0;
        while (work.TryDequeue(out var sql))
        {
            using var conn = new MySqlConnection(_cs);
            conn.Open();
            done += conn.Execute(sql);
        }

        return done;
    }
}
