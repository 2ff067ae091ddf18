using System.Collections.Concurrent;
using System.Diagnostics;

namespace TenantDbGuard.Runtime.Tests.Infrastructure;

/// <summary>
/// Lists the sessions an account holds on the server every few milliseconds while a test runs, keeping the most seen at
/// once and, whenever there were more than a limit, what each of them was doing: what a test shows when the server saw
/// more of the application's connections than it should.
/// </summary>
public sealed class SessionSampler : IAsyncDisposable
{
    private readonly ConcurrentQueue<string> _beyond = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _sampling;
    private int _peak;

    private SessionSampler(MariaDbServer server, int limit, string user)
    {
        Limit = limit;
        var clock = Stopwatch.StartNew();
        _sampling = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                var sessions = await server.ListSessionsAsync(user);
                _peak = Math.Max(_peak, sessions.Count);
                if (sessions.Count > limit)
                {
                    _beyond.Enqueue($"at {clock.ElapsedMilliseconds} ms: {string.Join("; ", sessions)}");
                }

                await Task.Delay(5);
            }
        });
    }

    /// <summary>The most sessions the account may hold at once.</summary>
    public int Limit { get; }

    /// <summary>Starts sampling the sessions of <paramref name="user"/>.</summary>
    public static SessionSampler Start(MariaDbServer server, int limit, string user = MariaDbServer.AppUser) => new(server, limit, user);

    /// <summary>Stops sampling and fails the test when the account ever held more than <see cref="Limit"/> sessions, listing them.</summary>
    public async Task StopAndAssertWithinLimitAsync(string what)
    {
        await DisposeAsync();
        Assert.True(_peak <= Limit, $"The server listed {_peak} sessions of the application ({what}):\n{string.Join("\n", _beyond)}");
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await _stop.CancelAsync();
        }

        await _sampling;
        _stop.Dispose();
    }
}
