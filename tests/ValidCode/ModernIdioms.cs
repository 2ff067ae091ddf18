using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace ValidCode;

public sealed class ModernRepository(MySqlConnection connection)
{
    public Task<int> CountAsync() => connection.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM orders");
}

public sealed class ModernIdioms(TenantDataSources sources)
{
    public async Task<int> BothAsync(string a, string b, CancellationToken ct)
    {
        var first = await sources.GetDataSource(a).OpenConnectionAsync(ct);
        MySqlConnection? second = null;
        try
        {
            second = await sources.GetDataSource(b).OpenConnectionAsync(ct);
        }
        catch
        {
            await first.DisposeAsync();
            throw;
        }

        List<MySqlConnection> all = [first, second];
        try
        {
            var total = 0;
            foreach (var connection in all)
            {
                total += await new ModernRepository(connection).CountAsync();
            }

            return total;
        }
        finally
        {
            foreach (var connection in all)
            {
                await connection.DisposeAsync();
            }
        }
    }

    public async Task<int> StaticLambdaAsync(string tenant, CancellationToken ct)
    {
        Func<MySqlDataSource, CancellationToken, Task<int>> work = static async (source, token) =>
        {
            await using var connection = await source.OpenConnectionAsync(token);
            return await connection.ExecuteAsync("SELECT 1");
        };
        return await work(sources.GetDataSource(tenant), ct);
    }

    public async Task<int> RepositoryOverUsingAsync(string tenant, CancellationToken ct)
    {
        await using var connection = await sources.GetDataSource(tenant).OpenConnectionAsync(ct);
        var repository = new ModernRepository(connection);
        return await repository.CountAsync();
    }
}

file sealed class FileScopedSession : IDisposable
{
    private readonly MySqlConnection _connection;

    public FileScopedSession(MySqlDataSource source) => _connection = source.OpenConnection();

    public int Ping() => _connection.ExecuteScalar<int>("SELECT 1");

    public void Dispose() => _connection.Dispose();
}
