using System;
using System.Data;
using System.Data.Common;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace ValidCode;

public interface IAdoConnectionFactory
{
    IDbConnection CreateConnection(string tenant);
}

public sealed class AdoFactories
{
    private readonly IAdoConnectionFactory _factory;
    private readonly DbProviderFactory _provider;
    private readonly string _connectionString;

    public AdoFactories(IAdoConnectionFactory factory, DbProviderFactory provider, string connectionString)
    {
        _factory = factory;
        _provider = provider;
        _connectionString = connectionString;
    }

    public int ViaInterface(string tenant)
    {
        using var connection = _factory.CreateConnection(tenant);
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM sessions";
        return command.ExecuteNonQuery();
    }

    public async Task<int> ViaProviderAsync(CancellationToken ct)
    {
        await using var connection = _provider.CreateConnection() ?? throw new InvalidOperationException("The provider made no connection.");
        connection.ConnectionString = _connectionString;
        await connection.OpenAsync(ct);
        return await connection.ExecuteAsync("DELETE FROM sessions");
    }

    public int OpenInTryCloseInFinally(string tenant)
    {
        var connection = _factory.CreateConnection(tenant);
        try
        {
            connection.Open();
            return connection.Execute("SELECT 1");
        }
        finally
        {
            connection.Close();
            connection.Dispose();
        }
    }

    public async Task<long> OpenIfClosedAsync(MySqlConnection borrowed, CancellationToken ct)
    {
        var opened = false;
        if (borrowed.State == ConnectionState.Closed)
        {
            await borrowed.OpenAsync(ct);
            opened = true;
        }

        try
        {
            return await borrowed.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM orders");
        }
        finally
        {
            if (opened)
            {
                await borrowed.CloseAsync();
            }
        }
    }

    public long WasClosed(IDbConnection borrowed)
    {
        var wasClosed = borrowed.State == ConnectionState.Closed;
        if (wasClosed)
        {
            borrowed.Open();
        }

        try
        {
            return borrowed.ExecuteScalar<long>("SELECT COUNT(*) FROM orders");
        }
        finally
        {
            if (wasClosed)
            {
                borrowed.Close();
            }
        }
    }
}
