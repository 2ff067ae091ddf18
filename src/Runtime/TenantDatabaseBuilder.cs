using System;
using System.Diagnostics.Metrics;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using MySqlConnector;
using TenantDbGuard.Core;

namespace TenantDbGuard;

/// <summary>
/// Configures and creates a <see cref="TenantDatabase"/>, in the manner of MySqlConnector's
/// <see cref="MySqlDataSourceBuilder"/>: the options, where to log and measure, and the connection-level callbacks that
/// cloud deployments need (a rotating password or access token, certificate callbacks, per-session settings). Every
/// MySqlConnector data source the runtime creates, for every server and physical connection, gets them.
/// </summary>
/// <example>
/// <code>
/// var db = new TenantDatabaseBuilder("Server=db;User ID=app;Database=master")
///     .ConfigureOptions(o => o.MaxConnectionsPerTenant = 5)
///     .UsePeriodicPasswordProvider(async (context, ct) => await tokens.GetTokenAsync(ct), TimeSpan.FromMinutes(10), TimeSpan.FromSeconds(5))
///     .UseSessionOpenedCallback(async (connection, ct) =>
///     {
///         await using var command = new MySqlCommand("SET time_zone = '+00:00'", connection);
///         await command.ExecuteNonQueryAsync(ct);
///     })
///     .Build();
/// </code>
/// </example>
public sealed class TenantDatabaseBuilder
{
    private ILoggerFactory? _loggerFactory;
    private IMeterFactory? _meterFactory;
    private string? _name;
    private RemoteCertificateValidationCallback? _remoteCertificateValidation;
    private Func<X509CertificateCollection, ValueTask>? _clientCertificates;
    private Func<MySqlProvidePasswordContext, CancellationToken, ValueTask<string>>? _passwordProvider;
    private TimeSpan _passwordRefresh;
    private TimeSpan _passwordRetry;
    private Func<MySqlConnection, CancellationToken, ValueTask>? _sessionOpened;
    private Func<string, CancellationToken, ValueTask<TenantInfo?>>? _servicesResolver;

    /// <summary>A builder with default options; set <see cref="TenantDbGuardOptions.MasterConnectionString"/> before <see cref="Build"/>.</summary>
    public TenantDatabaseBuilder()
        : this(new TenantDbGuardOptions())
    {
    }

    /// <summary>A builder for the master database at <paramref name="masterConnectionString"/>, with default options otherwise.</summary>
    /// <param name="masterConnectionString">The master database's connection string (see <see cref="TenantDbGuardOptions.MasterConnectionString"/>).</param>
    public TenantDatabaseBuilder(string masterConnectionString)
        : this(new TenantDbGuardOptions { MasterConnectionString = masterConnectionString ?? throw new ArgumentNullException(nameof(masterConnectionString)) })
    {
    }

    /// <summary>A builder that starts from <paramref name="options"/> (the object itself: changes made through <see cref="Options"/> are made to it).</summary>
    /// <param name="options">The options.</param>
    public TenantDatabaseBuilder(TenantDbGuardOptions options)
    {
        Options = options ?? throw new ArgumentNullException(nameof(options));
    }

    /// <summary>The options the runtime is built with; <see cref="Build"/> copies them, so later changes have no effect on it.</summary>
    public TenantDbGuardOptions Options { get; }

    /// <summary>Changes the options.</summary>
    /// <param name="configure">Sets options.</param>
    /// <returns>This builder.</returns>
    public TenantDatabaseBuilder ConfigureOptions(Action<TenantDbGuardOptions> configure)
    {
        (configure ?? throw new ArgumentNullException(nameof(configure)))(Options);
        return this;
    }

    /// <summary>Where the runtime logs, and MySqlConnector's data sources with it; nowhere when <see langword="null"/> (the default).</summary>
    /// <param name="loggerFactory">The logger factory.</param>
    /// <returns>This builder.</returns>
    public TenantDatabaseBuilder UseLoggerFactory(ILoggerFactory? loggerFactory)
    {
        _loggerFactory = loggerFactory;
        return this;
    }

    /// <summary>Where the runtime creates its <c>TenantDbGuard</c> meter; a plain <see cref="Meter"/> when <see langword="null"/> (the default).</summary>
    /// <param name="meterFactory">The meter factory.</param>
    /// <returns>This builder.</returns>
    public TenantDatabaseBuilder UseMeterFactory(IMeterFactory? meterFactory)
    {
        _meterFactory = meterFactory;
        return this;
    }

    /// <summary>The name MySqlConnector gives the runtime's data sources in its logs, traces and metrics.</summary>
    /// <param name="name">The name, or <see langword="null"/> for MySqlConnector's default.</param>
    /// <returns>This builder.</returns>
    public TenantDatabaseBuilder UseName(string? name)
    {
        _name = name;
        return this;
    }

    /// <summary>Validates the server's certificate on every connection the runtime opens (see <see cref="MySqlDataSourceBuilder.UseRemoteCertificateValidationCallback"/>).</summary>
    /// <remarks>
    /// MySqlConnector calls it only with <c>SslMode=Required</c> or <c>Preferred</c> in the connection string; with
    /// <c>VerifyCA</c> or <c>VerifyFull</c> it validates the certificate itself. When the callback refuses a certificate,
    /// the call that needed the connection fails with <see cref="TenantConnectionFailedException"/> and nothing of its work
    /// is sent.
    /// </remarks>
    /// <param name="callback">The callback.</param>
    /// <returns>This builder.</returns>
    public TenantDatabaseBuilder UseRemoteCertificateValidationCallback(RemoteCertificateValidationCallback callback)
    {
        _remoteCertificateValidation = callback ?? throw new ArgumentNullException(nameof(callback));
        return this;
    }

