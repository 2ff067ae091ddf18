using System;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;
using Dapper;
using Microsoft.Extensions.Hosting;
using MySqlConnector;

namespace ValidCode;

/// <summary>A unit of work queued by request code and written by a background worker.</summary>
public sealed record AuditEntry(string Tenant, string Action, DateTime At);

/// <summary>Drains a channel; every entry borrows a connection of its tenant for one insert.</summary>
public sealed class AuditWriter(Channel<AuditEntry> queue, TenantDataSources sources) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await foreach (var entry in queue.Reader.ReadAllAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                await WriteAsync(entry, stoppingToken).ConfigureAwait(false);
            }
            catch (MySqlException e) when (e.IsTransient)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200), stoppingToken).ConfigureAwait(false);
            }
        }
    }

    private async Task WriteAsync(AuditEntry entry, CancellationToken ct)
    {
        var dataSource = sources.GetDataSource(entry.Tenant);
        await using var connection = await dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);
        await connection.ExecuteAsync(
            new CommandDefinition("INSERT INTO audit (action, at) VALUES (@Action, @At)", entry, cancellationToken: ct))
            .ConfigureAwait(false);
    }
}

/// <summary>Reads batches from a channel and writes each batch in one transaction.</summary>
public sealed class BatchedAuditWriter : IHostedService, IAsyncDisposable
{
    private readonly Channel<AuditEntry> _queue = Channel.CreateBounded<AuditEntry>(1000);
    private readonly MySqlDataSource _dataSource;
    private readonly CancellationTokenSource _stopping = new();
    private Task? _loop;

    public BatchedAuditWriter(string connectionString) => _dataSource = new MySqlDataSource(connectionString);

    public ValueTask EnqueueAsync(AuditEntry entry, CancellationToken ct) => _queue.Writer.WriteAsync(entry, ct);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _loop = Task.Run(() => RunAsync(_stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _queue.Writer.TryComplete();
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            await Task.WhenAny(_loop, Task.Delay(Timeout.Infinite, cancellationToken)).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stopping.Dispose();
        await _dataSource.DisposeAsync().ConfigureAwait(false);
    }

    private async Task RunAsync(CancellationToken ct)
    {
        var batch = new System.Collections.Generic.List<AuditEntry>(100);
        while (await _queue.Reader.WaitToReadAsync(ct).ConfigureAwait(false))
        {
            batch.Clear();
            while (batch.Count < 100 && _queue.Reader.TryRead(out var entry))
            {
                batch.Add(entry);
            }

            if (batch.Count == 0)
            {
                continue;
            }

            var connection = await _dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);
            try
            {
                await using var transaction = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
                const string Sql = "INSERT INTO audit (action, at) VALUES (@Action, @At)";
                await connection.ExecuteAsync(Sql, batch, transaction)
                    .ConfigureAwait(false);
                await transaction.CommitAsync(ct).ConfigureAwait(false);
            }
            finally
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}

/// <summary>Limits how many connections one tenant's imports hold at once.</summary>
public sealed class GatedImporter(TenantDataSources sources)
{
    private readonly SemaphoreSlim _gate = new(4, 4);

    public async Task<int> ImportAsync(string tenant, string[] names, CancellationToken ct)
    {
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            await using var connection = await sources.GetDataSource(tenant).OpenConnectionAsync(ct)
                .ConfigureAwait(false);
            var written = 0;
            foreach (var name in names)
            {
                if (string.IsNullOrWhiteSpace(name))
                {
                    continue;
                }

                written += await connection.ExecuteAsync("INSERT INTO names (name) VALUES (@name)", new { name })
                    .ConfigureAwait(false);
            }

            return written;
        }
        finally
        {
            _gate.Release();
        }
    }
}
