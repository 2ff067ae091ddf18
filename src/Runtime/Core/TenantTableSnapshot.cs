using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using Microsoft.Extensions.Logging;

namespace TenantDbGuard.Core;

/// <summary>
/// The active rows of the tenants table, loaded whole and kept for <see cref="TenantDbGuardOptions.TenantCacheDuration"/>.
/// A key that is not in the snapshot is unknown; it makes the snapshot load again only once it is older than
/// <see cref="TenantDbGuardOptions.UnknownTenantCacheDuration"/>. So keys that name no tenant (a client sending random
/// tokens) cost no memory and at most one query of the master database per that interval, however many there are,
/// while a new tenant is found within it. One load runs at a time; callers wait for it.
/// </summary>
internal sealed class TenantTableSnapshot
{
    private readonly TenantDbGuardOptions _options;
    private readonly TenantRowRules _rules;
    private readonly Func<CancellationToken, ValueTask<TenantConnectionLease>> _openMaster;
    private readonly ILogger _logger;
    private readonly string _rowsSql;
    private readonly string _collationSql;
    private readonly object _gate = new();
    private Snapshot? _current;
    private Task<Snapshot>? _loading;
    private bool _loadOnMiss;

    public TenantTableSnapshot(TenantDbGuardOptions options, TenantRowRules rules, Func<CancellationToken, ValueTask<TenantConnectionLease>> openMaster, ILogger logger)
    {
        _options = options;
        _rules = rules;
        _openMaster = openMaster;
        _logger = logger;
        _rowsSql = $"SELECT tenant_key AS TenantKey, database_name AS DatabaseName, server_host AS ServerHost, server_port AS ServerPort FROM `{options.TenantsTable}` WHERE is_active = 1";
        _collationSql = "SELECT COLLATION_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = @table AND COLUMN_NAME = 'tenant_key'";
    }

    public async ValueTask<TenantInfo> ResolveAsync(string tenantKey, CancellationToken cancellationToken)
    {
        var snapshot = Volatile.Read(ref _current);
        if (snapshot is null || snapshot.Age >= _options.TenantCacheDuration)
        {
            snapshot = await LoadAsync(cancellationToken).ConfigureAwait(false);
        }

        if (snapshot.TryGet(tenantKey, out var row))
        {
            return Accept(row);
        }

        if (Volatile.Read(ref _loadOnMiss) || snapshot.Age >= _options.UnknownTenantCacheDuration)
        {
            snapshot = await LoadAsync(cancellationToken).ConfigureAwait(false);
            if (snapshot.TryGet(tenantKey, out row))
            {
                return Accept(row);
            }
        }

        throw new TenantNotFoundException(tenantKey);
    }

    /// <summary>Drops a tenant from the snapshot; the next call for it loads the table again.</summary>
    public void Invalidate(string tenantKey)
    {
        lock (_gate)
        {
            if (_current is { } current && current.TryGet(tenantKey, out var row))
            {
                _current = current.Without(row.TenantKey);
            }

            _loadOnMiss = true;
        }
    }

    /// <summary>As <see cref="Invalidate"/>, unless the snapshot is younger than <see cref="TenantDbGuardOptions.UnknownTenantCacheDuration"/>.</summary>
    public void Suspect(string tenantKey)
    {
        if (Volatile.Read(ref _current) is { } current && current.Age >= _options.UnknownTenantCacheDuration)
        {
            Invalidate(tenantKey);
        }
    }

    private static TenantInfo Accept(Row row) =>
        row.Refusal is null ? row.Tenant! : throw new TenantConfigurationException(row.TenantKey, row.DatabaseName, row.Refusal);

    private Task<Snapshot> LoadAsync(CancellationToken cancellationToken)
    {
        Task<Snapshot> loading;
        lock (_gate)
        {
            if (_loading is null || _loading.IsCompleted)
            {
                _loadOnMiss = false;
                _loading = LoadCoreAsync();
            }

            loading = _loading;
        }

        return loading.WaitAsync(cancellationToken);
    }

    private async Task<Snapshot> LoadCoreAsync()
    {
        string? collation;
        List<TableRow> rows;
        var lease = await _openMaster(CancellationToken.None).ConfigureAwait(false);
        await using (lease.ConfigureAwait(false))
        {
            collation = await lease.Connection.ExecuteScalarAsync<string?>(_collationSql, new { table = _options.TenantsTable }).ConfigureAwait(false);
            rows = (await lease.Connection.QueryAsync<TableRow>(_rowsSql).ConfigureAwait(false)).AsList();
        }

        var previous = Volatile.Read(ref _current);
        var snapshot = Build(rows, TenantKeyComparer.ForCollation(collation), previous);
        lock (_gate)
        {
            _current = snapshot;
        }

        return snapshot;
    }

    private Snapshot Build(List<TableRow> rows, TenantKeyComparer comparer, Snapshot? previous)
    {
        var entries = new Dictionary<string, Row>(rows.Count, comparer);
        var places = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var table in rows)
        {
            if (table.TenantKey is null || entries.ContainsKey(table.TenantKey))
            {
                continue;
            }

            var database = table.DatabaseName ?? string.Empty;
            var row = new Row(table.TenantKey, database, _rules.Refusal(database, table.ServerHost, table.ServerPort), null);
            if (row.Refusal is null)
            {
                var place = _rules.Place(database, table.ServerHost, table.ServerPort);
                if (!_rules.AllowShared && places.TryGetValue(place, out var other))
                {
                    row = row with { Refusal = TenantRowRules.SharedRefusal(other) };
                    var first = entries[other];
                    if (first.Refusal is null)
                    {
                        entries[other] = first with { Refusal = TenantRowRules.SharedRefusal(table.TenantKey), Tenant = null };
                    }
                }
                else
                {
                    places[place] = table.TenantKey;
                    row = row with { Tenant = new TenantInfo(table.TenantKey, database, table.ServerHost, table.ServerPort) };
                }
            }

            entries[table.TenantKey] = row;
        }

        foreach (var row in entries.Values)
        {
            if (row.Refusal is not null && !(previous is not null && previous.TryGet(row.TenantKey, out var before) && before.Refusal == row.Refusal))
            {
                Log.TenantRowRefused(_logger, LogSafe.Text(row.TenantKey), LogSafe.Text(row.DatabaseName), row.Refusal);
            }
        }

        return new Snapshot(entries);
    }

    /// <summary>One row: the tenant it describes, or why it is refused.</summary>
    private sealed record Row(string TenantKey, string DatabaseName, string? Refusal, TenantInfo? Tenant);

    private sealed class Snapshot
    {
        private readonly Dictionary<string, Row> _rows;
        private readonly long _loadedTicks = Stopwatch.GetTimestamp();

        public Snapshot(Dictionary<string, Row> rows) => _rows = rows;

        public TimeSpan Age => Stopwatch.GetElapsedTime(_loadedTicks);

        public bool TryGet(string tenantKey, out Row row) => _rows.TryGetValue(tenantKey, out row!);

        public Snapshot Without(string tenantKey)
        {
            var rows = new Dictionary<string, Row>(_rows, (TenantKeyComparer)_rows.Comparer);
            rows.Remove(tenantKey);
            return new Snapshot(rows, _loadedTicks);
        }

        private Snapshot(Dictionary<string, Row> rows, long loadedTicks)
        {
            _rows = rows;
            _loadedTicks = loadedTicks;
        }
    }

    private sealed class TableRow
    {
        public string? TenantKey { get; set; }

        public string? DatabaseName { get; set; }

        public string? ServerHost { get; set; }

        public int? ServerPort { get; set; }
    }
}
