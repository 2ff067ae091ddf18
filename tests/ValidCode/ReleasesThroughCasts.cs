using System;
using System.Threading.Tasks;
using MySqlConnector;

namespace ValidCode;

public sealed class CastSessionA : IDisposable
{
    private readonly MySqlConnection _connection;
    public CastSessionA(MySqlDataSource source) => _connection = source.OpenConnection();
    public void Dispose() => ((IDisposable)_connection).Dispose();
}

public sealed class CastSessionB : IDisposable
{
    private MySqlConnection? _connection;
    public void Start(MySqlDataSource source) => _connection = source.OpenConnection();
    public void Dispose() => (_connection as IDisposable)?.Dispose();
}

public sealed class CastSessionC : IAsyncDisposable
{
    private MySqlConnection? _connection;
    public async Task StartAsync(MySqlDataSource source) => _connection = await source.OpenConnectionAsync();
    public ValueTask DisposeAsync() => _connection is IAsyncDisposable d ? d.DisposeAsync() : default;
}

public sealed class CastSessionD
{
    private MySqlConnection? _connection;
    public void Start(MySqlDataSource source) => _connection = source.OpenConnection();
    public void Shutdown() => (_connection as IDisposable)?.Dispose();
}

public static class CastLocals
{
    public static int Run(MySqlDataSource source)
    {
        var connection = source.OpenConnection();
        try
        {
            return 1;
        }
        finally
        {
            ((IDisposable)connection).Dispose();
        }
    }

    public static async Task<int> RunAsync(MySqlDataSource source)
    {
        object connection = await source.OpenConnectionAsync();
        try
        {
            return 1;
        }
        finally
        {
            if (connection is IAsyncDisposable disposable)
            {
                await disposable.DisposeAsync();
            }
        }
    }
}

public static class CastLocals2
{
    public static async Task<int> RunDb(MySqlDataSource source)
    {
        System.Data.Common.DbConnection connection = await source.OpenConnectionAsync();
        try
        {
            return 1;
        }
        finally
        {
            if (connection is IAsyncDisposable disposable)
            {
                await disposable.DisposeAsync();
            }
        }
    }

    public static int RunIDb(MySqlDataSource source)
    {
        System.Data.IDbConnection connection = source.OpenConnection();
        try
        {
            return 1;
        }
        finally
        {
            (connection as IDisposable)?.Dispose();
        }
    }

    public static int RunVar(MySqlDataSource source)
    {
        var connection = source.OpenConnection();
        try
        {
            return 1;
        }
        finally
        {
            if (connection is IDisposable disposable)
            {
                disposable.Dispose();
            }
        }
    }
}
