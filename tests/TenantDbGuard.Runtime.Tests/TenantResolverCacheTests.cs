using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;
using TenantDbGuard.Core;
using TenantDbGuard.Runtime.Tests.Infrastructure;

namespace TenantDbGuard.Runtime.Tests;

/// <summary>
/// The cache of tenant lookups, without a server: the lookup is a scripted directory (as a custom resolver or the
/// tenants table would answer), time is a fake clock. What it pins: the bound on keys never seen before (100 a second,
/// 100 at once, tokens given back by lookups that find new tenants, waits for lookups in flight), what bypasses that
/// bound (known tenants whose entry expired, invalidated keys), one lookup per key shared by its callers and cancelled
/// only when all of them cancelled, failed lookups that leave nothing behind, the expiry of both caches to the tick,
/// the fixed-size lists of unknown keys and other spellings, and the one-database-per-tenant rule across lookups.
/// </summary>
public sealed class TenantResolverCacheTests
{
    private const int TenantRowRefused = 1023;

    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    // ---- The bound on keys never seen before (the tenants table's lookups) ----

    [Fact]
    public async Task At_a_standstill_a_hundred_new_keys_are_looked_up_and_the_next_is_refused_unasked()
    {
        var directory = new TenantDirectory();
        var cache = directory.CreateCache(tenantsTable: true);

        await AssertLookedUpAndUnknownAsync(cache, directory, "unknown-", 0, TenantResolverCache.NewKeysPerSecond);

        var refused = await Assert.ThrowsAsync<TenantNotFoundException>(() => cache.ResolveAsync("unknown-x", CancellationToken.None).AsTask());
        Assert.True(refused.IsTransient);
        Assert.Contains("was not looked up", refused.Message);
        Assert.Equal(0, directory.Calls("unknown-x"));
    }

    [Fact]
    public async Task The_bucket_refills_at_a_hundred_keys_a_second_and_holds_at_most_a_hundred()
    {
        var directory = new TenantDirectory();
        var cache = directory.CreateCache(tenantsTable: true);
        await AssertLookedUpAndUnknownAsync(cache, directory, "first-", 0, 100);

        // 25 ms: two and a half tokens, so two keys.
        directory.Time.Advance(TimeSpan.FromMilliseconds(25));
        await AssertLookedUpAndUnknownAsync(cache, directory, "second-", 0, 2);
        await AssertRefusedUnaskedAsync(cache, directory, "second-2");

        // Another 10 ms: the half token kept, and one more, make one and a half.
        directory.Time.Advance(TimeSpan.FromMilliseconds(10));
        await AssertLookedUpAndUnknownAsync(cache, directory, "third-", 0, 1);
        await AssertRefusedUnaskedAsync(cache, directory, "third-1");

        // An hour refills the bucket to a hundred, not to 360,000.
        directory.Time.Advance(TimeSpan.FromHours(1));
        await AssertLookedUpAndUnknownAsync(cache, directory, "fourth-", 0, 100);
        await AssertRefusedUnaskedAsync(cache, directory, "fourth-100");
    }

    [Fact]
    public async Task Lookups_that_find_new_tenants_give_their_tokens_back_up_to_what_the_bucket_held()
    {
        var directory = new TenantDirectory();
        for (var i = 0; i < 300; i++)
        {
            directory.Add($"tenant-{i}", $"tdg_tenant_{i}");
        }

        var cache = directory.CreateCache(tenantsTable: true);
        await AssertLookedUpAndUnknownAsync(cache, directory, "unknown-", 0, 50);

        // Three times the bucket of first requests for real tenants, at a standstill: each is found.
        for (var i = 0; i < 300; i++)
        {
            Assert.Equal($"tdg_tenant_{i}", (await cache.ResolveAsync($"tenant-{i}", CancellationToken.None)).DatabaseName);
        }

        // The fifty tokens left before are left now: no more.
        await AssertLookedUpAndUnknownAsync(cache, directory, "unknown-", 50, 50);
        await AssertRefusedUnaskedAsync(cache, directory, "unknown-100");
    }

    [Fact]
    public async Task Other_spellings_of_a_known_tenant_count_against_the_bound()
    {
        var directory = new TenantDirectory();
        directory.Add("tenant-abcdefgh", "tdg_abcdefgh");
        var cache = directory.CreateCache(tenantsTable: true);
        await cache.ResolveAsync("tenant-abcdefgh", CancellationToken.None);

        var spellings = Spellings("tenant-abcdefgh").Skip(1).Take(101).ToArray();
        foreach (var spelling in spellings.Take(100))
        {
            Assert.Equal("tenant-abcdefgh", (await cache.ResolveAsync(spelling, CancellationToken.None)).TenantKey);
        }

        await AssertRefusedUnaskedAsync(cache, directory, spellings[100]);

        // The tenant itself, and the spellings already seen, are still served.
        Assert.Equal("tenant-abcdefgh", (await cache.ResolveAsync("tenant-abcdefgh", CancellationToken.None)).TenantKey);
        Assert.Equal("tenant-abcdefgh", (await cache.ResolveAsync(spellings[0], CancellationToken.None)).TenantKey);
        Assert.Equal(1, directory.Calls(spellings[0]));
    }

    [Fact]
    public async Task A_known_tenant_whose_entry_expired_is_looked_up_again_during_a_flood()
    {
        var directory = new TenantDirectory();
        directory.Add("acme", "tdg_acme");
        var cache = directory.CreateCache(tenantsTable: true, o => o.TenantCacheDuration = TimeSpan.FromSeconds(1));
        await cache.ResolveAsync("acme", CancellationToken.None);
        directory.Time.Advance(TimeSpan.FromSeconds(2));
        await AssertLookedUpAndUnknownAsync(cache, directory, "unknown-", 0, 100);
        await AssertRefusedUnaskedAsync(cache, directory, "unknown-100");

        Assert.Equal("tdg_acme", (await cache.ResolveAsync("acme", CancellationToken.None)).DatabaseName);

        Assert.Equal(2, directory.Calls("acme"));
    }

    [Fact]
    public async Task Invalidated_keys_are_looked_up_again_during_a_flood()
    {
        var directory = new TenantDirectory();
        directory.Add("acme", "tdg_acme");
        var cache = directory.CreateCache(tenantsTable: true);
        await cache.ResolveAsync("acme", CancellationToken.None);
        await Assert.ThrowsAsync<TenantNotFoundException>(() => cache.ResolveAsync("later", CancellationToken.None).AsTask());
        await AssertLookedUpAndUnknownAsync(cache, directory, "unknown-", 0, 99);
        await AssertRefusedUnaskedAsync(cache, directory, "unknown-99");

        // The tenant by another spelling, and an unknown key that has just been added to the directory.
        cache.Invalidate("ACME");
        cache.Invalidate("later");
        directory.Add("later", "tdg_later");

        Assert.Equal("acme", (await cache.ResolveAsync("acme", CancellationToken.None)).TenantKey);
        Assert.Equal("tdg_later", (await cache.ResolveAsync("later", CancellationToken.None)).DatabaseName);
        Assert.Equal((2, 2), (directory.Calls("acme"), directory.Calls("later")));
    }

