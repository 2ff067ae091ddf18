using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;

namespace TenantDbGuard.Core;

/// <summary>
/// The answers of a custom <see cref="TenantDbGuardOptions.TenantResolver"/>. Known tenants are kept by their own key
/// for <see cref="TenantDbGuardOptions.TenantCacheDuration"/> (as many as the resolver knows); other spellings of a
/// known key, and unknown keys (for <see cref="TenantDbGuardOptions.UnknownTenantCacheDuration"/>), are remembered in
/// lists of fixed size, the oldest forgotten first. So a flood of bad keys neither repeats lookups of one key nor grows
/// memory. One lookup per key at a time; the first caller's cancellation does not cancel the others' answer.
/// </summary>
internal sealed class TenantResolverCache
{
    /// <summary>How many unknown keys, and how many other spellings of known keys, are remembered.</summary>
    internal const int Capacity = 1024;

    private readonly Func<string, CancellationToken, ValueTask<TenantInfo?>> _resolve;
    private readonly TenantDbGuardOptions _options;
    private readonly TenantRowRules _rules;
    private readonly ILogger _logger;
    private readonly object _gate = new();
    private readonly Dictionary<string, Known> _known = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _places = new(StringComparer.Ordinal);
    private readonly RecentKeys<string> _aliases = new(Capacity);
    private readonly RecentKeys<long> _unknown = new(Capacity);
    private readonly Dictionary<string, Task> _inFlight = new(StringComparer.Ordinal);

    public TenantResolverCache(Func<string, CancellationToken, ValueTask<TenantInfo?>> resolve, TenantDbGuardOptions options, TenantRowRules rules, ILogger logger)
    {
        _resolve = resolve;
        _options = options;
        _rules = rules;
        _logger = logger;
    }

    public async ValueTask<TenantInfo> ResolveAsync(string tenantKey, CancellationToken cancellationToken)
    {
        Task lookup;
        lock (_gate)
        {
            var now = Stopwatch.GetTimestamp();
            if (TryGetKnown(tenantKey, now, out var known))
            {
                return Accept(known);
            }

            if (_unknown.TryGet(tenantKey, out var expires) && expires > now)
            {
                throw new TenantNotFoundException(tenantKey);
            }

            if (!_inFlight.TryGetValue(tenantKey, out lookup!))
            {
                lookup = LookUpAsync(tenantKey);
                _inFlight[tenantKey] = lookup;
            }
        }

        await lookup.WaitAsync(cancellationToken).ConfigureAwait(false);
        lock (_gate)
        {
            return TryGetKnown(tenantKey, long.MinValue, out var known) ? Accept(known) : throw new TenantNotFoundException(tenantKey);
        }
    }

    /// <summary>Forgets the key and every remembered spelling of the tenant it names.</summary>
    public void Invalidate(string tenantKey)
    {
        lock (_gate)
        {
            var canonical = _aliases.TryGet(tenantKey, out var aliased) ? aliased : tenantKey;
            if (_known.Remove(canonical, out var known) && known.Refusal is null)
            {
                _places.Remove(_rules.Place(known.Tenant.DatabaseName, known.Tenant.ServerHost, known.Tenant.ServerPort));
            }

            _aliases.RemoveWhere((key, value) => string.Equals(key, tenantKey, StringComparison.Ordinal) || string.Equals(value, canonical, StringComparison.Ordinal));
            _unknown.RemoveWhere((key, _) => string.Equals(key, tenantKey, StringComparison.Ordinal));
        }
    }

    /// <summary>As <see cref="Invalidate"/>, for a tenant resolved at least <see cref="TenantDbGuardOptions.UnknownTenantCacheDuration"/> ago.</summary>
    public void Suspect(string tenantKey)
    {
        lock (_gate)
        {
            if (!TryGetKnown(tenantKey, long.MinValue, out var known)
                || Stopwatch.GetElapsedTime(known.ResolvedTicks) < _options.UnknownTenantCacheDuration)
            {
                return;
            }
        }

        Invalidate(tenantKey);
    }

    private static TenantInfo Accept(Known known) =>
        known.Refusal is null ? known.Tenant : throw new TenantConfigurationException(known.Tenant.TenantKey, known.Tenant.DatabaseName, known.Refusal);

    /// <summary>Under the lock: the tenant a key or one of its remembered spellings names, unless it expired before <paramref name="now"/>.</summary>
    private bool TryGetKnown(string tenantKey, long now, out Known known)
    {
        var canonical = _known.ContainsKey(tenantKey) ? tenantKey : _aliases.TryGet(tenantKey, out var aliased) ? aliased : null;
        if (canonical is not null && _known.TryGetValue(canonical, out known!) && known.ExpiresTicks > now)
        {
            return true;
        }

        known = null!;
        return false;
    }

    private async Task LookUpAsync(string tenantKey)
    {
        await Task.Yield();
        try
        {
            var tenant = await _resolve(tenantKey, CancellationToken.None).ConfigureAwait(false);
            lock (_gate)
            {
                var now = Stopwatch.GetTimestamp();
                if (tenant is null)
                {
                    _unknown.Set(tenantKey, now + ToTicks(_options.UnknownTenantCacheDuration));
                    return;
                }

                var canonical = tenant.TenantKey;
                if (_known.Remove(canonical, out var stale) && stale.Refusal is null)
                {
                    _places.Remove(_rules.Place(stale.Tenant.DatabaseName, stale.Tenant.ServerHost, stale.Tenant.ServerPort));
                }

                _known[canonical] = new Known(tenant, RefusalOf(tenant), now, now + ToTicks(_options.TenantCacheDuration));
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
                _inFlight.Remove(tenantKey);
            }
        }
    }

    /// <summary>Under the lock: why the resolver's answer is refused, or null; another known tenant on the same database counts.</summary>
    private string? RefusalOf(TenantInfo tenant)
    {
        var refusal = _rules.Refusal(tenant.DatabaseName, tenant.ServerHost, tenant.ServerPort);
        if (refusal is null)
        {
            var place = _rules.Place(tenant.DatabaseName, tenant.ServerHost, tenant.ServerPort);
            if (!_rules.AllowShared && _places.TryGetValue(place, out var other) && !string.Equals(other, tenant.TenantKey, StringComparison.Ordinal))
            {
                refusal = TenantRowRules.SharedRefusal(other);
            }
            else
            {
                _places[place] = tenant.TenantKey;
            }
        }

        if (refusal is not null)
        {
            Log.TenantRowRefused(_logger, LogSafe.Text(tenant.TenantKey), LogSafe.Text(tenant.DatabaseName), refusal);
        }

        return refusal;
    }

    private static long ToTicks(TimeSpan duration) =>
        duration >= TimeSpan.FromDays(3650) ? long.MaxValue / 2 : (long)(duration.TotalSeconds * Stopwatch.Frequency);

    private sealed record Known(TenantInfo Tenant, string? Refusal, long ResolvedTicks, long ExpiresTicks);

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
