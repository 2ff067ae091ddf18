using System;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace TenantDbGuard.Core;

/// <summary>
/// Resolves tenant keys to databases (from the master database's tenants table or a custom resolver) and caches
/// the answers, the unknown ones briefly too, so that a flood of bad keys does not become a flood of queries.
/// </summary>
internal sealed class TenantRegistry
{
    private static readonly Regex IdentifierPattern = new(@"^[A-Za-z0-9_]{1,64}\z", RegexOptions.CultureInvariant);

    private readonly TenantDbGuardOptions _options;
    private readonly Regex _keyPattern;
    private readonly Func<string, CancellationToken, ValueTask<TenantInfo?>> _resolve;
    private readonly ConcurrentDictionary<string, Entry> _cache = new(StringComparer.Ordinal);
    private readonly string _lookupSql;

    public TenantRegistry(TenantDbGuardOptions options, Func<CancellationToken, ValueTask<TenantConnectionLease>> openMaster)
    {
        _options = options;
        _keyPattern = CreateKeyPattern(options.TenantKeyPattern);
        _lookupSql = $"SELECT database_name AS DatabaseName, server_host AS ServerHost, server_port AS ServerPort FROM `{options.TenantsTable}` WHERE tenant_key = @key AND is_active = 1";
        _resolve = options.TenantResolver ?? ((key, cancellationToken) => LookUpAsync(key, openMaster, cancellationToken));
    }

    /// <summary>
    /// The key check runs in linear time where the pattern allows it, with no timeout: a match timeout counts
    /// wall-clock time, so a GC pause or a busy CPU made it refuse valid keys. Patterns the linear engine cannot run
    /// (backreferences, lookarounds) keep the backtracking engine and its timeout against catastrophic backtracking.
    /// </summary>
    private static Regex CreateKeyPattern(string pattern)
    {
        try
        {
            return new Regex(pattern, RegexOptions.CultureInvariant | RegexOptions.NonBacktracking);
        }
        catch (NotSupportedException)
        {
            return new Regex(pattern, RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100));
        }
    }

    /// <summary>Whether <paramref name="name"/> can be put between backticks as it is: letters, digits and '_', 1 to 64 of them.</summary>
    public static bool IsPlainTableName(string? name) => name is not null && IdentifierPattern.IsMatch(name);

    /// <summary>Checks a key against <see cref="TenantDbGuardOptions.TenantKeyPattern"/> before anything else happens.</summary>
    public void Validate(string tenantKey)
    {
        if (tenantKey is null)
        {
            throw new ArgumentNullException(nameof(tenantKey));
        }

        bool valid;
        try
        {
            valid = _keyPattern.IsMatch(tenantKey);
        }
        catch (RegexMatchTimeoutException)
        {
            valid = false;
        }

        if (!valid)
        {
            var shown = tenantKey.Length > 40 ? tenantKey.Substring(0, 40) + "…" : tenantKey;
            throw new ArgumentException(
                $"Tenant key '{shown}' ({tenantKey.Length} characters) does not match the allowed pattern {_options.TenantKeyPattern}; no query was run.",
                nameof(tenantKey));
        }
    }

    public async ValueTask<TenantInfo> ResolveAsync(string tenantKey, CancellationToken cancellationToken)
    {
        var now = Stopwatch.GetTimestamp();
        if (_cache.TryGetValue(tenantKey, out var entry) && entry.IsFresh(now))
        {
            return await Unwrap(tenantKey, entry.Task).ConfigureAwait(false);
        }

        // One lookup per key at a time: only the entry that makes it into the cache looks the key up, and the first
        // caller's cancellation does not cancel the others' answer.
        var fresh = new Entry();
        entry = _cache.AddOrUpdate(tenantKey, fresh, (_, existing) => existing.IsFresh(now) ? existing : fresh);
        if (ReferenceEquals(entry, fresh))
        {
            _ = fresh.LookUpAsync(() => _resolve(tenantKey, CancellationToken.None), _options.TenantCacheDuration, _options.UnknownTenantCacheDuration);
        }

        return await Unwrap(tenantKey, entry.Task.WaitAsync(cancellationToken)).ConfigureAwait(false);
    }

    /// <summary>Forgets a tenant (its database failed), so that the next call looks it up again.</summary>
    public void Forget(string tenantKey) => _cache.TryRemove(tenantKey, out _);

    private static async ValueTask<TenantInfo> Unwrap(string tenantKey, Task<TenantInfo?> task) =>
        await task.ConfigureAwait(false) ?? throw new TenantNotFoundException(tenantKey);

    private async ValueTask<TenantInfo?> LookUpAsync(string tenantKey, Func<CancellationToken, ValueTask<TenantConnectionLease>> openMaster, CancellationToken cancellationToken)
    {
        await using var lease = await openMaster(cancellationToken).ConfigureAwait(false);
        var row = await lease.Connection.QuerySingleOrDefaultAsync<TenantRow>(
            new CommandDefinition(_lookupSql, new { key = tenantKey }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return row is null ? null : new TenantInfo(tenantKey, row.DatabaseName, row.ServerHost, row.ServerPort);
    }

    private static long ToTicks(TimeSpan duration) => (long)(duration.TotalSeconds * Stopwatch.Frequency);

    /// <summary>One key's answer: in flight until the lookup ends, then cached until it expires.</summary>
    private sealed class Entry
    {
        private readonly TaskCompletionSource<TenantInfo?> _answer = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private long _expiresTicks = long.MaxValue;

        public Task<TenantInfo?> Task => _answer.Task;

        /// <summary>In flight, or answered and not expired; a failed lookup is never fresh.</summary>
        public bool IsFresh(long now) => !Task.IsFaulted && !Task.IsCanceled && Volatile.Read(ref _expiresTicks) > now;

        public async System.Threading.Tasks.Task LookUpAsync(Func<ValueTask<TenantInfo?>> resolve, TimeSpan known, TimeSpan unknown)
        {
            try
            {
                var info = await resolve().ConfigureAwait(false);

                // Unknown keys are remembered for a shorter time; the expiry is set before anyone sees the answer.
                Volatile.Write(ref _expiresTicks, Stopwatch.GetTimestamp() + ToTicks(info is null ? unknown : known));
                _answer.SetResult(info);
            }
            catch (Exception exception)
            {
                _answer.SetException(exception);
            }
        }
    }

    private sealed class TenantRow
    {
        public string DatabaseName { get; set; } = string.Empty;

        public string? ServerHost { get; set; }

        public int? ServerPort { get; set; }
    }
}
