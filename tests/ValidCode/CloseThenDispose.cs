using System;
using System.Data;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace ValidCode;

public sealed class CloseThenDispose
{
    private readonly TenantConnectionFactory _factory;
    private readonly TenantPools _pools;

    public CloseThenDispose(TenantConnectionFactory factory, TenantPools pools)
    {
        _factory = factory;
        _pools = pools;
    }

    public int CloseInTryDisposeInFinally(string connectionString)
    {
        var connection = new MySqlConnection(connectionString);
        try
        {
            connection.Open();
            var n = connection.Execute("DELETE FROM tmp");
            connection.Close();
            return n;
        }
        finally
        {
            connection.Dispose();
        }
    }

    public int UsingThenClose(string tenant)
    {
        using var connection = _factory.Open(tenant);
        var n = connection.Execute("DELETE FROM tmp");
        connection.Close();
        return n;
    }

    public async Task<int> CloseAsyncInUsingAsync(string connectionString, CancellationToken ct)
    {
        await using var connection = new MySqlConnection(connectionString);
        await connection.OpenAsync(ct);
        var n = await connection.ExecuteAsync("DELETE FROM tmp");
        await connection.CloseAsync();
        return n;
    }

    public int ReopenInLoop(string connectionString, int times)
    {
        using var connection = new MySqlConnection(connectionString);
        var total = 0;
        for (var i = 0; i < times; i++)
        {
            connection.Open();
            try
            {
                total += connection.Execute("UPDATE counters SET n = n + 1");
            }
            finally
            {
                connection.Close();
            }
        }

        return total;
    }

    public async Task<int> ReleaseOnceWithFlagAsync(string tenant, CancellationToken ct)
    {
        var pooled = await _pools.For(tenant).GetConnectionAsync(ct);
        var released = false;
        try
        {
            var n = await pooled.ExecuteAsync("SELECT 1", cancellationToken: ct);
            pooled.Release();
            released = true;
            await Task.Delay(10, ct);
            return n;
        }
        finally
        {
            if (!released)
            {
                pooled.Release();
            }
        }
    }

    public int StateCheckedClose(string tenant)
    {
        var connection = _factory.Open(tenant);
        try
        {
            return connection.Execute("SELECT 1");
        }
        finally
        {
            if (connection.State != ConnectionState.Closed)
            {
                connection.Close();
            }

            connection.Dispose();
        }
    }

    public async Task<int> EarlyDisposeNullAsync(string tenant, CancellationToken ct)
    {
        MySqlConnection? connection = _factory.Open(tenant);
        try
        {
            var n = connection.Execute("SELECT 1");
            await connection.DisposeAsync();
            connection = null;
            await Task.Delay(10, ct);
            return n;
        }
        finally
        {
            connection?.Dispose();
        }
    }
}
