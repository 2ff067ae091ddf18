using System;
using System.Collections.Generic;
using Microsoft.Extensions.Options;
using MySqlConnector;
using TenantDbGuard.Core;

namespace TenantDbGuard;

/// <summary>
/// Checks <see cref="TenantDbGuardOptions"/>: registered by <c>AddTenantDbGuard</c> (with <c>ValidateOnStart</c>, so that
/// a host refuses to start with bad options), and used by the <see cref="TenantDatabase"/> constructor.
/// </summary>
internal sealed class TenantDbGuardOptionsValidator : IValidateOptions<TenantDbGuardOptions>
{
    /// <summary>
    /// The shortest <see cref="TenantDbGuardOptions.AcquireTimeout"/>: timers count whole milliseconds.
    /// </summary>
    internal static readonly TimeSpan MinimumAcquireTimeout = TimeSpan.FromMilliseconds(1);

    /// <summary>
    /// The shortest <see cref="TenantDbGuardOptions.ResetTimeout"/>: about a round trip to a slow server.
    /// </summary>
    internal static readonly TimeSpan MinimumResetTimeout = TimeSpan.FromMilliseconds(10);

    /// <summary>Every problem of <paramref name="options"/>, each a sentence that names the option.</summary>
    public static List<string> Check(TenantDbGuardOptions options)
    {
        var failures = new List<string>();
        void Require(bool condition, string message)
        {
            if (!condition)
            {
                failures.Add("TenantDbGuardOptions." + message);
            }
        }

        if (string.IsNullOrWhiteSpace(options.MasterConnectionString))
        {
            failures.Add("TenantDbGuardOptions.MasterConnectionString is required.");
        }
        else
        {
            try
            {
                var settings = new MySqlConnectionStringBuilder(options.MasterConnectionString);

                // Without a database, master leases would run on whichever tenant database the reused connection was last on.
                Require(
                    !string.IsNullOrEmpty(settings.Database),
                    "MasterConnectionString must name the master database (Database=...), the one that holds the tenants table.");

                // Without them the driver would only give up at the first request, with an error that names no setting.
                Require(
                    !string.IsNullOrWhiteSpace(settings.Server),
                    "MasterConnectionString must name the server (Server=host, or a socket path with Protocol=Unix).");
                Require(
                    settings.ConnectionProtocol != MySqlConnectionProtocol.Tcp || settings.Port is > 0 and <= 65535,
                    $"MasterConnectionString's Port must be from 1 to 65535 (it is {settings.Port}).");
            }
            catch (Exception exception) when (exception is ArgumentException or FormatException or InvalidOperationException)
            {
                failures.Add($"TenantDbGuardOptions.MasterConnectionString is not a valid MySQL connection string: {exception.Message}");
            }
        }

        Require(options.MaxConnections is null or > 0, "MaxConnections must be positive when set.");
        Require(options.ServerShare is > 0 and <= 1, "ServerShare must be greater than 0 and at most 1.");
        Require(options.ReservedConnections >= 0, "ReservedConnections must not be negative.");
        Require(options.MaxConnectionsPerTenant > 0, "MaxConnectionsPerTenant must be positive.");
        Require(options.MaxMasterConnections > 0, "MaxMasterConnections must be positive.");
        // Beyond about 49.7 days a timer (Task.Delay, WaitAsync) refuses the wait: the first acquisition that waited would fail.
        // Timers count whole milliseconds: a wait of a few ticks is no wait at all, and every waiter would fail at
        // once.
        Require(options.AcquireTimeout >= MinimumAcquireTimeout && options.AcquireTimeout <= TimeSpan.FromDays(49), $"AcquireTimeout must be at least 1 ms (timers count whole milliseconds) and at most 49 days (the longest a timer waits); it is {options.AcquireTimeout}.");
        Require(options.IdleTimeout > TimeSpan.Zero, "IdleTimeout must be positive.");
        Require(options.TenantCacheDuration >= TimeSpan.Zero, "TenantCacheDuration must not be negative.");
        Require(options.UnknownTenantCacheDuration >= TimeSpan.Zero, "UnknownTenantCacheDuration must not be negative.");
        Require(options.ValidateAfterIdle >= TimeSpan.Zero, "ValidateAfterIdle must not be negative.");
        // Disposal waits three times ResetTimeout and a second, within the same limit of a timer.
        // It bounds the server's answer to the runtime's own statements at every lease's start: shorter than a round
        // trip to the server, every new connection would be ended before its first answer, and every lease would fail.
        Require(options.ResetTimeout >= MinimumResetTimeout && options.ResetTimeout <= TimeSpan.FromDays(16), $"ResetTimeout must be at least 10 ms (it bounds the server's answer to the runtime's own statements at every lease's start; shorter, every lease fails) and at most 16 days; it is {options.ResetTimeout}.");
        Require(options.LeakDetectionThreshold is null || options.LeakDetectionThreshold > TimeSpan.Zero, "LeakDetectionThreshold must be positive when set.");
        Require(options.MetricsTopTenants is >= 0 and <= 1000, "MetricsTopTenants must be between 0 and 1000 (each tenant named is a series of its own).");
        Require(options.TimeProvider is not null, "TimeProvider is required (TimeProvider.System by default).");
        Require(TenantRegistry.IsPlainTableName(options.TenantsTable), $"TenantsTable '{LogSafe.Text(options.TenantsTable ?? string.Empty)}' is not a plain table name (letters, digits and '_').");
        if (string.IsNullOrEmpty(options.TenantKeyPattern))
        {
            failures.Add("TenantDbGuardOptions.TenantKeyPattern is required.");
        }
        else
        {
            try
            {
                _ = new System.Text.RegularExpressions.Regex(options.TenantKeyPattern);
            }
            catch (ArgumentException exception)
            {
                failures.Add($"TenantDbGuardOptions.TenantKeyPattern is not a valid regular expression: {exception.Message}");
            }
        }

        return failures;
    }

    /// <inheritdoc/>
    public ValidateOptionsResult Validate(string? name, TenantDbGuardOptions options)
    {
        if (options is null)
        {
            throw new ArgumentNullException(nameof(options));
        }

        var failures = Check(options);
        if (!string.IsNullOrEmpty(name))
        {
            // A keyed registration's options: say which cluster's they are.
            failures = failures.ConvertAll(failure => $"{failure} (the options of the registration keyed '{name}')");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
