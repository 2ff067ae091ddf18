using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;

namespace TenantDbGuard.Core;

/// <summary>
/// The answers of the tenant lookup (the tenants table, or a custom <see cref="TenantDbGuardOptions.TenantResolver"/>),
/// with memory and lookups bounded whatever keys callers send:
/// <list type="bullet">
/// <item>known tenants are kept by the key of their row for <see cref="TenantDbGuardOptions.TenantCacheDuration"/> (as
/// many as there are tenants); other spellings of a known key (<c>ACME</c> for <c>acme</c>) point to it from a list of
/// fixed size;</item>
/// <item>unknown keys are remembered for <see cref="TenantDbGuardOptions.UnknownTenantCacheDuration"/> in a list of fixed
/// size, the oldest forgotten first;</item>
/// <item>keys never seen before are looked up in the tenants table only while a bucket of <see cref="NewKeysPerSecond"/>
/// tokens, refilled at that many a second, has one left: each such lookup takes a token, and gives it back if it found a
/// tenant not known yet. Keys that find nothing (or another spelling of a known tenant) are so looked up at most that
/// many times a second, and beyond that a flood of them is answered "not found" without a query (a tenant created during
/// such a flood is found once it ebbs); the tenants themselves, however many there are, are found on the first request
/// that names them, a cold start included. When the bucket is empty while such lookups are still running, a new key
/// waits for them, since each one that finds a tenant gives its token back (a cold start with more first requests at
/// once than there are tokens); it is refused only once the lookups it waited for found no new tenant. Known tenants
/// are looked up again whatever the flood.</item>
/// </list>
/// One lookup per key at a time, shared by every caller that asks meanwhile. The lookup gets a token that is cancelled
/// once every caller waiting for it has cancelled (so one caller's cancellation does not cancel the others' answer); a
/// lookup that was cancelled or failed leaves nothing behind, and the next caller looks the key up again.
/// </summary>
internal sealed class TenantResolverCache
{
    /// <summary>How many unknown keys, and how many other spellings of known keys, are remembered.</summary>
    internal const int Capacity = 1024;

    /// <summary>Lookups of keys never seen before that find no new tenant, per second (and at once), when the lookup reads the tenants table.</summary>
    internal const int NewKeysPerSecond = 100;

    private readonly Func<string, CancellationToken, ValueTask<Resolved?>> _lookUp;
    private readonly bool _tenantsTable;
    private readonly TenantDbGuardOptions _options;
    private readonly TenantRowRules _rules;
    private readonly ILogger _logger;
    private readonly object _gate = new();
    private readonly Dictionary<string, Known> _known = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _places = new(StringComparer.Ordinal);
    private readonly RecentKeys<string> _aliases = new(Capacity);
    private readonly RecentKeys<long> _unknown = new(Capacity);
    private readonly RecentKeys<bool> _forgotten = new(Capacity);
    private readonly Dictionary<string, Lookup> _inFlight = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Task> _limitedInFlight = new(StringComparer.Ordinal);
    private long _tokensGivenBack;
    private double _tokens = NewKeysPerSecond;
    private readonly TimeProvider _time;
    private long _tokensTicks;

    /// <param name="lookUp">Looks a key up; null when no active tenant has it.</param>
    /// <param name="tenantsTable">
    /// Whether the lookup reads the tenants table: lookups of keys never seen before are then limited per second (they
    /// query the master database), and the lookup's own report of another active tenant on the same database is the one
    /// that counts (a custom resolver reports none: the tenants it answered so far count instead).
    /// </param>
    /// <param name="options">The cache durations.</param>
    /// <param name="rules">What a tenant's row must not name.</param>
    /// <param name="logger">Where refused rows are logged.</param>
    public TenantResolverCache(Func<string, CancellationToken, ValueTask<Resolved?>> lookUp, bool tenantsTable, TenantDbGuardOptions options, TenantRowRules rules, ILogger logger)
    {
        _lookUp = lookUp;
        _tenantsTable = tenantsTable;
        _options = options;
        _rules = rules;
        _logger = logger;
        _time = options.TimeProvider;
        _tokensTicks = _time.GetTimestamp();
    }

