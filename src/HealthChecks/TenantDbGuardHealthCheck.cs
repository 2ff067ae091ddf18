using System;
using System.Collections.Generic;
using System.Data.Common;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace TenantDbGuard;

/// <summary>
/// Reports how a <see cref="TenantDatabase"/> stands: Healthy; Degraded when its connection budget is saturated (every
/// connection in use, or callers waiting) or acquisitions timed out within
/// <see cref="TenantDbGuardHealthCheckOptions.TimeoutWindow"/>; the registration's failure status (Unhealthy by default)
/// when the master database cannot be reached. Register it with <c>services.AddHealthChecks().AddTenantDbGuard()</c>.
/// </summary>
/// <remarks>
/// <para>
/// Reachability is probed with <c>SELECT 1</c> on the master database over a connection of the budget (an idle one when
/// there is one), so the probe never opens a connection the budget does not count. When the budget is saturated the
/// probe is not made at all: it would wait in line behind the callers it is meant to report on, and the connections in
/// use are answered by the server anyway. The probe ends after <see cref="TenantDbGuardHealthCheckOptions.ProbeTimeout"/>
/// or when the health check is cancelled, whichever comes first; a probe that is still waiting in line for a connection
/// when its time is up (the master cap is full) reports Degraded, one that is connecting or waiting for the answer the
/// failure status. Checks of one runtime that arrive while its probe runs wait for that probe's answer (each within its
/// own timeout and cancellation) rather than taking a connection each.
/// </para>
/// <para>
/// The result's data, for a health report a person reads: <c>max</c> (the budget now), <c>open</c>, <c>in_use</c>,
/// <c>pending</c> (callers waiting), <c>recent_timeouts</c> and <c>timeout_window_seconds</c>.
/// </para>
/// </remarks>
public sealed class TenantDbGuardHealthCheck : IHealthCheck
{
    private readonly TenantDatabase _database;
    private readonly TenantDbGuardHealthCheckOptions _options;

    /// <summary>Creates the check of <paramref name="database"/>.</summary>
    /// <param name="database">The runtime to check.</param>
    /// <param name="options">The settings; they are copied.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A timeout or the window is not positive.</exception>
    public TenantDbGuardHealthCheck(TenantDatabase database, TenantDbGuardHealthCheckOptions options)
    {
        _database = database ?? throw new ArgumentNullException(nameof(database));
        if (options is null)
        {
            throw new ArgumentNullException(nameof(options));
        }

        if (options.TimeoutWindow <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.TimeoutWindow, "TenantDbGuardHealthCheckOptions.TimeoutWindow must be positive.");
        }

