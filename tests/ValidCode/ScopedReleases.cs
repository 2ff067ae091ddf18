using System;
using System.Collections.Generic;
using System.Data;
using System.Data.Common;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace ValidCode;

public ref struct ConnectionScope
{
    private readonly MySqlConnection _connection;

    public ConnectionScope(MySqlConnection connection) => _connection = connection;

    public readonly int Count() => _connection.ExecuteScalar<int>("SELECT 1");

    public void Dispose() => _connection.Dispose();
}

public sealed class ScopedReleases(TenantDataSources sources)
{
    public int RefStructScope(string tenant)
    {
        using var scope = new ConnectionScope(sources.GetDataSource(tenant).OpenConnection());
        return scope.Count();
    }

    public int StackCleanup(string[] tenants)
    {
        var opened = new Stack<MySqlConnection>();
        try
        {
            foreach (var tenant in tenants)
            {
                opened.Push(sources.GetDataSource(tenant).OpenConnection());
            }

            return opened.Count;
        }
        finally
        {
            while (opened.TryPop(out var connection))
            {
                connection.Dispose();
            }
        }
    }

    public int DisposableList(string tenant)
    {
        var cleanup = new List<IDisposable>();
        try
        {
            var connection = sources.GetDataSource(tenant).OpenConnection();
            cleanup.Add(connection);
            return connection.ExecuteScalar<int>("SELECT 1");
        }
        finally
        {
            foreach (var item in cleanup)
            {
                item.Dispose();
            }
        }
    }

    public List<string> ReaderOwnsConnection(string tenant)
    {
        var names = new List<string>();
        var connection = sources.GetDataSource(tenant).OpenConnection();
        MySqlDataReader reader;
        try
        {
            reader = new MySqlCommand("SELECT name FROM customers", connection)
                .ExecuteReader(CommandBehavior.CloseConnection);
        }
        catch
        {
            connection.Dispose();
            throw;
        }

        using (reader)
        {
            while (reader.Read())
            {
                names.Add(reader.GetString(0));
            }
        }

        return names;
    }

    public async Task<int> AsDbDataSourceAsync(string tenant, CancellationToken ct)
    {
        DbConnection connection = await ((DbDataSource)sources.GetDataSource(tenant)).OpenConnectionAsync(ct);
        await using (connection)
        {
            return await connection.ExecuteScalarAsync<int>("SELECT 1");
        }
    }

    public async Task<string> SwitchDatabaseAsync(string tenant, string other, CancellationToken ct)
    {
        await using var connection = new MySqlConnection(sources.GetDataSource(tenant).ConnectionString);
        await connection.OpenAsync(ct);
        await connection.ExecuteAsync("SELECT 1");
        await connection.CloseAsync();
        connection.ConnectionString = sources.GetDataSource(other).ConnectionString;
        await connection.OpenAsync(ct);
        return connection.ServerVersion;
    }

    public string ReopenWhenClosed(string tenant)
    {
        using var connection = sources.GetDataSource(tenant).OpenConnection();
        connection.Close();
        if (connection.State != ConnectionState.Open)
        {
            connection.Open();
        }

        return connection.ServerVersion;
    }

    public int ReassignedAfterRelease(string tenant)
    {
        var connection = sources.GetDataSource(tenant).OpenConnection();
        int first;
        try
        {
            first = connection.ExecuteScalar<int>("SELECT 1");
        }
        finally
        {
            connection.Dispose();
        }

        connection = sources.GetDataSource(tenant).OpenConnection();
        using (connection)
        {
            return first + connection.ExecuteScalar<int>("SELECT 2");
        }
    }

    public int NulledAfterRelease(string tenant)
    {
        MySqlConnection? connection = sources.GetDataSource(tenant).OpenConnection();
        try
        {
            var value = connection.ExecuteScalar<int>("SELECT 1");
            connection.Dispose();
            connection = null;
            return value;
        }
        finally
        {
            connection?.Dispose();
        }
    }

    public async Task<int> CloseReopenInTryAsync(string tenant, CancellationToken ct)
    {
        await using var connection = await sources.GetDataSource(tenant).OpenConnectionAsync(ct);
        await connection.CloseAsync();
        try
        {
            await connection.OpenAsync(ct);
        }
        catch (MySqlException)
        {
            throw;
        }

        await using var transaction = await connection.BeginTransactionAsync(ct);
        await transaction.CommitAsync(ct);
        return 1;
    }
}