    public async ValueTask<TenantInfo> ResolveAsync(string tenantKey, CancellationToken cancellationToken)
    {
        Lookup? lookup = null;
        var givenBackBeforeWait = -1L;
        while (lookup is null)
        {
            Task? running = null;
            lock (_gate)
            {
                var now = _time.GetTimestamp();
                var canonical = CanonicalOf(tenantKey);
                if (canonical is not null && _known.TryGetValue(canonical, out var known) && known.ExpiresTicks > now)
                {
                    return Accept(known);
                }

                if (_unknown.TryGet(tenantKey, out var expires) && expires > now)
                {
                    throw new TenantNotFoundException(tenantKey);
                }

                if (_inFlight.TryGetValue(tenantKey, out lookup))
                {
                    lookup.Waiters++;
                }
                else
                {
                    // A caller that has given up asks nothing of the directory (and takes no token from the bound).
                    cancellationToken.ThrowIfCancellationRequested();
                    var limited = _tenantsTable && canonical is null && !_forgotten.TryGet(tenantKey, out _);
                    if (limited && !TakeToken(now))
                    {
                        // The lookups still running may find tenants and give their tokens back: wait for them, and again
                        // for as long as waiting gives tokens back; refuse once it gave none (a flood of unknown keys).
                        if (_limitedInFlight.Count == 0 || _tokensGivenBack == givenBackBeforeWait)
                        {
                            throw TenantNotFoundException.LookupsLimited(tenantKey, NewKeysPerSecond);
                        }

                        givenBackBeforeWait = _tokensGivenBack;
                        running = Task.WhenAll(_limitedInFlight.Values);
                    }
                    else
                    {
                        lookup = new Lookup();
                        lookup.Task = LookUpAsync(tenantKey, tookToken: limited, lookup);
                        _inFlight[tenantKey] = lookup;
                        if (limited)
                        {
                            _limitedInFlight[tenantKey] = lookup.Task;
                        }
                    }
                }
            }

            if (running is not null)
            {
                // A lookup's failure is its own callers' to see; here it only means it is over (WhenAny does not throw it).
                await Task.WhenAny(running).WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        try
        {
            await lookup.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Abandon(tenantKey, lookup);
            throw;
        }

        // The lookup's own answer: what the cache holds by now may already have been invalidated again.
        return lookup.Answer is { } answer ? Accept(answer) : throw new TenantNotFoundException(tenantKey);
    }

    /// <summary>
    /// A caller of <paramref name="lookup"/> cancelled: when it was the last one waiting, the lookup is cancelled and
    /// forgotten at once, so that the next caller starts a lookup of its own instead of waiting for this one.
    /// </summary>
    private void Abandon(string tenantKey, Lookup lookup)
    {
        lock (_gate)
        {
            if (--lookup.Waiters > 0 || lookup.Task.IsCompleted)
            {
                return;
            }

            Forget(tenantKey, lookup);
        }

        try
        {
            lookup.Cancellation.Cancel();
        }
        catch (AggregateException)
        {
            // A callback the resolver registered failed; the lookup is forgotten all the same.
        }
    }

    /// <summary>Under the lock: <paramref name="lookup"/> no longer runs for <paramref name="tenantKey"/> (a later one may).</summary>
    private void Forget(string tenantKey, Lookup lookup)
    {
        if (_inFlight.TryGetValue(tenantKey, out var current) && ReferenceEquals(current, lookup))
        {
            _inFlight.Remove(tenantKey);
        }

        if (_limitedInFlight.TryGetValue(tenantKey, out var running) && ReferenceEquals(running, lookup.Task))
        {
            _limitedInFlight.Remove(tenantKey);
        }
    }

    /// <summary>
    /// Forgets the tenant a key names, and every remembered spelling of it. A spelling never looked up may still name a
    /// known tenant (the key column's collation decides): every known tenant whose key differs from it only in case is
    /// forgotten too, which at worst costs those tenants one lookup. Lookups still running may have read the tenant's row
    /// before the change that the invalidation announces, and any key may turn out to name this tenant: none of them is
    /// joined by a later caller, and what they find is answered to their callers but not remembered.
    /// </summary>
    public void Invalidate(string tenantKey)
    {
        lock (_gate)
        {
            foreach (var running in _inFlight.Values)
            {
                running.Stale = true;
            }

            _inFlight.Clear();

            var forget = new List<string>();
            if (CanonicalOf(tenantKey) is { } canonical)
            {
                forget.Add(canonical);
            }

            foreach (var key in _known.Keys)
            {
                if (string.Equals(key, tenantKey, StringComparison.OrdinalIgnoreCase))
                {
                    forget.Add(key);
                }
            }

            foreach (var key in forget)
            {
                ForgetKnown(key);
            }

            _aliases.Remove(tenantKey);
            ForgetUnknown(tenantKey);
            _forgotten.Set(tenantKey, true);
        }
    }

    /// <summary>
    /// Under the lock: forgets the known tenant of key <paramref name="key"/> and its spellings; its next request looks
    /// it up.
    /// </summary>
    private void ForgetKnown(string key)
    {
        if (_known.Remove(key, out var known))
        {
            FreePlace(known.Resolved);
        }

        _aliases.RemoveWhere((_, value) => string.Equals(value, key, StringComparison.Ordinal));

        // Looked up again whatever a flood of new keys does.
        _forgotten.Set(key, true);
    }

    /// <summary>
    /// Under the lock: forgets that <paramref name="tenantKey"/>, and every key that differs from it only in case,
    /// named no tenant (the key column's collation decides which spellings name one tenant; at worst this costs them a
    /// lookup).
    /// </summary>
    private void ForgetUnknown(string tenantKey) =>
        _unknown.RemoveWhere((key, _) => string.Equals(key, tenantKey, StringComparison.OrdinalIgnoreCase));

    /// <summary>As <see cref="Invalidate"/>, for a tenant resolved at least <see cref="TenantDbGuardOptions.UnknownTenantCacheDuration"/> ago.</summary>
    public void Suspect(string tenantKey)
    {
        lock (_gate)
        {
            var canonical = CanonicalOf(tenantKey);
            if (canonical is null || !_known.TryGetValue(canonical, out var known)
                || _time.GetElapsedTime(known.ResolvedTicks) < _options.UnknownTenantCacheDuration)
            {
                return;
            }
        }

        Invalidate(tenantKey);
    }

    private static TenantInfo Accept(Known known) =>
        known.Refusal is null ? known.Tenant! : throw new TenantConfigurationException(known.Resolved.TenantKey, known.Resolved.DatabaseName, known.Refusal);

    /// <summary>Under the lock: the key of the known tenant <paramref name="tenantKey"/> names, or null.</summary>
    private string? CanonicalOf(string tenantKey) =>
        _known.ContainsKey(tenantKey) ? tenantKey : _aliases.TryGet(tenantKey, out var aliased) ? aliased : null;

    /// <summary>Under the lock: whether one more key never seen before may be looked up now.</summary>
    private bool TakeToken(long now)
    {
        _tokens = Math.Min(NewKeysPerSecond, _tokens + _time.GetElapsedTime(_tokensTicks, now).TotalSeconds * NewKeysPerSecond);
        _tokensTicks = now;
        if (_tokens < 1)
        {
            return false;
        }

        _tokens--;
        return true;
    }

    /// <summary>Under the lock: a lookup found a tenant for the first time, so it does not count against the flood limit.</summary>
    private void GiveTokenBack()
    {
        _tokens = Math.Min(NewKeysPerSecond, _tokens + 1);
        _tokensGivenBack++;
    }

    private async Task LookUpAsync(string tenantKey, bool tookToken, Lookup lookup)
    {
        // Off the caller's stack (it holds the gate), and never back onto its synchronization context: Task.Yield
        // would post there, and a caller that blocks on the lookup (TenantDbConnection.Open, sync over async) would
        // wait for good.
        await Task.CompletedTask.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
        try
        {
            var resolved = await _lookUp(tenantKey, lookup.Cancellation.Token).ConfigureAwait(false);
            lock (_gate)
            {
                var now = _time.GetTimestamp();
                if (lookup.Stale)
                {
                    // Started before an invalidation: its callers get what it found, the cache keeps nothing of it.
                    if (resolved is not null && tookToken && !_known.ContainsKey(resolved.TenantKey))
                    {
                        GiveTokenBack();
                    }

                    lookup.Answer = resolved is null ? null : Answer(resolved, RefusalOf(resolved, record: false), now);
                    return;
                }

                if (resolved is null)
                {
                    // A tenant known by this key, or this spelling, is gone (removed, deactivated, renamed): its database is free.
                    if (_known.Remove(tenantKey, out var gone))
                    {
                        FreePlace(gone.Resolved);
                    }

                    _aliases.Remove(tenantKey);

                    _unknown.Set(tenantKey, now + ToTicks(_options.UnknownTenantCacheDuration));
                    return;
                }

                var canonical = resolved.TenantKey;
                if (_known.Remove(canonical, out var stale))
                {
                    FreePlace(stale.Resolved);
                }
                else if (tookToken)
                {
                    GiveTokenBack();
                }

                lookup.Answer = _known[canonical] = Answer(resolved, RefusalOf(resolved, record: true), now);

                // Other spellings of the key remembered as unknown before the tenant existed (or was active) name it
                // now.
                ForgetUnknown(canonical);
                if (!string.Equals(canonical, tenantKey, StringComparison.OrdinalIgnoreCase))
                {
                    ForgetUnknown(tenantKey);
                }

                if (!string.Equals(canonical, tenantKey, StringComparison.Ordinal))
                {
                    _aliases.Set(tenantKey, canonical);
                }
            }
        }
        finally
        {
            lock (_gate)
            {
                Forget(tenantKey, lookup);
            }
        }
    }

    private Known Answer(Resolved resolved, string? refusal, long now)
    {
        var tenant = refusal is null ? new TenantInfo(resolved.TenantKey, resolved.DatabaseName, resolved.ServerHost, resolved.ServerPort) : null;
        return new Known(resolved, tenant, refusal, now, now + ToTicks(_options.TenantCacheDuration));
    }

    /// <summary>
    /// Under the lock: why a tenant is refused, or null. Another active tenant on the same database counts as the
    /// lookup reported it (the tenants table's, which knows every active row now) or, for a custom resolver, among the
    /// tenants it answered so far. With <paramref name="record"/>, a tenant that is not refused takes its database for
    /// the custom resolver's later answers.
    /// </summary>
    private string? RefusalOf(Resolved resolved, bool record)
    {
        var refusal = string.Equals(resolved.TenantKey, TenantDatabase.MasterKey, StringComparison.OrdinalIgnoreCase)
            ? TenantRowRules.ReservedKeyRefusal
            : resolved.Ambiguous
                ? TenantRowRules.AmbiguousRefusal
                : _rules.Refusal(resolved.DatabaseName, resolved.ServerHost, resolved.ServerPort);
        if (refusal is null && !_rules.AllowShared)
        {
            var place = Place(resolved);
            if (resolved.SharedWith is { } shared)
            {
                refusal = TenantRowRules.SharedRefusal(shared);
            }
            else if (!_tenantsTable && _places.TryGetValue(place, out var other) && !string.Equals(other, resolved.TenantKey, StringComparison.Ordinal))
            {
                refusal = TenantRowRules.SharedRefusal(other);
            }
            else if (record)
            {
                if (_tenantsTable && _places.TryGetValue(place, out var previous) && !string.Equals(previous, resolved.TenantKey, StringComparison.Ordinal))
                {
                    // The tenants table has no other active row on this database now: the tenant remembered on it was
                    // moved or removed since it was looked up. It is looked up again on its next request, rather than
                    // served on what is now this tenant's database until its answer expires.
                    ForgetKnown(previous);
                }

                _places[place] = resolved.TenantKey;
            }
        }

        if (refusal is not null)
        {
            Log.TenantRowRefused(_logger, LogSafe.Text(resolved.TenantKey), LogSafe.Text(resolved.DatabaseName), refusal);
        }

        return refusal;
    }

    private string Place(Resolved resolved) => _rules.Place(resolved.DatabaseName, resolved.ServerHost, resolved.ServerPort);

    /// <summary>
    /// Under the lock: the tenant of <paramref name="resolved"/> no longer holds its database. A tenant refused for
    /// sharing another's database never held it: the other tenant keeps it.
    /// </summary>
    private void FreePlace(Resolved resolved)
    {
        var place = Place(resolved);
        if (_places.TryGetValue(place, out var holder) && string.Equals(holder, resolved.TenantKey, StringComparison.Ordinal))
        {
            _places.Remove(place);
        }
    }

    private long ToTicks(TimeSpan duration) =>
        duration >= TimeSpan.FromDays(3650) ? long.MaxValue / 2 : (long)(duration.TotalSeconds * _time.TimestampFrequency);

    /// <summary>What a lookup found: the row (its own key first), and another active tenant on the same database, if the lookup knows.</summary>
    internal sealed record Resolved(string TenantKey, string DatabaseName, string? ServerHost, int? ServerPort, string? SharedWith)
    {
        /// <summary>
        /// Whether the tenants table has more than one active row for the key: none of them is served.
        /// </summary>
        public bool Ambiguous { get; init; }
    }

    /// <summary>One lookup of a key, and how many callers wait for it (changed under the lock).</summary>
    private sealed class Lookup
    {
        public CancellationTokenSource Cancellation { get; } = new();

        public Task Task { get; set; } = Task.CompletedTask;

        public int Waiters { get; set; } = 1;

        /// <summary>Whether an invalidation came while it ran: nothing it finds is remembered.</summary>
        public bool Stale { get; set; }

        /// <summary>What it found, once it ran to its end: null when no active tenant has the key.</summary>
        public Known? Answer { get; set; }
    }

    private sealed record Known(Resolved Resolved, TenantInfo? Tenant, string? Refusal, long ResolvedTicks, long ExpiresTicks);

    /// <summary>Keys with a value, at most <c>capacity</c> of them: setting one more forgets the one set longest ago.</summary>
    private sealed class RecentKeys<TValue>
    {
        private readonly int _capacity;
        private readonly Dictionary<string, LinkedListNode<(string Key, TValue Value)>> _nodes = new(StringComparer.Ordinal);
        private readonly LinkedList<(string Key, TValue Value)> _order = new();

        public RecentKeys(int capacity) => _capacity = capacity;

        public bool TryGet(string key, out TValue value)
        {
            if (_nodes.TryGetValue(key, out var node))
            {
                value = node.Value.Value;
                return true;
            }

            value = default!;
            return false;
        }

        public void Set(string key, TValue value)
        {
            if (_nodes.Remove(key, out var existing))
            {
                _order.Remove(existing);
            }

            _nodes[key] = _order.AddLast((key, value));
            if (_nodes.Count > _capacity)
            {
                var oldest = _order.First!;
                _order.RemoveFirst();
                _nodes.Remove(oldest.Value.Key);
            }
        }

        public void Remove(string key)
        {
            if (_nodes.Remove(key, out var node))
            {
                _order.Remove(node);
            }
        }

        public void RemoveWhere(Func<string, TValue, bool> remove)
        {
            for (var node = _order.First; node is not null;)
            {
                var next = node.Next;
                if (remove(node.Value.Key, node.Value.Value))
                {
                    _order.Remove(node);
                    _nodes.Remove(node.Value.Key);
                }

                node = next;
            }
        }
    }
}
