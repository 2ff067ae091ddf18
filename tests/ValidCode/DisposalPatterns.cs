using System;
using System.Data.Common;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace ValidCode;

public class AsyncCoreOwner : IAsyncDisposable, IDisposable
{
    private MySqlConnection? _connection;

    public AsyncCoreOwner(MySqlDataSource dataSource) => _connection = dataSource.OpenConnection();

    public int Count() => _connection!.ExecuteScalar<int>("SELECT 1");

    public async ValueTask DisposeAsync()
    {
        await DisposeAsyncCore().ConfigureAwait(false);
        Dispose(disposing: false);
        GC.SuppressFinalize(this);
    }

    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    protected virtual async ValueTask DisposeAsyncCore()
    {
        if (_connection is not null)
        {
            await _connection.DisposeAsync().ConfigureAwait(false);
        }

        _connection = null;
    }

    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
        {
            _connection?.Dispose();
            _connection = null;
        }
    }
}

public sealed class ExplicitlyDisposedOwner : IDisposable
{
    private readonly MySqlConnection _connection;

    public ExplicitlyDisposedOwner(MySqlDataSource dataSource) => _connection = dataSource.OpenConnection();

    public string Version => _connection.ServerVersion;

    void IDisposable.Dispose() => _connection.Dispose();
}

public sealed class GenericConnectionOwner<TConnection> : IAsyncDisposable
    where TConnection : DbConnection
{
    private readonly TConnection _connection;

    private GenericConnectionOwner(TConnection connection) => _connection = connection;

    public static async Task<GenericConnectionOwner<TConnection>> OpenAsync(
        Func<TConnection> create, CancellationToken ct)
    {
        var connection = create();
        try
        {
            await connection.OpenAsync(ct).ConfigureAwait(false);
            return new GenericConnectionOwner<TConnection>(connection);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public Task<int> ExecuteAsync(string sql) => _connection.ExecuteAsync(sql);

    public ValueTask DisposeAsync() => _connection.DisposeAsync();
}

public sealed class WarmedPoolOwner : IDisposable
{
    private readonly MySqlDataSource _dataSource;

    public WarmedPoolOwner(string connectionString)
    {
        _dataSource = new MySqlDataSource(connectionString);
        try
        {
            using var connection = _dataSource.OpenConnection();
            connection.Execute("SELECT 1");
        }
        catch
        {
            _dataSource.Dispose();
            throw;
        }
    }

    public void Dispose() => _dataSource.Dispose();
}

public sealed class TryCreatedPoolUsers
{
    public async Task MigrateAsync(string connectionString, CancellationToken ct)
    {
        if (!TryCreate(connectionString, out var dataSource))
        {
            return;
        }

        await using (dataSource)
        {
            await using var connection = await dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);
            await connection.ExecuteAsync("SELECT 1").ConfigureAwait(false);
        }
    }

    private static bool TryCreate(string connectionString, out MySqlDataSource dataSource)
    {
        dataSource = new MySqlDataSource(connectionString);
        return true;
    }
}