    /// <summary>Provides client certificates for every connection the runtime opens (see <see cref="MySqlDataSourceBuilder.UseClientCertificatesCallback"/>).</summary>
    /// <remarks>
    /// The callback must add at least one certificate: MySqlConnector fails the open ("Couldn't connect to server") when
    /// the collection stays empty. Leave the callback unset for connections without a client certificate.
    /// </remarks>
    /// <param name="callback">Adds the certificates to the collection it is given.</param>
    /// <returns>This builder.</returns>
    public TenantDatabaseBuilder UseClientCertificatesCallback(Func<X509CertificateCollection, ValueTask> callback)
    {
        _clientCertificates = callback ?? throw new ArgumentNullException(nameof(callback));
        return this;
    }

    /// <summary>
    /// A rotating password or access token (AWS IAM, Entra ID), for every connection the runtime opens. The provider is
    /// called at most once per <paramref name="successRefreshInterval"/> for each server and user, however many physical
    /// connections there are (MySqlConnector's own provider would be called by each of them), and again after
    /// <paramref name="failureRefreshInterval"/> when it failed. The master connection string must not set a password
    /// (it would take precedence).
    /// </summary>
    /// <param name="passwordProvider">Returns the password for the server and user in its context.</param>
    /// <param name="successRefreshInterval">How long a password is used before the provider is asked again.</param>
    /// <param name="failureRefreshInterval">How long after a failure the provider is asked again.</param>
    /// <returns>This builder.</returns>
    public TenantDatabaseBuilder UsePeriodicPasswordProvider(
        Func<MySqlProvidePasswordContext, CancellationToken, ValueTask<string>> passwordProvider,
        TimeSpan successRefreshInterval,
        TimeSpan failureRefreshInterval)
    {
        if (successRefreshInterval <= TimeSpan.Zero || failureRefreshInterval <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(successRefreshInterval <= TimeSpan.Zero ? nameof(successRefreshInterval) : nameof(failureRefreshInterval), "The refresh intervals must be positive.");
        }

        _passwordProvider = passwordProvider ?? throw new ArgumentNullException(nameof(passwordProvider));
        _passwordRefresh = successRefreshInterval;
        _passwordRetry = failureRefreshInterval;
        return this;
    }

    /// <summary>
    /// Runs <paramref name="callback"/> on a session (a physical connection) before a lease gets it whenever the session
    /// is new or was reset, so that what it sets (<c>time_zone</c>, <c>sql_mode</c>, ...) is there for every lease:
    /// the runtime resets sessions between leases (see <see cref="TenantDbGuardOptions.ResetSessionOnRelease"/>), which
    /// undoes anything set only when the physical connection was opened. The tenant's database is not selected yet:
    /// set session state only, and touch no table. Pass the token to the callback's commands; an exception fails the
    /// acquisition, and the session is closed.
    /// </summary>
    /// <param name="callback">The callback, given the connection object and the acquisition's cancellation token.</param>
    /// <returns>This builder.</returns>
    public TenantDatabaseBuilder UseSessionOpenedCallback(Func<MySqlConnection, CancellationToken, ValueTask> callback)
    {
        _sessionOpened = callback ?? throw new ArgumentNullException(nameof(callback));
        return this;
    }

    /// <summary>The <see cref="ITenantResolver"/> the container holds, for a runtime built by the DI registration.</summary>
    /// <param name="resolver">Resolves a key in a service scope of its own.</param>
    /// <returns>This builder.</returns>
    internal TenantDatabaseBuilder UseServicesResolver(Func<string, CancellationToken, ValueTask<TenantInfo?>> resolver)
    {
        _servicesResolver = resolver;
        return this;
    }

    /// <summary>Creates the runtime. The builder can be changed and used again afterwards.</summary>
    /// <returns>The runtime; create one per process and keep it.</returns>
    /// <exception cref="ArgumentException">An option is missing or out of range; the message names every problem.</exception>
    public TenantDatabase Build()
    {
        var settings = new DataSourceSettings
        {
            LoggerFactory = _loggerFactory,
            Name = _name,
            RemoteCertificateValidation = _remoteCertificateValidation,
            ClientCertificates = _clientCertificates,
            Password = _passwordProvider is null ? null : new SharedPasswordProvider(_passwordProvider, _passwordRefresh, _passwordRetry, Options.TimeProvider ?? TimeProvider.System),
            SessionOpened = _sessionOpened,
        };
        var options = Options;
        if (_servicesResolver is not null)
        {
            if (options.TenantResolver is not null)
            {
                throw new InvalidOperationException(
                    "Both TenantDbGuardOptions.TenantResolver and an ITenantResolver service are set, and only one may resolve tenants: remove the option or the service registration.");
            }

            options = options.Clone();
            options.TenantResolver = _servicesResolver;
        }

        return new TenantDatabase(options, _loggerFactory, _meterFactory, settings);
    }
}