    [Fact]
    public async Task A_new_key_beyond_the_bound_waits_for_the_lookups_in_flight_and_is_found_when_they_find_tenants()
    {
        var directory = new TenantDirectory();
        for (var i = 0; i <= 100; i++)
        {
            directory.Add($"tenant-{i}", $"tdg_tenant_{i}");
        }

        // One tenant found first, so that a token has been given back before the wait.
        directory.Add("tenant-early", "tdg_tenant_early");
        var cache = directory.CreateCache(tenantsTable: true);
        await cache.ResolveAsync("tenant-early", CancellationToken.None);
        directory.Gated = true;
        var first = Enumerable.Range(0, 100).Select(i => cache.ResolveAsync($"tenant-{i}", CancellationToken.None).AsTask()).ToArray();
        await directory.WaitForCallsAsync(101);

        var waiting = cache.ResolveAsync("tenant-100", CancellationToken.None).AsTask();
        await Task.Delay(50);
        Assert.False(waiting.IsCompleted);
        Assert.Equal(0, directory.Calls("tenant-100"));

        directory.Open();
        Assert.Equal("tdg_tenant_100", (await waiting.WaitAsync(Patience)).DatabaseName);
        Assert.All(await Task.WhenAll(first).WaitAsync(Patience), tenant => Assert.StartsWith("tdg_tenant_", tenant.DatabaseName));
    }

    [Fact]
    public async Task A_cold_start_with_more_than_twice_the_bound_of_first_requests_at_once_finds_every_tenant()
    {
        // The first hundred take the tokens; the others wait, and those that lose the tokens given back to the ones
        // waiting beside them wait again for the lookups that those started.
        var directory = new TenantDirectory { Gated = true };
        for (var i = 0; i < 250; i++)
        {
            directory.Add($"tenant-{i}", $"tdg_tenant_{i}");
        }

        var cache = directory.CreateCache(tenantsTable: true);
        var callers = Enumerable.Range(0, 250).Select(i => cache.ResolveAsync($"tenant-{i}", CancellationToken.None).AsTask()).ToArray();
        await directory.WaitForCallsAsync(100);
        await Task.Delay(50);

        directory.Open();

        var tenants = await Task.WhenAll(callers).WaitAsync(Patience);
        Assert.Equal(Enumerable.Range(0, 250).Select(i => $"tdg_tenant_{i}"), tenants.Select(t => t.DatabaseName));
    }

    [Fact]
    public async Task A_new_key_beyond_the_bound_is_refused_once_the_lookups_it_waited_for_found_nothing()
    {
        var directory = new TenantDirectory { Gated = true };
        var cache = directory.CreateCache(tenantsTable: true);
        var first = Enumerable.Range(0, 100).Select(i => cache.ResolveAsync($"unknown-{i}", CancellationToken.None).AsTask()).ToArray();
        await directory.WaitForCallsAsync(100);

        var waiting = cache.ResolveAsync("unknown-100", CancellationToken.None).AsTask();
        await Task.Delay(50);
        Assert.False(waiting.IsCompleted);

        directory.Open();
        var refused = await Assert.ThrowsAsync<TenantNotFoundException>(() => waiting.WaitAsync(Patience));
        Assert.True(refused.IsTransient);
        Assert.Equal(0, directory.Calls("unknown-100"));
        foreach (var lookup in first)
        {
            Assert.False((await Assert.ThrowsAsync<TenantNotFoundException>(() => lookup.WaitAsync(Patience))).IsTransient);
        }
    }

    [Fact]
    public async Task A_new_key_beyond_the_bound_is_refused_without_waiting_for_lookups_that_started_after_it()
    {
        var directory = new TenantDirectory { Gated = true };
        var cache = directory.CreateCache(tenantsTable: true);
        var first = Enumerable.Range(0, 100).Select(i => cache.ResolveAsync($"unknown-{i}", CancellationToken.None).AsTask()).ToArray();
        await directory.WaitForCallsAsync(100);
        var waiting = cache.ResolveAsync("unknown-w", CancellationToken.None).AsTask();
        await Task.Delay(50);

        // A token refills, and a key that arrives now is looked up with it; that lookup is still running ...
        directory.Time.Advance(TimeSpan.FromMilliseconds(10));
        var later = cache.ResolveAsync("unknown-later", CancellationToken.None).AsTask();
        await directory.WaitForCallsAsync(101);

        // ... when the lookups the waiting key waited for end, finding nothing: it is refused now, not after that one.
        for (var i = 0; i < 100; i++)
        {
            directory.Release($"unknown-{i}", call: 1);
        }

        Assert.True((await Assert.ThrowsAsync<TenantNotFoundException>(() => waiting.WaitAsync(Patience))).IsTransient);
        Assert.False(later.IsCompleted);
        directory.Open();
        await Assert.ThrowsAsync<TenantNotFoundException>(() => later.WaitAsync(Patience));
        await Task.WhenAll(first.Select(t => Assert.ThrowsAsync<TenantNotFoundException>(() => t.WaitAsync(Patience))));
    }

