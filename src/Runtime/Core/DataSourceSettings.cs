using System;
using System.Collections.Concurrent;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using MySqlConnector;

namespace TenantDbGuard.Core;

/// <summary>
/// What a <see cref="TenantDatabaseBuilder"/> gives every MySqlConnector data source the runtime creates (one per
/// physical connection, and the one that reads the server's <c>max_connections</c>), and the callback it runs on
/// sessions before a lease gets them.
/// </summary>
internal sealed class DataSourceSettings
{
    public static readonly DataSourceSettings None = new();

    public ILoggerFactory? LoggerFactory { get; init; }

    public string? Name { get; init; }

    public RemoteCertificateValidationCallback? RemoteCertificateValidation { get; init; }

    public Func<X509CertificateCollection, ValueTask>? ClientCertificates { get; init; }

    public SharedPasswordProvider? Password { get; init; }

    /// <summary>Runs on a session that is new or was reset, before a lease gets it (see <see cref="TenantDatabaseBuilder.UseSessionOpenedCallback"/>).</summary>
    public Func<MySqlConnection, CancellationToken, ValueTask>? SessionOpened { get; init; }

    /// <summary>A builder for <paramref name="connectionString"/> with every setting applied.</summary>
    public MySqlDataSourceBuilder CreateBuilder(string connectionString)
    {
        var builder = new MySqlDataSourceBuilder(connectionString);
        if (LoggerFactory is not null)
        {
            builder.UseLoggerFactory(LoggerFactory);
        }

        if (Name is not null)
        {
            builder.UseName(Name);
        }

        if (RemoteCertificateValidation is not null)
        {
            builder.UseRemoteCertificateValidationCallback(RemoteCertificateValidation);
        }

        if (ClientCertificates is not null)
        {
            builder.UseClientCertificatesCallback(ClientCertificates);
        }

        if (Password is { } password)
        {
            builder.UsePeriodicPasswordProvider(password.GetAsync, password.SuccessRefreshInterval, password.FailureRefreshInterval);
        }

        return builder;
    }
}

/// <summary>
/// A password provider shared by every data source of the runtime: each physical connection has a data source of its
/// own, and each would call the provider on its own timer; this calls the application's provider at most once per
/// refresh interval for each server and user, and hands the others the password it got.
/// </summary>
internal sealed class SharedPasswordProvider
{
    private readonly Func<MySqlProvidePasswordContext, CancellationToken, ValueTask<string>> _provider;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, Fetch> _fetches = new(StringComparer.Ordinal);

    public SharedPasswordProvider(
        Func<MySqlProvidePasswordContext, CancellationToken, ValueTask<string>> provider,
        TimeSpan successRefreshInterval,
        TimeSpan failureRefreshInterval,
        TimeProvider time)
    {
        _provider = provider;
        SuccessRefreshInterval = successRefreshInterval;
        FailureRefreshInterval = failureRefreshInterval;
        _time = time;
    }

    public TimeSpan SuccessRefreshInterval { get; }

    public TimeSpan FailureRefreshInterval { get; }

    public ValueTask<string> GetAsync(MySqlProvidePasswordContext context, CancellationToken cancellationToken)
    {
        var key = context.Server + ":" + context.Port.ToString(System.Globalization.CultureInfo.InvariantCulture) + "/" + context.UserId;
        while (true)
        {
            if (_fetches.TryGetValue(key, out var current) && !current.IsStale(_time))
            {
                return new ValueTask<string>(current.Password);
            }

            var next = new Fetch(this, context);
            if (current is null ? _fetches.TryAdd(key, next) : _fetches.TryUpdate(key, next, current))
            {
                _ = next.StartAsync();
                return new ValueTask<string>(next.Password);
            }
        }
    }

    /// <summary>One call of the application's provider, valid for a refresh interval from when it completed.</summary>
    private sealed class Fetch
    {
        private readonly SharedPasswordProvider _owner;
        private readonly MySqlProvidePasswordContext _context;
        private readonly TaskCompletionSource<string> _password = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private long _completedAt = -1;

        public Fetch(SharedPasswordProvider owner, MySqlProvidePasswordContext context)
        {
            _owner = owner;
            _context = context;
        }

        public Task<string> Password => _password.Task;

        public bool IsStale(TimeProvider time)
        {
            var completedAt = Volatile.Read(ref _completedAt);
            if (completedAt < 0)
            {
                return false;
            }

            var valid = _password.Task.IsCompletedSuccessfully ? _owner.SuccessRefreshInterval : _owner.FailureRefreshInterval;
            return time.GetElapsedTime(completedAt) >= valid;
        }

        public async Task StartAsync()
        {
            try
            {
                _password.TrySetResult(await _owner._provider(_context, CancellationToken.None).ConfigureAwait(false));
            }
            catch (Exception exception)
            {
                _password.TrySetException(exception);
            }
            finally
            {
                Volatile.Write(ref _completedAt, _owner._time.GetTimestamp());
            }
        }
    }
}
