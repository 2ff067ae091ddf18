using System;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using Microsoft.Extensions.Hosting;
using MySqlConnector;

namespace ValidCode;

public sealed class CleanupWorker(string connectionString) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await using var dataSource = new MySqlDataSource(connectionString);
        while (!stoppingToken.IsCancellationRequested)
        {
            await using (var connection = await dataSource.OpenConnectionAsync(stoppingToken).ConfigureAwait(false))
            {
                await connection.ExecuteAsync("DELETE FROM sessions WHERE expired = 1").ConfigureAwait(false);
            }

            await Task.Delay(TimeSpan.FromMinutes(1), stoppingToken).ConfigureAwait(false);
        }
    }
}

public sealed class StartupMigrator(string adminConnectionString) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var dataSource = new MySqlDataSourceBuilder(adminConnectionString).Build();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync("CREATE TABLE IF NOT EXISTS audit (id BIGINT)").ConfigureAwait(false);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

public static class MigrationTool
{
    public static async Task<int> Main(string[] args)
    {
        await MigrateAsync(args[0]).ConfigureAwait(false);
        return 0;
    }

    private static async Task MigrateAsync(string connectionString)
    {
        await using var dataSource = new MySqlDataSource(connectionString);
        await using var connection = await dataSource.OpenConnectionAsync().ConfigureAwait(false);
        await connection.ExecuteAsync("SELECT 1").ConfigureAwait(false);
    }
}
