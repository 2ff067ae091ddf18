using System;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using Microsoft.Extensions.Hosting;
using MySqlConnector;

namespace ValidCode;

// A hosted service that holds a connection from start to stop (not disposable: the host calls StopAsync).
public sealed class ChangeListener : IHostedService
{
    private readonly MySqlDataSource _source;
    private MySqlConnection? _connection;

    public ChangeListener(MySqlDataSource source) => _source = source;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _connection = await _source.OpenConnectionAsync(cancellationToken);
        await _connection.ExecuteAsync("SET SESSION wait_timeout = 28800");
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_connection is not null)
        {
            await _connection.DisposeAsync();
            _connection = null;
        }
    }
}

// A background service that holds a connection for its loop and releases it when the loop ends.
public sealed class SessionSweeper : BackgroundService
{
    private readonly MySqlDataSource _source;

    public SessionSweeper(MySqlDataSource source) => _source = source;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await using var connection = await _source.OpenConnectionAsync(stoppingToken);
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(5));
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            await connection.ExecuteAsync(new CommandDefinition("DELETE FROM sessions WHERE expires < NOW()", cancellationToken: stoppingToken));
        }
    }
}

// A background service that keeps the connection in a field and releases it in StopAsync and Dispose.
public sealed class KeepAliveService : BackgroundService
{
    private readonly MySqlDataSource _source;
    private MySqlConnection? _connection;

    public KeepAliveService(MySqlDataSource source) => _source = source;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _connection = await _source.OpenConnectionAsync(stoppingToken);
        while (!stoppingToken.IsCancellationRequested)
        {
            await _connection.ExecuteAsync("SELECT 1");
            await Task.Delay(1000, stoppingToken);
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        try
        {
            await base.StopAsync(cancellationToken);
        }
        finally
        {
            if (_connection is not null)
            {
                await _connection.DisposeAsync();
                _connection = null;
            }
        }
    }

    public override void Dispose()
    {
        _connection?.Dispose();
        base.Dispose();
    }
}
