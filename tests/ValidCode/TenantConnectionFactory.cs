using System;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace ValidCode;

/// <summary>Hands out open connections that the caller owns and must dispose.</summary>
public sealed class TenantConnectionFactory
{
    private readonly TenantDataSources _dataSources;

    public TenantConnectionFactory(TenantDataSources dataSources) => _dataSources = dataSources;

    /// <summary>Opens a connection whose session uses the tenant's time zone.</summary>
    public async Task<MySqlConnection> OpenAsync(string tenant, string timeZone, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(timeZone);
        var ds = _dataSources.GetDataSource(tenant);
        var conn = await ds.OpenConnectionAsync(cancellationToken);
        try
        {
            await using var command = new MySqlCommand("SET time_zone = @tz", conn);
            command.Parameters.AddWithValue("@tz", timeZone);
            await command.ExecuteNonQueryAsync(cancellationToken);
            return conn;
        }
        catch
        {
            await conn.DisposeAsync();
            throw;
        }
    }

    /// <summary>Synchronous flavour for code paths that cannot be async.</summary>
    public MySqlConnection OpenReadOnly(string tenant)
    {
        var conn = _dataSources.GetDataSource(tenant).OpenConnection();
        try
        {
            conn.Execute("SET SESSION TRANSACTION READ ONLY");
            return conn;
        }
        catch
        {
            conn.Dispose();
            throw;
        }
    }

    public MySqlConnection Open(string tenant) => _dataSources.GetDataSource(tenant).OpenConnection();

    public async ValueTask<MySqlConnection> OpenDefaultAsync(string tenant, CancellationToken cancellationToken)
    {
        var ds = _dataSources.GetDataSource(tenant);
        return await ds.OpenConnectionAsync(cancellationToken);
    }

    public Task<MySqlConnection> OpenMasterAsync(CancellationToken cancellationToken) =>
        _dataSources.Master.OpenConnectionAsync(cancellationToken).AsTask();

    /// <summary>For tools that get a raw connection string (migrations, support scripts).</summary>
    public static MySqlConnection OpenDirect(string connectionString)
    {
        var conn = new MySqlConnection(connectionString);
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
}

/// <summary>What the data-access helpers need: an open connection the caller disposes.</summary>
public interface ITenantConnectionOpener
{
    Task<MySqlConnection> OpenAsync(string tenant, CancellationToken cancellationToken);
}

/// <summary>For the migration tool, which runs one statement at a time and opens its connections synchronously.</summary>
public sealed class SynchronousConnectionOpener : ITenantConnectionOpener
{
    private readonly TenantDataSources _dataSources;

    public SynchronousConnectionOpener(TenantDataSources dataSources) => _dataSources = dataSources;

    public Task<MySqlConnection> OpenAsync(string tenant, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var conn = _dataSources.GetDataSource(tenant).OpenConnection();
        return Task.FromResult(conn);
    }
}