        // Beyond about 49.7 days the probe's timer refuses the wait, and every check would fail.
        if (options.ProbeTimeout <= TimeSpan.Zero || options.ProbeTimeout > TimeSpan.FromDays(49))
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.ProbeTimeout, "TenantDbGuardHealthCheckOptions.ProbeTimeout must be positive and at most 49 days.");
        }

        _options = new TenantDbGuardHealthCheckOptions { TimeoutWindow = options.TimeoutWindow, ProbeTimeout = options.ProbeTimeout };
    }

    /// <inheritdoc/>
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (context is null)
        {
            throw new ArgumentNullException(nameof(context));
        }

        var failureStatus = context.Registration?.FailureStatus ?? HealthStatus.Unhealthy;

        // Checks that arrive while a probe runs (several probes of an orchestrator, a load balancer's nodes) wait for
        // that probe's answer: a probe each would take a connection each, from the requests the check reports on,
        // and each would see the others' connections as a saturated budget.
        var shared = SharedProbes.GetValue(_database, static _ => new SharedProbe());
        var query = shared.JoinRunning();
        if (query is null)
        {
            var budget = _database.GetBudgetSnapshot();
            if (IsSaturated(budget))
            {
                return Report(
                    HealthStatus.Degraded,
                    budget,
                    $"The connection budget is saturated: {budget.InUse} of {budget.Limit} connections in use, " +
                    $"{budget.Waiting} callers waiting.");
            }

            query = shared.Join(_database);
        }

        using var probe = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            var finished = await Task.WhenAny(query, Task.Delay(_options.ProbeTimeout, probe.Token)).ConfigureAwait(false);
            if (finished != query)
            {
                // Read before the probe is withdrawn: a probe still waiting for a connection is a saturated budget or
                // master cap (the connections that fill it are answered), not an unreachable server.
                var atTimeout = _database.GetBudgetSnapshot();
                shared.Leave(query);
                query = null;
                cancellationToken.ThrowIfCancellationRequested();
                return atTimeout.Waiting > 0
                    ? Report(HealthStatus.Degraded, atTimeout, $"The probe of the master database waited {_options.ProbeTimeout.TotalSeconds:0.###} s for a connection: the budget or the master cap is full ({atTimeout.InUse} of {atTimeout.Limit} connections in use, {atTimeout.Waiting} callers waiting).")
                    : Report(failureStatus, atTimeout, $"The master database did not answer within {_options.ProbeTimeout.TotalSeconds:0.###} s.");
            }

            await query.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (ConnectionBudgetExhaustedException exception)
        {
            return Report(HealthStatus.Degraded, _database.GetBudgetSnapshot(), exception.Message, exception);
        }
        catch (ServerConnectionLimitException exception)
        {
            // The server answers, but has no connection to spare: not a dead database, a full one.
            return Report(HealthStatus.Degraded, _database.GetBudgetSnapshot(), exception.Message, exception);
        }
        catch (Exception exception) when (exception is DbException or System.Net.Sockets.SocketException or InvalidOperationException)
        {
            return Report(failureStatus, _database.GetBudgetSnapshot(), $"The master database cannot be reached: {exception.Message}", exception);
        }
        finally
        {
            // Ends the timer of a probe that answered in time; a probe no check waits for any more is withdrawn.
            probe.Cancel();
            if (query is not null)
            {
                shared.Leave(query);
            }
        }

        var answered = _database.GetBudgetSnapshot();
        var timeouts = _database.CountTimeouts(_options.TimeoutWindow);
        if (timeouts > 0)
        {
            return Report(
                HealthStatus.Degraded,
                answered,
                $"{timeouts} acquisitions timed out in the last {_options.TimeoutWindow.TotalSeconds:0.###} s " +
                "waiting for a connection.",
                timeouts: timeouts);
        }

        return Report(
            HealthStatus.Healthy,
            answered,
            $"The master database answered; {answered.InUse} of {answered.Limit} connections in use.",
            timeouts: 0);
    }

    /// <summary>
    /// The probe in flight of each runtime, shared by every check of it (a check object is created per run).
    /// </summary>
    private static readonly ConditionalWeakTable<TenantDatabase, SharedProbe> SharedProbes = new();

    private static bool IsSaturated(ConnectionBudgetSnapshot budget) => budget.Waiting > 0 || (budget.Limit > 0 && budget.InUse >= budget.Limit);

    private HealthCheckResult Report(HealthStatus status, ConnectionBudgetSnapshot budget, string description, Exception? exception = null, int? timeouts = null)
    {
        var data = new Dictionary<string, object>
        {
            ["max"] = budget.Limit,
            ["open"] = budget.Open,
            ["in_use"] = budget.InUse,
            ["pending"] = budget.Waiting,
            ["recent_timeouts"] = timeouts ?? _database.CountTimeouts(_options.TimeoutWindow),
            ["timeout_window_seconds"] = _options.TimeoutWindow.TotalSeconds,
        };
        return new HealthCheckResult(status, description, exception, data);
    }

    /// <summary>
    /// One <c>SELECT 1</c> on the master at a time for a runtime, awaited by every check that joined it; withdrawn
    /// (cancelled) once no check waits for it any more, as a probe of its own was when its check gave up.
    /// </summary>
    private sealed class SharedProbe
    {
        private readonly object _gate = new();
        private Task<int>? _running;
        private CancellationTokenSource? _withdraw;
        private int _waiting;

        /// <summary>The probe in flight, joined; <see langword="null"/> when there is none.</summary>
        public Task<int>? JoinRunning()
        {
            lock (_gate)
            {
                if (_running is null)
                {
                    return null;
                }

                _waiting++;
                return _running;
            }
        }

        /// <summary>The probe in flight, joined, or a new one.</summary>
        public Task<int> Join(TenantDatabase database)
        {
            lock (_gate)
            {
                if (_running is null)
                {
                    // No timer: the source needs no disposal, and a late Leave may still cancel it safely.
                    var withdraw = new CancellationTokenSource();
                    _withdraw = withdraw;
                    _running = RunAsync(database, withdraw);
                    _ = _running.ContinueWith(
                        static abandoned => abandoned.Exception,
                        CancellationToken.None,
                        TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously,
                        TaskScheduler.Default);
                }

                _waiting++;
                return _running;
            }
        }

        /// <summary>
        /// A check is done with <paramref name="probe"/>; the last one to leave a probe still running withdraws it.
        /// </summary>
        public void Leave(Task<int> probe)
        {
            CancellationTokenSource? withdraw = null;
            lock (_gate)
            {
                if (!ReferenceEquals(probe, _running) || --_waiting > 0)
                {
                    return;
                }

                withdraw = _withdraw;
                _running = null;
                _withdraw = null;
            }

            withdraw?.Cancel();
        }

        private async Task<int> RunAsync(TenantDatabase database, CancellationTokenSource withdraw)
        {
            // Started under the gate: the query itself runs after it is left, and never on the caller's synchronization
            // context (Task.Yield would post there: a caller blocked on the check would see the probe time out).
            await Task.CompletedTask.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
            try
            {
                return await database.ExecuteScalarMasterAsync<int>("SELECT 1", cancellationToken: withdraw.Token)
                    .ConfigureAwait(false);
            }
            finally
            {
                lock (_gate)
                {
                    // An answered probe is not joined again: the next check probes afresh.
                    if (ReferenceEquals(_withdraw, withdraw))
                    {
                        _running = null;
                        _withdraw = null;
                        _waiting = 0;
                    }
                }
            }
        }
    }
}
