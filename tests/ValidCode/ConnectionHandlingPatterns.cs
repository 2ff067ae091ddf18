using System;
using System.Collections.Generic;
using System.Data;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace ValidCode;

/// <summary>Ways of giving back a connection that the rules must read as correct.</summary>
public sealed class ConnectionHandlingPatterns : IDisposable
{
    private readonly string _cs;
    private MySqlConnection? _shared;

    public ConnectionHandlingPatterns(string cs) => _cs = cs;

    public int DisposedThroughAnArray()
    {
        var a = new MySqlConnection(_cs);
        var b = new MySqlConnection(_cs);
        try
        {
            a.Open();
            b.Open();
            return a.ExecuteScalar<int>("SELECT 1") + b.ExecuteScalar<int>("SELECT 1");
        }
        finally
        {
            foreach (var c in new[] { a, b })
            {
                c.Dispose();
            }
        }
    }

    public int TwoDeclaratorsInOneUsing()
    {
        using (MySqlConnection a = new(_cs), b = new(_cs))
        {
            a.Open();
            b.Open();
            return a.ExecuteScalar<int>("SELECT 1") + b.ExecuteScalar<int>("SELECT 1");
        }
    }

    public int CastToIDisposable()
    {
        var conn = new MySqlConnection(_cs);
        try
        {
            conn.Open();
            return conn.ExecuteScalar<int>("SELECT 1");
        }
        finally
        {
            ((IDisposable)conn).Dispose();
        }
    }

    public int AssignedInsideTryCheckedInFinally()
    {
        MySqlConnection? conn = null;
        try
        {
            conn = new MySqlConnection(_cs);
            conn.Open();
            return conn.ExecuteScalar<int>("SELECT 1");
        }
        finally
        {
            if (conn != null)
            {
                conn.Dispose();
            }
        }
    }

    public int ReleasedByALocalFunctionInFinally()
    {
        var conn = new MySqlConnection(_cs);
        try
        {
            conn.Open();
            return conn.ExecuteScalar<int>("SELECT 1");
        }
        finally
        {
            Cleanup();
        }

        void Cleanup() => conn.Dispose();
    }

    public MySqlConnection OpenOrDispose()
    {
        var conn = new MySqlConnection(_cs);
        try
        {
            conn.Open();
            conn.Execute("SET time_zone = '+00:00'");
            return conn;
        }
        catch
        {
            conn.Dispose();
            throw;
        }
    }

    public async Task<int> AwaitUsingWithConfigureAwaitAsync(CancellationToken cancellationToken)
    {
        var conn = new MySqlConnection(_cs);
        await using (conn.ConfigureAwait(false))
        {
            await conn.OpenAsync(cancellationToken).ConfigureAwait(false);
            return await conn.ExecuteScalarAsync<int>("SELECT 1").ConfigureAwait(false);
        }
    }

    public int DiscardNamedUsing()
    {
        var conn = new MySqlConnection(_cs);
        using var _ = conn;
        conn.Open();
        return conn.ExecuteScalar<int>("SELECT 1");
    }

    public int ClosedOnlyWhenOpen()
    {
        var conn = new MySqlConnection(_cs);
        try
        {
            conn.Open();
            return conn.ExecuteScalar<int>("SELECT 1");
        }
        finally
        {
            if (conn.State != ConnectionState.Closed)
            {
                conn.Close();
            }

            conn.Dispose();
        }
    }

    public int RetriedInALoop()
    {
        for (var attempt = 1; ; attempt++)
        {
            using var conn = new MySqlConnection(_cs);
            try
            {
                conn.Open();
                return conn.ExecuteScalar<int>("SELECT 1");
            }
            catch (MySqlException) when (attempt < 3)
            {
                Thread.Sleep(100 * attempt);
            }
        }
    }

    public int ReleasedInASwitch(int mode)
    {
        var conn = new MySqlConnection(_cs);
        conn.Open();
        int result;
        try
        {
            result = conn.ExecuteScalar<int>("SELECT 1");
        }
        finally
        {
            switch (mode)
            {
                case 0:
                    conn.Close();
                    conn.Dispose();
                    break;
                default:
                    conn.Dispose();
                    break;
            }
        }

        return result;
    }

    public MySqlConnection Shared()
    {
        if (_shared is null)
        {
            var conn = new MySqlConnection(_cs);
            conn.Open();
            _shared = conn;
        }

        return _shared;
    }

    public async Task<IReadOnlyList<int>> ParallelAsync(CancellationToken cancellationToken)
    {
        var tasks = new List<Task<int>>();
        for (var i = 0; i < 3; i++)
        {
            tasks.Add(OneAsync(cancellationToken));
        }

        return await Task.WhenAll(tasks);

        async Task<int> OneAsync(CancellationToken token)
        {
            await using var conn = new MySqlConnection(_cs);
            await conn.OpenAsync(token);
            return await conn.ExecuteScalarAsync<int>("SELECT 1");
        }
    }

    public void Dispose() => Interlocked.Exchange(ref _shared, null)?.Dispose();
}
