using System;
using System.Collections.Generic;
using System.Diagnostics.Metrics;

namespace TenantDbGuard.Core;

/// <summary>
/// Splits an observed per-tenant count into a bounded number of series: the <c>top</c> tenants holding the most carry
/// their key in <see cref="Instruments.TenantTag"/>, all others are summed under <see cref="Instruments.OtherTenants"/>
/// (always reported, 0 when there are none). A tenant that drops out of the top is reported once more at 0, so that an
/// exporter that keeps the last value of a series no longer observed shows 0, not what the tenant held back then.
/// With <c>top</c> 0 there is one series without a tenant.
/// </summary>
internal sealed class TenantBreakdown
{
    private readonly int _top;
    private readonly KeyValuePair<string, object?>[] _tags;
    private readonly object _gate = new();
    private HashSet<string> _reported = new(StringComparer.Ordinal);

    public TenantBreakdown(int top, KeyValuePair<string, object?>[] tags)
    {
        _top = top;
        _tags = tags;
    }

    /// <summary>The measurements for one reading of <paramref name="counts"/> (tenants holding connections; reordered).</summary>
    public List<Measurement<int>> Observe(List<(string Tenant, int InUse)> counts)
    {
        var measurements = new List<Measurement<int>>(Math.Min(counts.Count, _top) + 1);
        if (_top <= 0)
        {
            var total = 0;
            foreach (var (_, inUse) in counts)
            {
                total += inUse;
            }

            measurements.Add(new Measurement<int>(total, _tags));
            return measurements;
        }

        counts.Sort(Compare);
        var reported = new HashSet<string>(StringComparer.Ordinal);
        var others = 0;
        for (var i = 0; i < counts.Count; i++)
        {
            if (i < _top)
            {
                reported.Add(counts[i].Tenant);
                measurements.Add(new Measurement<int>(counts[i].InUse, With(counts[i].Tenant)));
            }
            else
            {
                others += counts[i].InUse;
            }
        }

        measurements.Add(new Measurement<int>(others, With(Instruments.OtherTenants)));
        lock (_gate)
        {
            foreach (var gone in _reported)
            {
                if (!reported.Contains(gone))
                {
                    measurements.Add(new Measurement<int>(0, With(gone)));
                }
            }

            _reported = reported;
        }

        return measurements;
    }

    /// <summary>Most connections first; ties in key order, so that the same counts always pick the same tenants.</summary>
    private static int Compare((string Tenant, int InUse) x, (string Tenant, int InUse) y) =>
        x.InUse != y.InUse ? y.InUse.CompareTo(x.InUse) : string.CompareOrdinal(x.Tenant, y.Tenant);

    private KeyValuePair<string, object?>[] With(string tenant)
    {
        var tags = new KeyValuePair<string, object?>[_tags.Length + 1];
        _tags.CopyTo(tags, 0);
        tags[^1] = new KeyValuePair<string, object?>(Instruments.TenantTag, tenant);
        return tags;
    }
}
