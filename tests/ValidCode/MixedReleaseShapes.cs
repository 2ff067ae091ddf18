using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace ValidCode;

public sealed class MixedReleaseShapes(TenantDataSources sources)
{
    public int ArrayOfConnections(string[] tenants)
    {
        var connections = new MySqlConnection?[tenants.Length];
        try
        {
            for (var i = 0; i < tenants.Length; i++)
            {
                connections[i] = sources.GetDataSource(tenants[i]).OpenConnection();
            }

            var total = 0;
            foreach (var connection in connections)
            {
                total += connection!.ExecuteScalar<int>("SELECT 1");
            }

            return total;
        }
        finally
        {
            foreach (var connection in connections)
            {
                connection?.Dispose();
            }
        }
    }

    public async Task<int> FallbackInCatchAsync(string tenant, MySqlDataSource replica, CancellationToken ct)
    {
        try
        {
            await using var connection = await sources.GetDataSource(tenant).OpenConnectionAsync(ct);
            return await connection.ExecuteScalarAsync<int>("SELECT 1");
        }
        catch (MySqlException)
        {
            await using var fallback = await replica.OpenConnectionAsync(ct);
            return await fallback.ExecuteScalarAsync<int>("SELECT 1");
        }
        finally
        {
            await using var audit = await sources.Master.OpenConnectionAsync(CancellationToken.None);
            await audit.ExecuteAsync("INSERT INTO audit (action) VALUES ('count')");
        }
    }

    public void MigrateWithHelper(string connectionString)
    {
        var dataSource = new MySqlDataSource(connectionString);
        try
        {
            using var connection = dataSource.OpenConnection();
            connection.Execute("SELECT 1");
        }
        finally
        {
            DisposeQuietly(dataSource);
            CloseLocal(dataSource);
        }

        static void CloseLocal(MySqlDataSource pool) => pool.Dispose();
    }

    private static void DisposeQuietly(MySqlDataSource dataSource)
    {
        try
        {
            dataSource.Dispose();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public int SwitchSections(string tenant, int kind)
    {
        switch (kind)
        {
            case 0:
                using (var connection = sources.GetDataSource(tenant).OpenConnection())
                {
                    return connection.ExecuteScalar<int>("SELECT 0");
                }

            case 1:
            {
                using var connection = sources.GetDataSource(tenant).OpenConnection();
                if (connection.ExecuteScalar<int>("SELECT 1") == 0)
                {
                    goto case 0;
                }

                return 1;
            }

            default:
                return -1;
        }
    }

    public int SwitchAssigned(string tenant, bool replica, MySqlDataSource other)
    {
        MySqlConnection connection = replica switch
        {
            true => other.OpenConnection(),
            false => sources.GetDataSource(tenant).OpenConnection(),
        };
        using (connection)
        {
            return connection.ExecuteScalar<int>("SELECT 1");
        }
    }

    public async Task<int> TaskRunAsync(string tenant, CancellationToken ct)
    {
        var connection = await sources.GetDataSource(tenant).OpenConnectionAsync(ct);
        try
        {
            return await Task.Run(() => connection.ExecuteScalar<int>("SELECT 1"), ct);
        }
        finally
        {
            await connection.DisposeAsync();
        }
    }

    public int CloseOnly(string tenant)
    {
        var connection = sources.GetDataSource(tenant).OpenConnection();
        try
        {
            return connection.ExecuteScalar<int>("SELECT 1");
        }
        finally
        {
            connection.Close();
        }
    }

    public int NullConditionalChain(TenantDataSources? maybe, string tenant)
    {
        using var connection = maybe?.GetDataSource(tenant).OpenConnection();
        return connection?.ExecuteScalar<int>("SELECT 1") ?? 0;
    }

    public int TupleHeld(string tenant)
    {
        var pair = (Connection: sources.GetDataSource(tenant).OpenConnection(), Tenant: tenant);
        try
        {
            return pair.Connection.ExecuteScalar<int>("SELECT 1");
        }
        finally
        {
            pair.Connection.Dispose();
        }
    }

    public int LockedSync(string tenant, object gate)
    {
        lock (gate)
        {
            using var connection = sources.GetDataSource(tenant).OpenConnection();
            return checked(connection.ExecuteScalar<int>("SELECT 1") + 1);
        }
    }

    public async Task NestedLambdasAsync(string tenant, CancellationToken ct)
    {
        Func<Task> outer = async () =>
        {
            Func<Task<int>> inner = async () =>
            {
                await using var connection = await sources.GetDataSource(tenant).OpenConnectionAsync(ct);
                return await connection.ExecuteAsync("SELECT 1");
            };
            await inner();
        };
        await outer();
    }

    public List<int> StateChangeLogged(string tenant, List<string> log)
    {
        using var connection = new MySqlConnection(sources.GetDataSource(tenant).ConnectionString);
        connection.StateChange += (_, e) => log.Add(e.CurrentState.ToString());
        connection.Open();
        return connection.Query<int>("SELECT 1").AsList();
    }
}
