using System.Collections.Concurrent;

namespace TenantDbGuard.Runtime.Tests.Infrastructure;

/// <summary>
/// A <see cref="TenantDbGuardOptions.TenantResolver"/> that knows the tenants it is given and counts how often it is
/// asked about each key, so that a test can tell whether (and how often) the runtime looked a key up.
/// </summary>
public sealed class CountingTenantResolver(params TenantInfo[] known)
{
    private readonly ConcurrentDictionary<string, int> _calls = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TenantInfo> _known = known.ToDictionary(t => t.TenantKey, StringComparer.Ordinal);

    /// <summary>How long each lookup takes; none by default (the answer is then synchronous).</summary>
    public TimeSpan? Delay { get; init; }

    /// <summary>How often <paramref name="key"/> was asked about.</summary>
    public int Calls(string key) => _calls.GetValueOrDefault(key);

    /// <summary>How often any key was asked about.</summary>
    public int TotalCalls => _calls.Values.Sum();

    public async ValueTask<TenantInfo?> ResolveAsync(string key, CancellationToken cancellationToken)
    {
        _calls.AddOrUpdate(key, 1, (_, n) => n + 1);
        if (Delay is { } wait)
        {
            await Task.Delay(wait, cancellationToken);
        }

        return _known.GetValueOrDefault(key);
    }
}
