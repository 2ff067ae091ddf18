using System;
using System.Collections.Concurrent;
using System.Data;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using MySqlConnector;

namespace ValidCode;

public sealed class InjectedConnectionRepository(MySqlConnection connection)
{
    public async Task<int> CountAsync(CancellationToken ct)
    {
        if (connection.State != ConnectionState.Open)
        {
            await connection.OpenAsync(ct);
        }

        return await connection.ExecuteScalarAsync<int>("SELECT 1");
    }
}

public sealed class ScopedConnectionJob(IServiceScopeFactory scopes)
{
    public async Task<int> RunAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var connection = scope.ServiceProvider.GetRequiredService<MySqlConnection>();
        await connection.OpenAsync(ct);
        return await connection.ExecuteScalarAsync<int>("SELECT 1");
    }
}

public sealed class BagConnectionPool(MySqlDataSource dataSource) : IDisposable
{
    private readonly ConcurrentBag<MySqlConnection> _idle = new();

    public MySqlConnection Rent() => _idle.TryTake(out var connection) ? connection : dataSource.OpenConnection();

    public void Return(MySqlConnection connection) => _idle.Add(connection);

    public int Use()
    {
        var connection = Rent();
        try
        {
            return connection.ExecuteScalar<int>("SELECT 1");
        }
        finally
        {
            Return(connection);
        }
    }

    public void Dispose()
    {
        while (_idle.TryTake(out var connection))
        {
            connection.Dispose();
        }
    }
}

public sealed class CompletedTaskFactory(MySqlDataSource dataSource)
{
    public Task<MySqlConnection> OpenAsync()
    {
        var connection = dataSource.OpenConnection();
        return Task.FromResult(connection);
    }

    public ValueTask<MySqlConnection> OpenValueAsync() => new(dataSource.OpenConnection());

    public async Task<int> UseAsync()
    {
        await using var first = await OpenAsync();
        await using var second = await OpenValueAsync();
        return await first.ExecuteScalarAsync<int>("SELECT 1") + await second.ExecuteScalarAsync<int>("SELECT 1");
    }
}