    [Fact]
    public async Task A_new_key_waiting_beyond_the_bound_can_be_cancelled()
    {
        var directory = new TenantDirectory { Gated = true };
        var cache = directory.CreateCache(tenantsTable: true);
        var first = Enumerable.Range(0, 100).Select(i => cache.ResolveAsync($"unknown-{i}", CancellationToken.None).AsTask()).ToArray();
        await directory.WaitForCallsAsync(100);
        using var cancel = new CancellationTokenSource();
        var waiting = cache.ResolveAsync("unknown-100", cancel.Token).AsTask();
        await Task.Delay(50);

        cancel.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(Patience));
        directory.Open();
        await Task.WhenAll(first.Select(t => Assert.ThrowsAsync<TenantNotFoundException>(() => t.WaitAsync(Patience))));
    }

    [Fact]
    public async Task A_caller_cancelled_before_it_asks_starts_no_lookup_and_takes_no_token()
    {
        var directory = new TenantDirectory();
        directory.Add("acme", "tenant_acme");
        var cache = directory.CreateCache(tenantsTable: true);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cache.ResolveAsync("unknown-cancelled", new CancellationToken(canceled: true)).AsTask());
        Assert.Equal(0, directory.Calls("unknown-cancelled"));

        // The bucket is still full: a hundred new keys are looked up.
        await AssertLookedUpAndUnknownAsync(cache, directory, "unknown-", 0, TenantResolverCache.NewKeysPerSecond);
    }

    [Fact]
    public async Task A_custom_resolver_is_not_bound()
    {
        var directory = new TenantDirectory();
        var cache = directory.CreateCache(tenantsTable: false);

        await AssertLookedUpAndUnknownAsync(cache, directory, "unknown-", 0, 300);
    }

    // ---- One lookup per key, and what a failed or cancelled one leaves ----

    [Fact]
    public async Task Callers_of_one_key_share_one_lookup_and_its_answer()
    {
        var directory = new TenantDirectory { Gated = true };
        directory.Add("acme", "tdg_acme");
        var cache = directory.CreateCache(tenantsTable: true);

        var callers = Enumerable.Range(0, 5).Select(_ => cache.ResolveAsync("acme", CancellationToken.None).AsTask()).ToArray();
        await directory.WaitForCallsAsync(1);
        await Task.Delay(50);
        directory.Open();

        var answers = await Task.WhenAll(callers).WaitAsync(Patience);
        Assert.All(answers, answer => Assert.Same(answers[0], answer));
        Assert.Equal(1, directory.Calls("acme"));
    }

    [Fact]
    public async Task A_lookup_is_cancelled_only_once_every_caller_waiting_for_it_has_cancelled()
    {
        var directory = new TenantDirectory { Gated = true };
        directory.Add("acme", "tdg_acme");
        var cache = directory.CreateCache(tenantsTable: true);
        using var first = new CancellationTokenSource();
        using var second = new CancellationTokenSource();
        using var third = new CancellationTokenSource();
        var callers = new[] { first, second, third }.Select(cancel => cache.ResolveAsync("acme", cancel.Token).AsTask()).ToArray();
        await directory.WaitForCallsAsync(1);

        first.Cancel();
        second.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => callers[0].WaitAsync(Patience));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => callers[1].WaitAsync(Patience));
        Assert.False(directory.LookupCancelled("acme", call: 1));
        Assert.False(callers[2].IsCompleted);

        // A caller that comes now joins the lookup still running.
        var late = cache.ResolveAsync("acme", CancellationToken.None).AsTask();
        third.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => callers[2].WaitAsync(Patience));
        Assert.False(directory.LookupCancelled("acme", call: 1));
        directory.Open();
        Assert.Equal("tdg_acme", (await late.WaitAsync(Patience)).DatabaseName);
        Assert.Equal(1, directory.Calls("acme"));
    }

    [Fact]
    public async Task A_lookup_its_last_caller_cancelled_is_cancelled_and_the_next_caller_looks_the_key_up_again()
    {
        var directory = new TenantDirectory { Gated = true };
        directory.Add("acme", "tdg_acme");
        var cache = directory.CreateCache(tenantsTable: true);
        using var first = new CancellationTokenSource();
        using var second = new CancellationTokenSource();
        var callers = new[] { first, second }.Select(cancel => cache.ResolveAsync("acme", cancel.Token).AsTask()).ToArray();
        await directory.WaitForCallsAsync(1);

        first.Cancel();
        second.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => callers[0].WaitAsync(Patience));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => callers[1].WaitAsync(Patience));
        Assert.True(directory.LookupCancelled("acme", call: 1));

        // The cancelled lookup is forgotten at once: the next caller does not wait for it, and its lookup is its own.
        var next = cache.ResolveAsync("acme", CancellationToken.None).AsTask();
        await directory.WaitForCallsAsync(2);
        directory.Open();
        Assert.Equal("tdg_acme", (await next.WaitAsync(Patience)).DatabaseName);
        Assert.Equal(2, directory.Calls("acme"));
        Assert.False(directory.LookupCancelled("acme", call: 2));
    }

    [Fact]
    public async Task A_lookup_its_callers_abandoned_is_not_joined_even_while_the_resolver_still_runs_it()
    {
        var directory = new TenantDirectory { Gated = true, IgnoreCancellation = true, FailCalls = 1 };
        directory.Add("acme", "tdg_acme");
        var cache = directory.CreateCache(tenantsTable: true);
        using var cancel = new CancellationTokenSource();
        var abandoning = cache.ResolveAsync("acme", cancel.Token).AsTask();
        await directory.WaitForCallsAsync(1);
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoning.WaitAsync(Patience));

        // The first lookup still runs (its resolver ignores the token): the next caller starts its own.
        var next = cache.ResolveAsync("acme", CancellationToken.None).AsTask();
        await directory.WaitForCallsAsync(2);

        // The first one ends (failing) while the second still runs: a third caller joins the second.
        directory.Release("acme", call: 1);
        await Task.Delay(50);
        var third = cache.ResolveAsync("acme", CancellationToken.None).AsTask();
        await Task.Delay(50);
        directory.Release("acme", call: 2);

        Assert.Equal("tdg_acme", (await next.WaitAsync(Patience)).DatabaseName);
        Assert.Equal("tdg_acme", (await third.WaitAsync(Patience)).DatabaseName);
        Assert.Equal(2, directory.Calls("acme"));
    }

    [Fact]
    public async Task A_caller_that_cancels_a_lookup_whose_cancellation_callback_fails_is_told_it_was_cancelled()
    {
        var directory = new TenantDirectory { Gated = true, ThrowOnCancel = true };
        directory.Add("acme", "tdg_acme");
        var cache = directory.CreateCache(tenantsTable: true);
        using var cancel = new CancellationTokenSource();
        var caller = cache.ResolveAsync("acme", cancel.Token).AsTask();
        await directory.WaitForCallsAsync(1);

        cancel.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => caller.WaitAsync(Patience));
        Assert.True(directory.LookupCancelled("acme", call: 1));
        directory.Open();
        Assert.Equal("tdg_acme", (await cache.ResolveAsync("acme", CancellationToken.None).AsTask().WaitAsync(Patience)).DatabaseName);
        Assert.Equal(2, directory.Calls("acme"));
    }

    [Fact]
    public async Task A_failed_lookup_fails_every_caller_waiting_for_it_and_is_not_remembered()
    {
        var directory = new TenantDirectory { Gated = true, FailCalls = 1 };
        directory.Add("acme", "tdg_acme");
        var cache = directory.CreateCache(tenantsTable: true);
        var callers = Enumerable.Range(0, 3).Select(_ => cache.ResolveAsync("acme", CancellationToken.None).AsTask()).ToArray();
        await directory.WaitForCallsAsync(1);
        directory.Open();

        foreach (var caller in callers)
        {
            Assert.Equal("The tenant directory did not answer.", (await Assert.ThrowsAsync<TimeoutException>(() => caller.WaitAsync(Patience))).Message);
        }

        Assert.Equal("tdg_acme", (await cache.ResolveAsync("acme", CancellationToken.None).AsTask().WaitAsync(Patience)).DatabaseName);
        Assert.Equal(2, directory.Calls("acme"));
    }

    [Fact]
    public async Task A_lookup_that_gives_up_on_its_own_fails_its_callers_and_is_not_remembered()
    {
        // The resolver's own timeout (an OperationCanceledException that no caller asked for).
        var directory = new TenantDirectory { FailCalls = 1, Failure = () => new OperationCanceledException("The directory's own timeout.") };
        directory.Add("acme", "tdg_acme");
        var cache = directory.CreateCache(tenantsTable: true);

        await Assert.ThrowsAsync<OperationCanceledException>(() => cache.ResolveAsync("acme", CancellationToken.None).AsTask().WaitAsync(Patience));

        Assert.Equal("tdg_acme", (await cache.ResolveAsync("acme", CancellationToken.None).AsTask().WaitAsync(Patience)).DatabaseName);
        Assert.Equal(2, directory.Calls("acme"));
    }

    // ---- Expiry, to the tick ----

    [Fact]
    public async Task Each_cache_keeps_its_answer_until_its_duration_ends_to_the_tick()
    {
        var directory = new TenantDirectory();
        directory.Add("acme", "tdg_acme");
        var cache = directory.CreateCache(tenantsTable: true, o =>
        {
            o.TenantCacheDuration = TimeSpan.FromMinutes(3);
            o.UnknownTenantCacheDuration = TimeSpan.FromSeconds(7);
        });
        await cache.ResolveAsync("acme", CancellationToken.None);
        await Assert.ThrowsAsync<TenantNotFoundException>(() => cache.ResolveAsync("nobody", CancellationToken.None).AsTask());

        directory.Time.Advance(TimeSpan.FromSeconds(7) - TimeSpan.FromTicks(1));
        await Assert.ThrowsAsync<TenantNotFoundException>(() => cache.ResolveAsync("nobody", CancellationToken.None).AsTask());
        Assert.Equal(1, directory.Calls("nobody"));
        directory.Time.Advance(TimeSpan.FromTicks(1));
        await Assert.ThrowsAsync<TenantNotFoundException>(() => cache.ResolveAsync("nobody", CancellationToken.None).AsTask());
        Assert.Equal(2, directory.Calls("nobody"));

        directory.Time.Advance(TimeSpan.FromMinutes(3) - TimeSpan.FromSeconds(7) - TimeSpan.FromTicks(1));
        await cache.ResolveAsync("acme", CancellationToken.None);
        Assert.Equal(1, directory.Calls("acme"));
        directory.Time.Advance(TimeSpan.FromTicks(1));
        await cache.ResolveAsync("acme", CancellationToken.None);
        Assert.Equal(2, directory.Calls("acme"));
    }

    [Fact]
    public async Task A_duration_too_long_to_count_in_ticks_keeps_answers_for_good()
    {
        var directory = new TenantDirectory();
        directory.Add("acme", "tdg_acme");
        var cache = directory.CreateCache(tenantsTable: true, o =>
        {
            o.TenantCacheDuration = TimeSpan.MaxValue;
            o.UnknownTenantCacheDuration = TimeSpan.MaxValue;
        });
        await cache.ResolveAsync("acme", CancellationToken.None);
        await Assert.ThrowsAsync<TenantNotFoundException>(() => cache.ResolveAsync("nobody", CancellationToken.None).AsTask());

        directory.Time.Advance(TimeSpan.FromDays(365 * 50));
        await cache.ResolveAsync("acme", CancellationToken.None);
        await Assert.ThrowsAsync<TenantNotFoundException>(() => cache.ResolveAsync("nobody", CancellationToken.None).AsTask());

        Assert.Equal((1, 1), (directory.Calls("acme"), directory.Calls("nobody")));
    }

    [Fact]
    public async Task A_suspected_tenant_is_looked_up_again_only_once_it_was_resolved_UnknownTenantCacheDuration_ago()
    {
        var directory = new TenantDirectory();
        directory.Add("acme", "tdg_acme");
        var cache = directory.CreateCache(tenantsTable: true, o => o.UnknownTenantCacheDuration = TimeSpan.FromSeconds(5));
        await cache.ResolveAsync("acme", CancellationToken.None);

        directory.Time.Advance(TimeSpan.FromSeconds(5) - TimeSpan.FromTicks(1));
        cache.Suspect("acme");
        cache.Suspect("nobody");
        await cache.ResolveAsync("acme", CancellationToken.None);
        Assert.Equal(1, directory.Calls("acme"));

        directory.Time.Advance(TimeSpan.FromTicks(1));
        directory.Add("acme", "tdg_acme_moved");
        cache.Suspect("acme");
        Assert.Equal("tdg_acme_moved", (await cache.ResolveAsync("acme", CancellationToken.None)).DatabaseName);
        Assert.Equal(2, directory.Calls("acme"));
    }

    // ---- Unknown keys and other spellings: lists of fixed size ----

    [Fact]
    public async Task Unknown_keys_are_remembered_up_to_the_capacity_the_oldest_forgotten_first()
    {
        var directory = new TenantDirectory();
        var cache = directory.CreateCache(tenantsTable: false);
        await AssertLookedUpAndUnknownAsync(cache, directory, "unknown-", 0, TenantResolverCache.Capacity);

        await AssertUnknownAsync(cache, "unknown-0");
        Assert.Equal(1, directory.Calls("unknown-0"));

        await AssertUnknownAsync(cache, "unknown-1024");
        await AssertUnknownAsync(cache, "unknown-1");
        Assert.Equal(1, directory.Calls("unknown-1"));
        await AssertUnknownAsync(cache, "unknown-0");
        Assert.Equal(2, directory.Calls("unknown-0"));

        // Set again, it is the newest: the key set next forgets 'unknown-1', the oldest now, not it.
        await AssertUnknownAsync(cache, "unknown-1025");
        await AssertUnknownAsync(cache, "unknown-0");
        Assert.Equal(2, directory.Calls("unknown-0"));
        await AssertUnknownAsync(cache, "unknown-1");
        Assert.Equal(2, directory.Calls("unknown-1"));
    }

    [Fact]
    public async Task An_unknown_key_looked_up_again_counts_as_the_newest()
    {
        var directory = new TenantDirectory();
        var cache = directory.CreateCache(tenantsTable: false, o => o.UnknownTenantCacheDuration = TimeSpan.FromSeconds(5));
        await AssertLookedUpAndUnknownAsync(cache, directory, "unknown-", 0, TenantResolverCache.Capacity - 1);
        directory.Time.Advance(TimeSpan.FromSeconds(5));

        // Looked up again once expired: it moves to the end of the list, behind the 1,022 others.
        await AssertUnknownAsync(cache, "unknown-0");
        await AssertLookedUpAndUnknownAsync(cache, directory, "new-", 0, 2);

        await AssertUnknownAsync(cache, "unknown-0");
        Assert.Equal(2, directory.Calls("unknown-0"));
    }

    [Fact]
    public async Task Other_spellings_point_to_the_tenant_and_are_forgotten_with_it()
    {
        var directory = new TenantDirectory();
        directory.Add("acme", "tdg_acme");
        var cache = directory.CreateCache(tenantsTable: false);

        foreach (var spelling in new[] { "acme", "ACME", "Acme", "ACME", "Acme" })
        {
            var tenant = await cache.ResolveAsync(spelling, CancellationToken.None);
            Assert.Equal(("acme", "tdg_acme"), (tenant.TenantKey, tenant.DatabaseName));
        }

        Assert.Equal((1, 1, 1), (directory.Calls("acme"), directory.Calls("ACME"), directory.Calls("Acme")));

        // Forgotten by a spelling never looked up: the tenant and every spelling of it are looked up again.
        directory.Add("acme", "tdg_acme_moved");
        cache.Invalidate("aCmE");
        foreach (var spelling in new[] { "ACME", "Acme", "acme" })
        {
            Assert.Equal("tdg_acme_moved", (await cache.ResolveAsync(spelling, CancellationToken.None)).DatabaseName);
        }

        Assert.Equal((2, 2, 1), (directory.Calls("ACME"), directory.Calls("Acme"), directory.Calls("acme")));
    }

    [Fact]
    public async Task A_spelling_forgotten_and_looked_up_again_counts_as_the_newest()
    {
        var directory = new TenantDirectory();
        directory.Add("tenant-abcdefgh", "tdg_abcdefgh");
        var cache = directory.CreateCache(tenantsTable: false);
        var spellings = Spellings("tenant-abcdefgh").Skip(1).Take(TenantResolverCache.Capacity + 2).ToArray();
        await cache.ResolveAsync(spellings[0], CancellationToken.None);
        cache.Invalidate("tenant-abcdefgh");

        // Another spelling first, then the forgotten one again, then as many as fill the list: the other one goes first.
        await cache.ResolveAsync(spellings[1], CancellationToken.None);
        await cache.ResolveAsync(spellings[0], CancellationToken.None);
        foreach (var spelling in spellings.Skip(2).Take(TenantResolverCache.Capacity - 1))
        {
            await cache.ResolveAsync(spelling, CancellationToken.None);
        }

        await cache.ResolveAsync(spellings[0], CancellationToken.None);
        Assert.Equal(2, directory.Calls(spellings[0]));
        await cache.ResolveAsync(spellings[1], CancellationToken.None);
        Assert.Equal(2, directory.Calls(spellings[1]));
    }

    [Fact]
    public async Task Invalidating_one_spelling_forgets_the_tenant_and_its_other_spellings_but_not_other_tenants()
    {
        var directory = new TenantDirectory();
        directory.Add("acme", "tdg_acme");
        directory.Add("globex", "tdg_globex");
        var cache = directory.CreateCache(tenantsTable: false);
        foreach (var key in new[] { "ACME", "Acme", "globex", "GLOBEX" })
        {
            await cache.ResolveAsync(key, CancellationToken.None);
        }

        cache.Invalidate("ACME");
        foreach (var key in new[] { "Acme", "globex", "GLOBEX" })
        {
            await cache.ResolveAsync(key, CancellationToken.None);
        }

        Assert.Equal((2, 1, 1), (directory.Calls("Acme"), directory.Calls("globex"), directory.Calls("GLOBEX")));
    }

    [Fact]
    public async Task Invalidating_a_key_a_custom_resolver_knows_as_another_tenants_forgets_that_tenant()
    {
        var directory = new TenantDirectory();
        directory.Add("acme", "tdg_acme");
        directory.AddAlias("acme-corp", "acme");
        var cache = directory.CreateCache(tenantsTable: false);
        Assert.Equal("acme", (await cache.ResolveAsync("acme-corp", CancellationToken.None)).TenantKey);
        Assert.Equal("tdg_acme", (await cache.ResolveAsync("acme", CancellationToken.None)).DatabaseName);
        directory.Add("acme", "tdg_acme_moved");

        cache.Invalidate("acme-corp");

        Assert.Equal("tdg_acme_moved", (await cache.ResolveAsync("acme", CancellationToken.None)).DatabaseName);
        Assert.Equal(1, directory.Calls("acme"));
    }

    [Fact]
    public async Task Invalidating_a_key_that_became_a_tenant_of_its_own_has_it_looked_up_again()
    {
        // A custom resolver first answered "acme-corp" with acme's row, then gave it a row of its own.
        var directory = new TenantDirectory();
        directory.Add("acme", "tdg_acme");
        directory.AddAlias("acme-corp", "acme");
        var cache = directory.CreateCache(tenantsTable: false);
        Assert.Equal("acme", (await cache.ResolveAsync("acme-corp", CancellationToken.None)).TenantKey);
        directory.Add("acme-corp", "tdg_corp");
        Assert.Equal("acme-corp", (await cache.ResolveAsync("ACME-CORP", CancellationToken.None)).TenantKey);

        cache.Invalidate("acme-corp");

        Assert.Equal(("acme-corp", "tdg_corp"), await cache.ResolveAsync("acme-corp", CancellationToken.None) is var t ? (t.TenantKey, t.DatabaseName) : default);
        Assert.Equal(2, directory.Calls("acme-corp"));
    }

    [Fact]
    public async Task An_unknown_key_invalidated_and_looked_up_again_counts_as_the_newest()
    {
        var directory = new TenantDirectory();
        var cache = directory.CreateCache(tenantsTable: false);
        await AssertUnknownAsync(cache, "unknown-0");
        cache.Invalidate("unknown-0");

        // Another key first, then the invalidated one again, then as many as fill the list: the other one goes first.
        await AssertUnknownAsync(cache, "other");
        await AssertUnknownAsync(cache, "unknown-0");
        await AssertLookedUpAndUnknownAsync(cache, directory, "new-", 0, TenantResolverCache.Capacity - 1);

        await AssertUnknownAsync(cache, "unknown-0");
        Assert.Equal(2, directory.Calls("unknown-0"));
        await AssertUnknownAsync(cache, "other");
        Assert.Equal(2, directory.Calls("other"));
    }

    [Fact]
    public async Task Invalidating_an_unknown_key_has_it_looked_up_again()
    {
        var directory = new TenantDirectory();
        var cache = directory.CreateCache(tenantsTable: false);
        await AssertUnknownAsync(cache, "later");
        await AssertUnknownAsync(cache, "other");
        directory.Add("later", "tdg_later");

        cache.Invalidate("later");

        Assert.Equal("tdg_later", (await cache.ResolveAsync("later", CancellationToken.None)).DatabaseName);
        await AssertUnknownAsync(cache, "other");
        Assert.Equal((2, 1), (directory.Calls("later"), directory.Calls("other")));
    }

    [Theory]
    [InlineData("acme")]
    [InlineData("ACME")]
    public async Task A_lookup_in_flight_when_its_tenant_is_invalidated_leaves_no_stale_answer(string spelling)
    {
        // The lookup read the row while the tenant was active; the tenant is then deactivated and invalidated before
        // the answer arrives.
        var directory = new TenantDirectory { Gated = true, ReadBeforeGate = true };
        directory.Add("acme", "tdg_acme");
        var cache = directory.CreateCache(tenantsTable: true);
        var before = cache.ResolveAsync(spelling, CancellationToken.None).AsTask();
        await directory.WaitForCallsAsync(1);

        directory.Remove("acme");
        cache.Invalidate("acme");
        var after = cache.ResolveAsync(spelling, CancellationToken.None).AsTask();
        directory.Open();

        // A caller that asks after the invalidation does not join the lookup that read before it, and the cache keeps
        // nothing of that lookup; the caller that asked before the invalidation gets what its lookup found.
        await Assert.ThrowsAsync<TenantNotFoundException>(() => after.WaitAsync(Patience));
        Assert.Equal(2, directory.Calls(spelling));
        Assert.Equal(("acme", "tdg_acme"), await before.WaitAsync(Patience) is var found ? (found.TenantKey, found.DatabaseName) : default);
        foreach (var key in new[] { "acme", "ACME" })
        {
            await Assert.ThrowsAsync<TenantNotFoundException>(() => cache.ResolveAsync(key, CancellationToken.None).AsTask());
        }
    }

    [Fact]
    public async Task A_lookup_in_flight_that_found_nothing_when_the_key_is_invalidated_does_not_hide_the_new_tenant()
    {
        var directory = new TenantDirectory { Gated = true, ReadBeforeGate = true };
        var cache = directory.CreateCache(tenantsTable: true);
        var before = cache.ResolveAsync("initech", CancellationToken.None).AsTask();
        await directory.WaitForCallsAsync(1);

        // The tenant is created, and its key invalidated so that the next request finds it.
        directory.Add("initech", "tdg_initech");
        cache.Invalidate("initech");
        directory.Open();

        await Assert.ThrowsAsync<TenantNotFoundException>(() => before.WaitAsync(Patience));
        Assert.Equal("tdg_initech", (await cache.ResolveAsync("initech", CancellationToken.None)).DatabaseName);
        Assert.Equal(2, directory.Calls("initech"));
    }

    [Fact]
    public async Task A_lookup_in_flight_when_a_key_is_invalidated_that_finds_a_new_tenant_still_gives_its_token_back()
    {
        var directory = new TenantDirectory { ReadBeforeGate = true };
        directory.Add("acme", "tdg_acme");
        var cache = directory.CreateCache(tenantsTable: true);
        await AssertLookedUpAndUnknownAsync(cache, directory, "unknown-", 0, TenantResolverCache.NewKeysPerSecond - 1);

        // The last token goes to a key that finds a new tenant, while another key is invalidated.
        directory.Gated = true;
        var found = cache.ResolveAsync("acme", CancellationToken.None).AsTask();
        await directory.WaitForCallsAsync(TenantResolverCache.NewKeysPerSecond);
        cache.Invalidate("globex");
        directory.Open();
        Assert.Equal("tdg_acme", (await found.WaitAsync(Patience)).DatabaseName);

        // The token came back: one more key never seen before is looked up, and the next is refused unasked.
        await AssertLookedUpAndUnknownAsync(cache, directory, "other-", 0, 1);
        await AssertRefusedUnaskedAsync(cache, directory, "other-1");
    }

    [Fact]
    public async Task A_lookup_in_flight_when_its_tenant_is_invalidated_does_not_keep_the_database_it_read_from_another_tenant()
    {
        // A custom resolver's tenant moves to a database of its own, and another tenant takes its old one.
        var directory = new TenantDirectory { Gated = true, ReadBeforeGate = true };
        directory.Add("acme", "tdg_shared");
        var cache = directory.CreateCache(tenantsTable: false);
        var before = cache.ResolveAsync("acme", CancellationToken.None).AsTask();
        await directory.WaitForCallsAsync(1);

        directory.Add("acme", "tdg_acme_moved");
        cache.Invalidate("acme");
        directory.Open();
        await Record.ExceptionAsync(() => before.WaitAsync(Patience));

        directory.Add("globex", "tdg_shared");
        Assert.Equal("tdg_shared", (await cache.ResolveAsync("globex", CancellationToken.None)).DatabaseName);
        Assert.Equal("tdg_acme_moved", (await cache.ResolveAsync("acme", CancellationToken.None)).DatabaseName);
    }

    // ---- One database per tenant, across lookups ----

    [Fact]
    public async Task A_second_tenant_on_a_database_a_custom_resolver_gave_another_is_refused_unless_sharing_is_allowed()
    {
        foreach (var allowShared in new[] { false, true })
        {
            var directory = new TenantDirectory();
            directory.Add("acme", "tdg_shared");
            directory.Add("globex", "TDG_SHARED");
            var cache = directory.CreateCache(tenantsTable: false, allowShared: allowShared);

            Assert.Equal("acme", (await cache.ResolveAsync("acme", CancellationToken.None)).TenantKey);
            if (allowShared)
            {
                Assert.Equal("globex", (await cache.ResolveAsync("globex", CancellationToken.None)).TenantKey);
                continue;
            }

            var refused = await Assert.ThrowsAsync<TenantConfigurationException>(() => cache.ResolveAsync("globex", CancellationToken.None).AsTask());
            Assert.Equal("globex", refused.TenantKey);
            Assert.Contains("'acme'", refused.Message);
            Assert.Equal("acme", (await cache.ResolveAsync("acme", CancellationToken.None)).TenantKey);

            // Logged once, when the row was read; the accepted tenant is not.
            var logged = Assert.Single(directory.Logs.WithId(TenantRowRefused));
            Assert.Contains("'globex'", logged.Message);
            Assert.Contains("'acme'", logged.Message);
        }
    }

    [Fact]
    public async Task A_tenant_looked_up_again_keeps_its_database_and_one_that_moved_frees_it()
    {
        var directory = new TenantDirectory();
        directory.Add("acme", "tdg_one");
        var cache = directory.CreateCache(tenantsTable: false, o => o.TenantCacheDuration = TimeSpan.FromSeconds(1));
        await cache.ResolveAsync("acme", CancellationToken.None);

        // Expired and looked up again on the same database: not a second tenant on it.
        directory.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal("tdg_one", (await cache.ResolveAsync("acme", CancellationToken.None)).DatabaseName);

        // Moved to another database (found once its entry expires): the first is free for another tenant.
        directory.Add("acme", "tdg_two");
        directory.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal("tdg_two", (await cache.ResolveAsync("acme", CancellationToken.None)).DatabaseName);
        directory.Add("globex", "tdg_one");
        Assert.Equal("tdg_one", (await cache.ResolveAsync("globex", CancellationToken.None)).DatabaseName);

        // Moved once more, found after an invalidation: its database is free too.
        directory.Add("acme", "tdg_three");
        cache.Invalidate("acme");
        Assert.Equal("tdg_three", (await cache.ResolveAsync("acme", CancellationToken.None)).DatabaseName);
        directory.Add("initech", "tdg_two");
        Assert.Equal("tdg_two", (await cache.ResolveAsync("initech", CancellationToken.None)).DatabaseName);
    }

    [Fact]
    public async Task A_tenant_refused_for_sharing_stays_refused_when_its_entry_expires_or_is_invalidated()
    {
        var directory = new TenantDirectory();
        directory.Add("acme", "tdg_one");
        directory.Add("globex", "tdg_one");
        var cache = directory.CreateCache(tenantsTable: false, o => o.TenantCacheDuration = TimeSpan.FromSeconds(10));
        await cache.ResolveAsync("acme", CancellationToken.None);
        await Assert.ThrowsAsync<TenantConfigurationException>(() => cache.ResolveAsync("globex", CancellationToken.None).AsTask());

        // Looked up again (expired, then invalidated), it still names the database of a tenant that is still known.
        directory.Time.Advance(TimeSpan.FromSeconds(10));
        Assert.Contains("'acme'", (await Assert.ThrowsAsync<TenantConfigurationException>(() => cache.ResolveAsync("globex", CancellationToken.None).AsTask())).Message);
        cache.Invalidate("globex");
        Assert.Contains("'acme'", (await Assert.ThrowsAsync<TenantConfigurationException>(() => cache.ResolveAsync("globex", CancellationToken.None).AsTask())).Message);
        Assert.Equal(3, directory.Calls("globex"));
    }

    [Fact]
    public async Task A_tenant_its_lookup_no_longer_finds_leaves_its_database_to_another()
    {
        var directory = new TenantDirectory();
        directory.Add("acme", "tdg_one");
        var cache = directory.CreateCache(tenantsTable: false, o => o.TenantCacheDuration = TimeSpan.FromSeconds(10));
        await cache.ResolveAsync("acme", CancellationToken.None);

        directory.Remove("acme");
        directory.Add("globex", "tdg_one");
        directory.Time.Advance(TimeSpan.FromSeconds(10));
        await AssertUnknownAsync(cache, "acme");

        Assert.Equal("tdg_one", (await cache.ResolveAsync("globex", CancellationToken.None)).DatabaseName);
    }

    [Fact]
    public async Task A_tenant_gone_from_the_directory_is_not_found_by_another_spelling_once_its_entry_expired()
    {
        var directory = new TenantDirectory();
        directory.Add("acme", "tdg_acme");
        var cache = directory.CreateCache(tenantsTable: true, o => o.TenantCacheDuration = TimeSpan.FromSeconds(10));
        await cache.ResolveAsync("ACME", CancellationToken.None);
        directory.Remove("acme");
        directory.Time.Advance(TimeSpan.FromSeconds(10));

        await AssertUnknownAsync(cache, "ACME");
        await AssertUnknownAsync(cache, "acme");
        Assert.Equal((2, 1), (directory.Calls("ACME"), directory.Calls("acme")));
    }

    [Fact]
    public async Task The_tenants_tables_own_report_of_sharing_is_the_one_that_counts()
    {
        // A tenant renamed in the table: the old key is still in memory, but the table reports no other tenant on the database.
        var directory = new TenantDirectory();
        directory.Add("old-name", "tdg_one");
        var cache = directory.CreateCache(tenantsTable: true);
        await cache.ResolveAsync("old-name", CancellationToken.None);
        directory.Remove("old-name");
        directory.Add("new-name", "tdg_one");

        Assert.Equal("tdg_one", (await cache.ResolveAsync("new-name", CancellationToken.None)).DatabaseName);
    }

    [Fact]
    public async Task A_tenant_moved_to_another_database_is_looked_up_again_once_another_tenant_takes_its_old_one()
    {
        // acme moves to tdg_two and globex is given tdg_one in the table while acme's answer is still in memory: once the
        // table gives tdg_one to globex (no other active row on it), acme is not served on it any longer.
        var directory = new TenantDirectory();
        directory.Add("acme", "tdg_one");
        var cache = directory.CreateCache(tenantsTable: true, o => o.TenantCacheDuration = TimeSpan.FromMinutes(5));
        Assert.Equal("tdg_one", (await cache.ResolveAsync("ACME", CancellationToken.None)).DatabaseName);
        directory.Add("acme", "tdg_two");
        directory.Add("globex", "tdg_one");

        Assert.Equal("tdg_one", (await cache.ResolveAsync("globex", CancellationToken.None)).DatabaseName);

        Assert.Equal("tdg_two", (await cache.ResolveAsync("acme", CancellationToken.None)).DatabaseName);
        Assert.Equal("tdg_two", (await cache.ResolveAsync("ACME", CancellationToken.None)).DatabaseName);
        Assert.Equal((1, 1), (directory.Calls("acme"), directory.Calls("globex")));
    }

    [Fact]
    public async Task Two_tenants_that_swap_databases_are_each_served_on_their_new_one()
    {
        var directory = new TenantDirectory();
        directory.Add("acme", "tdg_one");
        directory.Add("globex", "tdg_two");
        var cache = directory.CreateCache(tenantsTable: true, o => o.TenantCacheDuration = TimeSpan.FromMinutes(5));
        await cache.ResolveAsync("acme", CancellationToken.None);
        await cache.ResolveAsync("globex", CancellationToken.None);
        directory.Add("acme", "tdg_two");
        directory.Add("globex", "tdg_one");
        cache.Invalidate("globex");

        Assert.Equal("tdg_one", (await cache.ResolveAsync("globex", CancellationToken.None)).DatabaseName);
        Assert.Equal("tdg_two", (await cache.ResolveAsync("acme", CancellationToken.None)).DatabaseName);
        Assert.Equal("tdg_one", (await cache.ResolveAsync("globex", CancellationToken.None)).DatabaseName);
    }

    [Fact]
    public async Task A_tenant_renamed_in_the_table_is_not_served_by_its_old_key_once_the_new_key_is()
    {
        var directory = new TenantDirectory();
        directory.Add("old-name", "tdg_one");
        var cache = directory.CreateCache(tenantsTable: true, o => o.TenantCacheDuration = TimeSpan.FromMinutes(5));
        await cache.ResolveAsync("old-name", CancellationToken.None);
        directory.Remove("old-name");
        directory.Add("new-name", "tdg_one");

        Assert.Equal("tdg_one", (await cache.ResolveAsync("new-name", CancellationToken.None)).DatabaseName);

        await AssertUnknownAsync(cache, "old-name");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_tenant_answered_with_the_key_kept_for_the_master_database_is_refused(bool tenantsTable)
    {
        var directory = new TenantDirectory();
        directory.Add(TenantDatabase.MasterKey, "tdg_one");
        directory.Add("acme", "tdg_acme");
        var cache = directory.CreateCache(tenantsTable);

        var refused = await Assert.ThrowsAsync<TenantConfigurationException>(() => cache.ResolveAsync(TenantDatabase.MasterKey, CancellationToken.None).AsTask());

        Assert.Equal(TenantDatabase.MasterKey, refused.TenantKey);
        Assert.Contains("'(master)'", refused.Message);
        Assert.Equal("tdg_acme", (await cache.ResolveAsync("acme", CancellationToken.None)).DatabaseName);
    }

    [Fact]
    public async Task A_row_the_lookup_reports_as_shared_is_refused_by_the_other_tenants_name()
    {
        var directory = new TenantDirectory();
        directory.Add("acme", "tdg_acme", sharedWith: "globex");
        var cache = directory.CreateCache(tenantsTable: true);

        var refused = await Assert.ThrowsAsync<TenantConfigurationException>(() => cache.ResolveAsync("acme", CancellationToken.None).AsTask());

        Assert.Contains("'globex'", refused.Message);
        await Assert.ThrowsAsync<TenantConfigurationException>(() => cache.ResolveAsync("acme", CancellationToken.None).AsTask());
        Assert.Equal(1, directory.Calls("acme"));
    }

    private static async Task AssertLookedUpAndUnknownAsync(TenantResolverCache cache, TenantDirectory directory, string prefix, int from, int count)
    {
        for (var i = from; i < from + count; i++)
        {
            var key = prefix + i;
            var error = await Assert.ThrowsAsync<TenantNotFoundException>(() => cache.ResolveAsync(key, CancellationToken.None).AsTask());
            Assert.False(error.IsTransient, $"'{key}' was refused unasked.");
            Assert.Equal(1, directory.Calls(key));
        }
    }

    private static async Task AssertRefusedUnaskedAsync(TenantResolverCache cache, TenantDirectory directory, string key)
    {
        var error = await Assert.ThrowsAsync<TenantNotFoundException>(() => cache.ResolveAsync(key, CancellationToken.None).AsTask());
        Assert.True(error.IsTransient, $"'{key}' was looked up.");
        Assert.Equal(0, directory.Calls(key));
    }

    private static Task AssertUnknownAsync(TenantResolverCache cache, string key) =>
        Assert.ThrowsAsync<TenantNotFoundException>(() => cache.ResolveAsync(key, CancellationToken.None).AsTask());

    /// <summary>The spellings of <paramref name="key"/> that differ from it only in the case of its letters, itself first.</summary>
    private static IEnumerable<string> Spellings(string key)
    {
        var letters = key.Select((c, i) => (c, i)).Where(x => char.IsLetter(x.c)).Select(x => x.i).ToArray();
        for (var mask = 0; mask < 1 << letters.Length; mask++)
        {
            var chars = key.ToCharArray();
            for (var bit = 0; bit < letters.Length; bit++)
            {
                if ((mask & (1 << bit)) != 0)
                {
                    chars[letters[bit]] = char.ToUpperInvariant(chars[letters[bit]]);
                }
            }

            yield return new string(chars);
        }
    }

    /// <summary>
    /// A tenant directory as the tenants table answers (keys compared without regard to case, the row's own key
    /// returned): counts the lookups per key as asked, can hold every lookup until <see cref="Open"/>, and can fail the
    /// first <see cref="FailCalls"/> lookups.
    /// </summary>
    private sealed class TenantDirectory
    {
        private readonly ConcurrentDictionary<string, TenantResolverCache.Resolved> _rows = new(StringComparer.OrdinalIgnoreCase);
        private readonly ConcurrentDictionary<string, int> _calls = new(StringComparer.Ordinal);
        private readonly ConcurrentDictionary<(string Key, int Call), CancellationToken> _tokens = new();
        private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly ConcurrentDictionary<(string Key, int Call), TaskCompletionSource> _released = new();
        private int _totalCalls;

        public FakeTimeProvider Time { get; } = new();

        /// <summary>Whether lookups that start now wait for <see cref="Open"/>.</summary>
        public bool Gated { get; set; }

        /// <summary>Whether a lookup registers a callback on its token that throws when the token is cancelled.</summary>
        public bool ThrowOnCancel { get; init; }

        /// <summary>Whether a held lookup keeps waiting when its token is cancelled (as a resolver that ignores it).</summary>
        public bool IgnoreCancellation { get; init; }

        public int FailCalls { get; init; }

        /// <summary>Whether a held lookup answers what the directory held when it started rather than when it is let go.</summary>
        public bool ReadBeforeGate { get; init; }

        public Func<Exception> Failure { get; init; } = () => new TimeoutException("The tenant directory did not answer.");

        public void Add(string key, string database, string? sharedWith = null) =>
            _rows[key] = new TenantResolverCache.Resolved(key, database, null, null, sharedWith);

        /// <summary>Another key of the row of <paramref name="key"/>, as a custom resolver may know (<c>acme-corp</c> for <c>acme</c>).</summary>
        public void AddAlias(string alias, string key) => _rows[alias] = _rows[key];

        public void Remove(string key) => _rows.TryRemove(key, out _);

        public void Open() => _open.TrySetResult();

        /// <summary>Lets the <paramref name="call"/>-th lookup of <paramref name="key"/> go on (it may not have started yet).</summary>
        public void Release(string key, int call) => Released(key, call).TrySetResult();

        public int Calls(string key) => _calls.GetValueOrDefault(key);

        public bool LookupCancelled(string key, int call) => _tokens[(key, call)].IsCancellationRequested;

        public async Task WaitForCallsAsync(int total)
        {
            var deadline = DateTime.UtcNow + Patience;
            while (Volatile.Read(ref _totalCalls) < total)
            {
                Assert.True(DateTime.UtcNow < deadline, $"{Volatile.Read(ref _totalCalls)} lookups started, not {total}.");
                await Task.Delay(10);
            }
        }

        public CapturedLogs Logs { get; } = new();

        public TenantResolverCache CreateCache(bool tenantsTable, Action<TenantDbGuardOptions>? configure = null, bool allowShared = false)
        {
            var options = new TenantDbGuardOptions { TimeProvider = Time };
            configure?.Invoke(options);
            var rules = new TenantRowRules(new MasterLocation("db.internal", 3306, "tdg_master"), allowShared);
            return new TenantResolverCache(LookUpAsync, tenantsTable, options, rules, Logs.CreateLogger("TenantDbGuard"));
        }

        private TaskCompletionSource Released(string key, int call) =>
            _released.GetOrAdd((key, call), _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

        private async ValueTask<TenantResolverCache.Resolved?> LookUpAsync(string key, CancellationToken cancellationToken)
        {
            var call = _calls.AddOrUpdate(key, 1, (_, n) => n + 1);
            _tokens[(key, call)] = cancellationToken;
            if (ThrowOnCancel)
            {
                // Left registered, as a careless resolver would.
                cancellationToken.Register(() => throw new InvalidOperationException("The directory's cancellation callback failed."));
            }

            // A lookup that reads before it is held answers what the directory held when it started, as a query whose
            // answer is still on its way.
            var readFirst = ReadBeforeGate ? _rows.GetValueOrDefault(key) : null;
            var total = Interlocked.Increment(ref _totalCalls);
            if (Gated)
            {
                var go = Task.WhenAny(_open.Task, Released(key, call).Task);
                await (IgnoreCancellation ? go : go.WaitAsync(cancellationToken));
            }

            if (total <= FailCalls)
            {
                throw Failure();
            }

            return ReadBeforeGate ? readFirst : _rows.GetValueOrDefault(key);
        }
    }
}
