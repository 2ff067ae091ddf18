using System;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace ValidCode;

/// <summary>A small retry policy in the style of Polly: the work opens and releases its own connection.</summary>
public static class Retry
{
    public static async Task<T> ExecuteAsync<T>(
        Func<CancellationToken, Task<T>> work, int attempts, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await work(ct).ConfigureAwait(false);
            }
            catch (MySqlException e) when (e.IsTransient && attempt < attempts)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(50 * attempt), ct).ConfigureAwait(false);
            }
        }
    }
}

public sealed class RetryingQueries(TenantDataSources sources)
{
    public Task<long> CountOrdersAsync(string tenant, CancellationToken ct) =>
        Retry.ExecuteAsync(
            async token =>
            {
                await using var connection = await sources.GetDataSource(tenant).OpenConnectionAsync(token)
                    .ConfigureAwait(false);
                return await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM orders").ConfigureAwait(false);
            },
            attempts: 3,
            ct);

    public async Task<int> ArchiveAsync(string tenant, DateTime before, CancellationToken ct)
    {
        var attempt = 0;
        while (true)
        {
            attempt++;
            var connection = new MySqlConnection(sources.GetDataSource(tenant).ConnectionString);
            try
            {
                await connection.OpenAsync(ct).ConfigureAwait(false);
                return await connection.ExecuteAsync("DELETE FROM orders WHERE created < @before", new { before })
                    .ConfigureAwait(false);
            }
            catch (MySqlException e) when (e.IsTransient && attempt < 3)
            {
                continue;
            }
            finally
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    public int ArchiveWithGoto(string tenant, DateTime before)
    {
        var attempt = 0;
    again:
        attempt++;
        using (var connection = sources.GetDataSource(tenant).OpenConnection())
        {
            try
            {
                return connection.Execute("DELETE FROM orders WHERE created < @before", new { before });
            }
            catch (MySqlException e) when (e.IsTransient && attempt < 3)
            {
            }
        }

        goto again;
    }
}
