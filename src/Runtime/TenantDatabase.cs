using System;
using System.Data.Common;
using System.Collections.Generic;
using System.Data;
using System.Diagnostics.Metrics;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MySqlConnector;
using TenantDbGuard.Core;

namespace TenantDbGuard;

/// <summary>
/// The master database and every tenant database of a multi-tenant service, behind one connection budget.
/// Create one per process (or register it with <c>services.AddTenantDbGuard(...)</c>) and keep it for the
/// application's lifetime.
/// </summary>
/// <remarks>
/// <para>
/// Every physical connection, idle or in use, for the master and for every tenant, counts against one process
/// budget (<see cref="TenantDbGuardOptions.MaxConnections"/>, by default derived from the server's
/// <c>max_connections</c>). When the budget is full, the longest-idle connection of another tenant is closed to make
/// room; when none is idle, the caller waits (first come, first served) up to <see cref="TenantDbGuardOptions.AcquireTimeout"/> and then gets a
/// <see cref="ConnectionBudgetExhaustedException"/>. The server therefore never sees more connections than the budget,
/// however many tenants there are.
/// </para>
/// <para>
/// The query helpers give the connection back on every path, exceptions and cancellation included. For anything
/// else, take a lease with <see cref="GetConnectionAsync"/> under <c>await using</c>.
/// </para>
/// <para>
/// Every call that takes a connection (a lease, a helper, a data source's connection, an unbuffered query) throws
/// <see cref="ObjectDisposedException"/> once the runtime is disposed, and <see cref="OperationCanceledException"/>
/// carrying the caller's token when that token cancels it; a token already cancelled, or a disposed runtime, is refused
/// before anything is asked of the server.
/// </para>
/// </remarks>
public sealed class TenantDatabase : IAsyncDisposable, IDisposable
{
    /// <summary>The key under which the master database appears in errors, logs and metrics.</summary>
    public const string MasterKey = "(master)";

    private const int DataSourceCacheSize = 4096;

    private readonly TenantDbGuardOptions _options;
    private readonly DataSourceSettings _settings;
    private readonly MySqlConnectionStringBuilder _master;
    private readonly ILogger _logger;
    private readonly ConnectionBroker _broker;
    private readonly TenantRegistry _registry;
    private readonly Instruments _instruments;
    private readonly LeakDetector _leaks;
    private readonly object _budgetGate = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, TenantTarget> _targets = new(StringComparer.Ordinal);
    private readonly Lazy<TenantTarget> _masterTarget;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, TenantDataSource> _dataSources = new(StringComparer.Ordinal);
    private readonly Lazy<TenantDataSource> _masterDataSource;
    /// <summary>The leases that the work of the callbacks this call runs in holds (see <see cref="HeldByWork"/>).</summary>
    private static readonly AsyncLocal<HeldByWork?> WorkLeases = new();

    private Task? _budget;
    private int _disposed;

    /// <summary>Creates the tenant database access for one process.</summary>
    /// <param name="options">The settings; they are copied, later changes have no effect.</param>
    /// <param name="loggerFactory">Where to log; none when <see langword="null"/>.</param>
    /// <param name="meterFactory">Where to create the <c>TenantDbGuard</c> meter; a plain <see cref="Meter"/> when <see langword="null"/>.</param>
    /// <exception cref="ArgumentException">An option is missing or out of range; the message names it.</exception>
    public TenantDatabase(TenantDbGuardOptions options, ILoggerFactory? loggerFactory = null, IMeterFactory? meterFactory = null)
        : this(options, loggerFactory, meterFactory, DataSourceSettings.None)
    {
    }

    /// <summary>Creates the runtime from a <see cref="TenantDatabaseBuilder"/>'s settings.</summary>
    internal TenantDatabase(TenantDbGuardOptions options, ILoggerFactory? loggerFactory, IMeterFactory? meterFactory, DataSourceSettings settings)
    {
        if (options is null)
        {
            throw new ArgumentNullException(nameof(options));
        }

        _settings = settings;
        _options = Validate(options);
        _master = new MySqlConnectionStringBuilder(_options.MasterConnectionString) { Pooling = false };
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("TenantDbGuard");
        _broker = new ConnectionBroker(_options, _logger);
        _instruments = new Instruments(meterFactory, _broker, $"{_master.Server}:{_master.Port}/{_master.Database}", _options.MetricsTopTenants);
        _broker.Instruments = _instruments;
        _leaks = new LeakDetector(_options.LeakDetectionThreshold, _options.TimeProvider, _logger, _instruments);
        _broker.Leaks = _leaks;
        _registry = new TenantRegistry(_options, new MasterLocation(_master.Server, _master.Port, _master.Database), TimeSpan.FromSeconds(_master.DefaultCommandTimeout), token => LeaseMasterAsync(exposed: false, token, waitOnly: true), _logger);
        _masterTarget = new Lazy<TenantTarget>(() => new TenantTarget(MasterKey, _master.Database, GetServer(null, null), _options.MaxMasterConnections, ConnectionBudgetKind.Master));
        _broker.LoadServer = () => GetServer(null, null);
        _masterDataSource = new Lazy<TenantDataSource>(() => new TenantDataSource(this, tenantKey: null, PublicConnectionString(_master.Database)));
        if (_options.MaxConnections is not null)
        {
            _budget = Task.CompletedTask;
        }
    }

    /// <summary>Lends an open connection to a tenant's database. Dispose the lease on every path (<c>await using</c>).</summary>
    /// <param name="tenantKey">
    /// The tenant's key; it must match <see cref="TenantDbGuardOptions.TenantKeyPattern"/>. Spellings that the tenants
    /// table's key column treats as equal (<c>acme</c>, <c>ACME</c> under a case-insensitive collation) name one tenant.
    /// </param>
    /// <param name="cancellationToken">
    /// Cancels the wait for a connection; afterwards, the lease's <see cref="TenantConnectionLease.CancellationToken"/>
    /// follows it.
    /// </param>
    /// <returns>
    /// The lease, whose <see cref="TenantConnectionLease.Connection"/> is open on the tenant's database (the server
    /// confirmed it) and carries no session state of any other tenant.
    /// </returns>
    /// <exception cref="InvalidTenantKeyException">The key does not match the allowed pattern; no query was run.</exception>
    /// <exception cref="TenantNotFoundException">No active tenant has this key.</exception>
    /// <exception cref="TenantConfigurationException">The tenant's row names a database it must not use.</exception>
    /// <exception cref="TenantDatabaseUnavailableException">The tenant's database is gone, not accessible, or its name is rejected by the server.</exception>
    /// <exception cref="ConnectionBudgetExhaustedException">No connection could be had within the acquire timeout.</exception>
    /// <exception cref="ServerConnectionLimitException">The server kept refusing connections (errors 1040, 1203, 1226) for the whole acquire timeout.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="tenantKey"/> is null.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the lease was had.</exception>
    /// <exception cref="ObjectDisposedException">The runtime was disposed.</exception>
    [AcquiresConnection]
    public ValueTask<TenantConnectionLease> GetConnectionAsync(string tenantKey, CancellationToken cancellationToken = default) =>
        LeaseAsync(tenantKey, exposed: true, cancellationToken);

    /// <summary>Lends an open connection to the master database. Dispose the lease on every path (<c>await using</c>).</summary>
    /// <param name="cancellationToken">Cancels the wait for a connection; afterwards, the lease's <see cref="TenantConnectionLease.CancellationToken"/> follows it.</param>
    /// <returns>The lease, whose connection is open on the master database.</returns>
    /// <exception cref="ConnectionBudgetExhaustedException">No connection could be had within the acquire timeout.</exception>
    /// <exception cref="ServerConnectionLimitException">The server kept refusing connections (errors 1040, 1203, 1226) for the whole acquire timeout.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the lease was had.</exception>
    /// <exception cref="ObjectDisposedException">The runtime was disposed.</exception>
    [AcquiresConnection]
    public ValueTask<TenantConnectionLease> GetMasterConnectionAsync(CancellationToken cancellationToken = default) =>
        LeaseMasterAsync(exposed: true, cancellationToken);

    /// <summary>
    /// A <see cref="DbDataSource"/> for one tenant's database, for code and libraries that take one (EF Core, Dapper,
    /// anything written against ADO.NET). Its connections take a lease when they are opened and give it back when they
    /// are closed or disposed, under the same budget, caps and isolation as <see cref="GetConnectionAsync"/>.
    /// </summary>
    /// <param name="tenantKey">
    /// The tenant's key; it must match <see cref="TenantDbGuardOptions.TenantKeyPattern"/>. The tenant is looked up when a
    /// connection is opened, not here, so a tenant disabled or moved is seen by the next open.
    /// </param>
    /// <returns>
    /// The tenant's data source: the same object for the same key (up to 4,096 keys; beyond that a new, equally valid one),
    /// cheap to get on every request. Disposing it does nothing: the runtime owns what it uses.
    /// </returns>
    /// <exception cref="ArgumentNullException"><paramref name="tenantKey"/> is null.</exception>
    /// <exception cref="InvalidTenantKeyException">The key does not match the allowed pattern.</exception>
    /// <exception cref="ObjectDisposedException">The runtime was disposed.</exception>
    public TenantDataSource ForTenant(string tenantKey)
    {
        ThrowIfDisposed();
        if (_dataSources.TryGetValue(tenantKey ?? throw new ArgumentNullException(nameof(tenantKey)), out var cached))
        {
            return cached;
        }

        _registry.Validate(tenantKey);
        var created = new TenantDataSource(this, tenantKey, PublicConnectionString(string.Empty));
        return _dataSources.Count < DataSourceCacheSize ? _dataSources.GetOrAdd(tenantKey, created) : created;
    }

    /// <summary>
    /// A <see cref="DbDataSource"/> for the master database, whose connections are leased like
    /// <see cref="GetMasterConnectionAsync"/>'s (see <see cref="ForTenant"/>).
    /// </summary>
    /// <returns>The master's data source, one object for the runtime's life.</returns>
    /// <exception cref="ObjectDisposedException">The runtime was disposed.</exception>
    public TenantDataSource ForMaster()
    {
        ThrowIfDisposed();
        return _masterDataSource.Value;
    }

    /// <summary>
    /// Forgets what is known about a tenant (its row, its database), so that the next call for it reads the tenants
    /// table again: a tenant disabled or moved in the table is refused or moved at once instead of after
    /// <see cref="TenantDbGuardOptions.TenantCacheDuration"/>. A lookup of the tenant that is still under way then may
    /// have read the row before the change: calls made after this one do not wait for it, and what it read is not kept.
    /// Leases already lent are not affected.
    /// </summary>
    /// <param name="tenantKey">The tenant's key, in any spelling that names it.</param>
    /// <exception cref="ArgumentNullException"><paramref name="tenantKey"/> is null.</exception>
    /// <exception cref="ObjectDisposedException">The runtime was disposed.</exception>
    public void InvalidateTenant(string tenantKey)
    {
        ThrowIfDisposed();
        if (tenantKey is null)
        {
            throw new ArgumentNullException(nameof(tenantKey));
        }

        _registry.Invalidate(tenantKey);
        foreach (var target in _targets.Values)
        {
            if (string.Equals(target.Key, tenantKey, StringComparison.OrdinalIgnoreCase))
            {
                _targets.TryRemove(target.Key, out _);
            }
        }
    }

    /// <summary>Runs a query on a tenant's database and maps the rows with Dapper.</summary>
    /// <typeparam name="T">The row type.</typeparam>
    /// <param name="tenantKey">The tenant's key.</param>
    /// <param name="sql">The SQL, with <c>@name</c> placeholders for the parameters.</param>
    /// <param name="parameters">The parameters (an anonymous object or <see cref="DynamicParameters"/>); always sent as parameters.</param>
    /// <param name="options">The statement's timeout and flags; <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">Cancels the wait and the query.</param>
    /// <returns>The rows, buffered.</returns>
    /// <exception cref="CommandTimeoutException">The query did not finish within its command timeout; it was stopped on the server.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="tenantKey"/> or <paramref name="sql"/> is null; nothing was run.</exception>
    /// <exception cref="ArgumentException"><paramref name="sql"/> is empty or white space; nothing was run.</exception>
    public Task<IReadOnlyList<T>> QueryTenantAsync<T>(string tenantKey, string sql, object? parameters = null, CommandOptions? options = null, CancellationToken cancellationToken = default) =>
        WithTenantSqlAsync(tenantKey, sql, options, (connection, token) => QueryAsync<T>(connection, Command(sql, parameters, options, token)), cancellationToken);

    /// <summary>As <see cref="QueryTenantAsync{T}(string, string, object?, CommandOptions?, CancellationToken)"/> with the default command options.</summary>
    /// <typeparam name="T">The row type.</typeparam>
    /// <param name="tenantKey">The tenant's key.</param>
    /// <param name="sql">The SQL, with <c>@name</c> placeholders for the parameters.</param>
    /// <param name="parameters">The parameters; always sent as parameters.</param>
    /// <param name="cancellationToken">Cancels the wait and the query.</param>
    /// <returns>The rows, buffered.</returns>
    public Task<IReadOnlyList<T>> QueryTenantAsync<T>(string tenantKey, string sql, object? parameters, CancellationToken cancellationToken) =>
        QueryTenantAsync<T>(tenantKey, sql, parameters, options: null, cancellationToken);

    /// <summary>Runs a query on the master database and maps the rows with Dapper.</summary>
    /// <typeparam name="T">The row type.</typeparam>
    /// <param name="sql">The SQL, with <c>@name</c> placeholders for the parameters.</param>
    /// <param name="parameters">The parameters; always sent as parameters.</param>
    /// <param name="options">The statement's timeout and flags; <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">Cancels the wait and the query.</param>
    /// <returns>The rows, buffered.</returns>
    /// <exception cref="CommandTimeoutException">The query did not finish within its command timeout; it was stopped on the server.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="sql"/> is null; nothing was run.</exception>
    /// <exception cref="ArgumentException"><paramref name="sql"/> is empty or white space; nothing was run.</exception>
    public Task<IReadOnlyList<T>> QueryMasterAsync<T>(string sql, object? parameters = null, CommandOptions? options = null, CancellationToken cancellationToken = default) =>
        WithMasterSqlAsync(sql, options, (connection, token) => QueryAsync<T>(connection, Command(sql, parameters, options, token)), cancellationToken);

    /// <summary>As <see cref="QueryMasterAsync{T}(string, object?, CommandOptions?, CancellationToken)"/> with the default command options.</summary>
    /// <typeparam name="T">The row type.</typeparam>
    /// <param name="sql">The SQL, with <c>@name</c> placeholders for the parameters.</param>
    /// <param name="parameters">The parameters; always sent as parameters.</param>
    /// <param name="cancellationToken">Cancels the wait and the query.</param>
    /// <returns>The rows, buffered.</returns>
    public Task<IReadOnlyList<T>> QueryMasterAsync<T>(string sql, object? parameters, CancellationToken cancellationToken) =>
        QueryMasterAsync<T>(sql, parameters, options: null, cancellationToken);

    /// <summary>Runs a statement on a tenant's database.</summary>
    /// <param name="tenantKey">The tenant's key.</param>
    /// <param name="sql">The SQL, with <c>@name</c> placeholders for the parameters.</param>
    /// <param name="parameters">The parameters; always sent as parameters.</param>
    /// <param name="options">The statement's timeout and flags; <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">Cancels the wait and the statement.</param>
    /// <returns>The number of rows affected.</returns>
    /// <exception cref="CommandTimeoutException">The statement did not finish within its command timeout; it was stopped on the server.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="tenantKey"/> or <paramref name="sql"/> is null; nothing was run.</exception>
    /// <exception cref="ArgumentException"><paramref name="sql"/> is empty or white space; nothing was run.</exception>
    public Task<int> ExecuteTenantAsync(string tenantKey, string sql, object? parameters = null, CommandOptions? options = null, CancellationToken cancellationToken = default) =>
        WithTenantSqlAsync(tenantKey, sql, options, (connection, token) => connection.ExecuteAsync(Command(sql, parameters, options, token)), cancellationToken);

    /// <summary>As <see cref="ExecuteTenantAsync(string, string, object?, CommandOptions?, CancellationToken)"/> with the default command options.</summary>
    /// <param name="tenantKey">The tenant's key.</param>
    /// <param name="sql">The SQL, with <c>@name</c> placeholders for the parameters.</param>
    /// <param name="parameters">The parameters; always sent as parameters.</param>
    /// <param name="cancellationToken">Cancels the wait and the statement.</param>
    /// <returns>The number of rows affected.</returns>
    public Task<int> ExecuteTenantAsync(string tenantKey, string sql, object? parameters, CancellationToken cancellationToken) =>
        ExecuteTenantAsync(tenantKey, sql, parameters, options: null, cancellationToken);

    /// <summary>Runs a statement on the master database.</summary>
    /// <param name="sql">The SQL, with <c>@name</c> placeholders for the parameters.</param>
    /// <param name="parameters">The parameters; always sent as parameters.</param>
    /// <param name="options">The statement's timeout and flags; <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">Cancels the wait and the statement.</param>
    /// <returns>The number of rows affected.</returns>
    /// <exception cref="CommandTimeoutException">The statement did not finish within its command timeout; it was stopped on the server.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="sql"/> is null; nothing was run.</exception>
    /// <exception cref="ArgumentException"><paramref name="sql"/> is empty or white space; nothing was run.</exception>
    public Task<int> ExecuteMasterAsync(string sql, object? parameters = null, CommandOptions? options = null, CancellationToken cancellationToken = default) =>
        WithMasterSqlAsync(sql, options, (connection, token) => connection.ExecuteAsync(Command(sql, parameters, options, token)), cancellationToken);

    /// <summary>As <see cref="ExecuteMasterAsync(string, object?, CommandOptions?, CancellationToken)"/> with the default command options.</summary>
    /// <param name="sql">The SQL, with <c>@name</c> placeholders for the parameters.</param>
    /// <param name="parameters">The parameters; always sent as parameters.</param>
    /// <param name="cancellationToken">Cancels the wait and the statement.</param>
    /// <returns>The number of rows affected.</returns>
    public Task<int> ExecuteMasterAsync(string sql, object? parameters, CancellationToken cancellationToken) =>
        ExecuteMasterAsync(sql, parameters, options: null, cancellationToken);

    /// <summary>Runs a query on a tenant's database that returns one value.</summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="tenantKey">The tenant's key.</param>
    /// <param name="sql">The SQL, with <c>@name</c> placeholders for the parameters.</param>
    /// <param name="parameters">The parameters; always sent as parameters.</param>
    /// <param name="options">The statement's timeout and flags; <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">Cancels the wait and the query.</param>
    /// <returns>The first column of the first row, or the default of <typeparamref name="T"/> when there is none.</returns>
    /// <exception cref="CommandTimeoutException">The query did not finish within its command timeout; it was stopped on the server.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="tenantKey"/> or <paramref name="sql"/> is null; nothing was run.</exception>
    /// <exception cref="ArgumentException"><paramref name="sql"/> is empty or white space; nothing was run.</exception>
    public Task<T?> ExecuteScalarTenantAsync<T>(string tenantKey, string sql, object? parameters = null, CommandOptions? options = null, CancellationToken cancellationToken = default) =>
        WithTenantSqlAsync(tenantKey, sql, options, (connection, token) => connection.ExecuteScalarAsync<T?>(Command(sql, parameters, options, token)), cancellationToken);

    /// <summary>As <see cref="ExecuteScalarTenantAsync{T}(string, string, object?, CommandOptions?, CancellationToken)"/> with the default command options.</summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="tenantKey">The tenant's key.</param>
    /// <param name="sql">The SQL, with <c>@name</c> placeholders for the parameters.</param>
    /// <param name="parameters">The parameters; always sent as parameters.</param>
    /// <param name="cancellationToken">Cancels the wait and the query.</param>
    /// <returns>The first column of the first row, or the default of <typeparamref name="T"/> when there is none.</returns>
    public Task<T?> ExecuteScalarTenantAsync<T>(string tenantKey, string sql, object? parameters, CancellationToken cancellationToken) =>
        ExecuteScalarTenantAsync<T>(tenantKey, sql, parameters, options: null, cancellationToken);

    /// <summary>Runs a query on the master database that returns one value.</summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="sql">The SQL, with <c>@name</c> placeholders for the parameters.</param>
    /// <param name="parameters">The parameters; always sent as parameters.</param>
    /// <param name="options">The statement's timeout and flags; <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">Cancels the wait and the query.</param>
    /// <returns>The first column of the first row, or the default of <typeparamref name="T"/> when there is none.</returns>
    /// <exception cref="CommandTimeoutException">The query did not finish within its command timeout; it was stopped on the server.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="sql"/> is null; nothing was run.</exception>
    /// <exception cref="ArgumentException"><paramref name="sql"/> is empty or white space; nothing was run.</exception>
    public Task<T?> ExecuteScalarMasterAsync<T>(string sql, object? parameters = null, CommandOptions? options = null, CancellationToken cancellationToken = default) =>
        WithMasterSqlAsync(sql, options, (connection, token) => connection.ExecuteScalarAsync<T?>(Command(sql, parameters, options, token)), cancellationToken);

    /// <summary>As <see cref="ExecuteScalarMasterAsync{T}(string, object?, CommandOptions?, CancellationToken)"/> with the default command options.</summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="sql">The SQL, with <c>@name</c> placeholders for the parameters.</param>
    /// <param name="parameters">The parameters; always sent as parameters.</param>
    /// <param name="cancellationToken">Cancels the wait and the query.</param>
    /// <returns>The first column of the first row, or the default of <typeparamref name="T"/> when there is none.</returns>
    public Task<T?> ExecuteScalarMasterAsync<T>(string sql, object? parameters, CancellationToken cancellationToken) =>
        ExecuteScalarMasterAsync<T>(sql, parameters, options: null, cancellationToken);

    /// <summary>
    /// Runs a query on a tenant's database and maps its rows with Dapper one at a time, as the caller reads them, instead
    /// of buffering them: for results too large to hold in memory. The connection is leased when the enumeration starts
    /// and held until the enumerator is disposed (<c>await foreach</c> does it on every path). When the caller stops
    /// early (a <c>break</c>, an exception in the loop, a mapping error, cancellation), the statement still running is
    /// stopped on the server with the runtime's own <c>KILL QUERY</c> (within the budget) rather than read through to
    /// its end, and the connection is reset before anyone gets it again.
    /// </summary>
    /// <typeparam name="T">The row type.</typeparam>
    /// <param name="tenantKey">The tenant's key.</param>
    /// <param name="sql">The SQL: one statement whose rows are read.</param>
    /// <param name="parameters">The parameters; always sent as parameters.</param>
    /// <param name="options">
    /// The statement's timeout, which bounds each wait for the server (the statement up to its first row, then each
    /// further read) and not the time the caller spends between rows; <see langword="null"/> for the defaults.
    /// </param>
    /// <param name="cancellationToken">
    /// Cancels the wait for a connection and the query; a token given to <c>WithCancellation</c> does the same.
    /// </param>
    /// <returns>The rows, read as they are enumerated. Enumerate it once: each enumeration runs the query again.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="tenantKey"/> or <paramref name="sql"/> is null.</exception>
    /// <exception cref="InvalidTenantKeyException">The key does not match the allowed pattern (thrown at once).</exception>
    public IAsyncEnumerable<T> QueryTenantUnbufferedAsync<T>(string tenantKey, string sql, object? parameters = null, CommandOptions? options = null, CancellationToken cancellationToken = default)
    {
        _registry.Validate(tenantKey);
        CheckSql(sql ?? throw new ArgumentNullException(nameof(sql)));
        return UnbufferedAsync<T>(tenantKey, sql, parameters, options, cancellationToken);
    }

    /// <summary>
    /// As <see cref="QueryTenantUnbufferedAsync{T}"/>, on the master database: rows mapped one at a time as they are read,
    /// the connection held until the enumerator is disposed, the statement killed when the caller stops early.
    /// </summary>
    /// <typeparam name="T">The row type.</typeparam>
    /// <param name="sql">The SQL: one statement whose rows are read.</param>
    /// <param name="parameters">The parameters; always sent as parameters.</param>
    /// <param name="options">The statement's timeout (each wait for the server); <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">Cancels the wait for a connection and the query; a token given to <c>WithCancellation</c> does the same.</param>
    /// <returns>The rows, read as they are enumerated.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="sql"/> is null.</exception>
    public IAsyncEnumerable<T> QueryMasterUnbufferedAsync<T>(string sql, object? parameters = null, CommandOptions? options = null, CancellationToken cancellationToken = default)
    {
        CheckSql(sql ?? throw new ArgumentNullException(nameof(sql)));
        return UnbufferedAsync<T>(tenantKey: null, sql, parameters, options, cancellationToken);
    }

    /// <summary>Runs <paramref name="work"/> with an open connection to a tenant's database and gives it back on every path.</summary>
    /// <typeparam name="TResult">What the work returns.</typeparam>
    /// <param name="tenantKey">The tenant's key.</param>
    /// <param name="work">The work; it must not keep the connection after its task completes.</param>
    /// <param name="cancellationToken">Cancels the wait, and is passed to the work.</param>
    /// <returns>What the work returned.</returns>
    /// <exception cref="InvalidOperationException">
    /// The work returned while a statement it started on the connection was still running (a task it did not await):
    /// the statement may or may not take effect, and an open transaction is rolled back. Or the work returned null
    /// instead of a task.
    /// </exception>
    public Task<TResult> WithTenantConnectionAsync<TResult>(string tenantKey, Func<MySqlConnection, CancellationToken, Task<TResult>> work, CancellationToken cancellationToken = default)
    {
        if (work is null)
        {
            throw new ArgumentNullException(nameof(work));
        }

        // Code gets the lease's own connection object: never the one that leads with a statement of the runtime's.
        return WithTenantLeaseAsync(tenantKey, sql: null, options: null, exposed: true, (connection, token) => work((MySqlConnection)connection, token), cancellationToken);
    }

    /// <summary>Runs <paramref name="work"/> with an open connection to a tenant's database and gives it back on every path.</summary>
    /// <param name="tenantKey">The tenant's key.</param>
    /// <param name="work">The work; it must not keep the connection after its task completes.</param>
    /// <param name="cancellationToken">Cancels the wait, and is passed to the work.</param>
    /// <returns>A task that completes when the work has and the connection is back.</returns>
    /// <exception cref="InvalidOperationException">
    /// The work returned while a statement it started on the connection was still running (a task it did not await):
    /// the statement may or may not take effect, and an open transaction is rolled back. Or the work returned null
    /// instead of a task.
    /// </exception>
    public Task WithTenantConnectionAsync(string tenantKey, Func<MySqlConnection, CancellationToken, Task> work, CancellationToken cancellationToken = default)
    {
        if (work is null)
        {
            throw new ArgumentNullException(nameof(work));
        }

        return WithTenantConnectionAsync<bool>(
            tenantKey,
            async (connection, token) =>
            {
                await Started(work(connection, token)).ConfigureAwait(false);
                return true;
            },
            cancellationToken);
    }

    /// <summary>
    /// Runs <paramref name="work"/> in a transaction on a tenant's database: committed when the work succeeds, rolled
    /// back when it throws or is cancelled. The connection is given back on every path.
    /// </summary>
    /// <typeparam name="TResult">What the work returns.</typeparam>
    /// <param name="tenantKey">The tenant's key.</param>
    /// <param name="work">The work; pass the transaction to every command.</param>
    /// <param name="isolationLevel">The isolation level; <see cref="IsolationLevel.Unspecified"/> keeps the server's default.</param>
    /// <param name="cancellationToken">Cancels the wait, the work and the commit.</param>
    /// <returns>What the work returned.</returns>
    /// <exception cref="InvalidOperationException">
    /// The work returned while a statement it started on the connection was still running (a task it did not await):
    /// the statement may or may not take effect, and an open transaction is rolled back. Or the work returned null
    /// instead of a task.
    /// </exception>
    public Task<TResult> WithTenantTransactionAsync<TResult>(
        string tenantKey,
        Func<MySqlConnection, MySqlTransaction, CancellationToken, Task<TResult>> work,
        IsolationLevel isolationLevel = IsolationLevel.Unspecified,
        CancellationToken cancellationToken = default)
    {
        if (work is null)
        {
            throw new ArgumentNullException(nameof(work));
        }

        return WithTenantConnectionAsync(
            tenantKey,
            (connection, token) => InTransactionAsync(tenantKey, connection, work, isolationLevel, token),
            cancellationToken);
    }

    /// <summary>As <see cref="WithTenantTransactionAsync{TResult}"/>, for work that returns nothing.</summary>
    /// <param name="tenantKey">The tenant's key.</param>
    /// <param name="work">The work; pass the transaction to every command.</param>
    /// <param name="isolationLevel">The isolation level; <see cref="IsolationLevel.Unspecified"/> keeps the server's default.</param>
    /// <param name="cancellationToken">Cancels the wait, the work and the commit.</param>
    /// <returns>A task that completes when the transaction is committed and the connection is back.</returns>
    /// <exception cref="InvalidOperationException">
    /// The work returned while a statement it started on the connection was still running (a task it did not await):
    /// the statement may or may not take effect, and an open transaction is rolled back. Or the work returned null
    /// instead of a task.
    /// </exception>
    public Task WithTenantTransactionAsync(
        string tenantKey,
        Func<MySqlConnection, MySqlTransaction, CancellationToken, Task> work,
        IsolationLevel isolationLevel = IsolationLevel.Unspecified,
        CancellationToken cancellationToken = default)
    {
        if (work is null)
        {
            throw new ArgumentNullException(nameof(work));
        }

        return WithTenantTransactionAsync<bool>(
            tenantKey,
            async (connection, transaction, token) =>
            {
                await Started(work(connection, transaction, token)).ConfigureAwait(false);
                return true;
            },
            isolationLevel,
            cancellationToken);
    }

    /// <summary>Runs <paramref name="work"/> with an open connection to the master database and gives it back on every path.</summary>
    /// <typeparam name="TResult">What the work returns.</typeparam>
    /// <param name="work">The work; it must not keep the connection after its task completes.</param>
    /// <param name="cancellationToken">Cancels the wait, and is passed to the work.</param>
    /// <returns>What the work returned.</returns>
    /// <exception cref="InvalidOperationException">
    /// The work returned while a statement it started on the connection was still running (a task it did not await):
    /// the statement may or may not take effect, and an open transaction is rolled back. Or the work returned null
    /// instead of a task.
    /// </exception>
    public Task<TResult> WithMasterConnectionAsync<TResult>(Func<MySqlConnection, CancellationToken, Task<TResult>> work, CancellationToken cancellationToken = default)
    {
        if (work is null)
        {
            throw new ArgumentNullException(nameof(work));
        }

        return WithMasterLeaseAsync(sql: null, options: null, exposed: true, work, cancellationToken);
    }

    /// <summary>Runs <paramref name="work"/> with an open connection to the master database and gives it back on every path.</summary>
    /// <param name="work">The work; it must not keep the connection after its task completes.</param>
    /// <param name="cancellationToken">Cancels the wait, and is passed to the work.</param>
    /// <returns>A task that completes when the work has and the connection is back.</returns>
    /// <exception cref="InvalidOperationException">
    /// The work returned while a statement it started on the connection was still running (a task it did not await):
    /// the statement may or may not take effect, and an open transaction is rolled back. Or the work returned null
    /// instead of a task.
    /// </exception>
    public Task WithMasterConnectionAsync(Func<MySqlConnection, CancellationToken, Task> work, CancellationToken cancellationToken = default)
    {
        if (work is null)
        {
            throw new ArgumentNullException(nameof(work));
        }

        return WithMasterConnectionAsync<bool>(
            async (connection, token) =>
            {
                await Started(work(connection, token)).ConfigureAwait(false);
                return true;
            },
            cancellationToken);
    }

    /// <summary>
    /// Runs <paramref name="work"/> in a transaction on the master database: committed when the work succeeds, rolled
    /// back when it throws or is cancelled. The connection is given back on every path.
    /// </summary>
    /// <typeparam name="TResult">What the work returns.</typeparam>
    /// <param name="work">The work; pass the transaction to every command.</param>
    /// <param name="isolationLevel">The isolation level; <see cref="IsolationLevel.Unspecified"/> keeps the server's default.</param>
    /// <param name="cancellationToken">Cancels the wait, the work and the commit.</param>
    /// <returns>What the work returned.</returns>
    /// <exception cref="InvalidOperationException">
    /// The work returned while a statement it started on the connection was still running (a task it did not await):
    /// the statement may or may not take effect, and an open transaction is rolled back. Or the work returned null
    /// instead of a task.
    /// </exception>
    public Task<TResult> WithMasterTransactionAsync<TResult>(
        Func<MySqlConnection, MySqlTransaction, CancellationToken, Task<TResult>> work,
        IsolationLevel isolationLevel = IsolationLevel.Unspecified,
        CancellationToken cancellationToken = default)
    {
        if (work is null)
        {
            throw new ArgumentNullException(nameof(work));
        }

        return WithMasterLeaseAsync(
            sql: null,
            options: null,
            exposed: true,
            (connection, token) => InTransactionAsync(MasterKey, connection, work, isolationLevel, token),
            cancellationToken);
    }

    /// <summary>As <see cref="WithMasterTransactionAsync{TResult}"/>, for work that returns nothing.</summary>
    /// <param name="work">The work; pass the transaction to every command.</param>
    /// <param name="isolationLevel">The isolation level; <see cref="IsolationLevel.Unspecified"/> keeps the server's default.</param>
    /// <param name="cancellationToken">Cancels the wait, the work and the commit.</param>
    /// <returns>A task that completes when the transaction is committed and the connection is back.</returns>
    /// <exception cref="InvalidOperationException">
    /// The work returned while a statement it started on the connection was still running (a task it did not await):
    /// the statement may or may not take effect, and an open transaction is rolled back. Or the work returned null
    /// instead of a task.
    /// </exception>
    public Task WithMasterTransactionAsync(
        Func<MySqlConnection, MySqlTransaction, CancellationToken, Task> work,
        IsolationLevel isolationLevel = IsolationLevel.Unspecified,
        CancellationToken cancellationToken = default)
    {
        if (work is null)
        {
            throw new ArgumentNullException(nameof(work));
        }

        return WithMasterTransactionAsync<bool>(
            async (connection, transaction, token) =>
            {
                await Started(work(connection, transaction, token)).ConfigureAwait(false);
                return true;
            },
            isolationLevel,
            cancellationToken);
    }

    /// <summary>The connection budget now: its limit, open and leased connections, pools and waiters.</summary>
    /// <returns>A snapshot; it does not change afterwards.</returns>
    public ConnectionBudgetSnapshot GetBudgetSnapshot() => _broker.Snapshot();

    /// <summary>
    /// How many acquisitions failed within the last <paramref name="window"/> because no connection could be had within
    /// <see cref="TenantDbGuardOptions.AcquireTimeout"/> (a full budget or tenant cap, or a server that kept refusing
    /// connections): the figure a health check reads. The last 1024 such failures are remembered.
    /// </summary>
    /// <param name="window">How far back to count.</param>
    /// <returns>The number of timeouts within the window.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="window"/> is negative.</exception>
    public int CountTimeouts(TimeSpan window) =>
        window >= TimeSpan.Zero ? _instruments.CountTimeouts(window) : throw new ArgumentOutOfRangeException(nameof(window), window, "The window must not be negative.");

    /// <summary>
    /// Closes every connection of the runtime: the idle ones at once, and those given back whose reset, kill or close
    /// still runs in the background once that is over. All of it is waited for at most three
    /// <see cref="TenantDbGuardOptions.ResetTimeout"/>s and one second (4 s by default), whatever the server does: what
    /// is not over by then (the server slow to answer a close, say) goes on in the background, and a warning (event
    /// 1043) says how much. Each connection's MySqlConnector data source is disposed with it. Leases still out are not
    /// waited for: their connections are closed when they come back. Calling it again does nothing.
    /// </summary>
    /// <returns>A task that completes when the server has let go of every connection not out on lease, or when the wait ran out.</returns>
    public async ValueTask DisposeAsync()
    {
        Volatile.Write(ref _disposed, 1);
        _leaks.Dispose();
        await _broker.DisposeAsync().ConfigureAwait(false);
        _instruments.Dispose();
    }

    /// <summary>
    /// As <see cref="DisposeAsync"/>, blocking the calling thread until it completes (the same bounded wait); for
    /// containers and hosts that dispose synchronously (a service provider in a <c>using</c> statement refuses types
    /// that are only <see cref="IAsyncDisposable"/>). Prefer <see cref="DisposeAsync"/>: this one runs the asynchronous
    /// disposal and waits for it, holding a thread meanwhile. It does not deadlock under a synchronization context,
    /// since no await of the runtime resumes on one.
    /// </summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <summary>
    /// Runs a helper's <paramref name="sql"/> with <paramref name="run"/>, whose connection may put the statement that
    /// selects the tenant's database in front of its first command (when the lease skipped its own round trip for it).
    /// </summary>
    private Task<TResult> WithTenantSqlAsync<TResult>(string tenantKey, string sql, CommandOptions? options, Func<DbConnection, CancellationToken, Task<TResult>> run, CancellationToken cancellationToken) =>
        WithTenantLeaseAsync(tenantKey, sql ?? throw new ArgumentNullException(nameof(sql)), options, exposed: false, run, cancellationToken);

    /// <summary>Leases a connection for <paramref name="run"/>; <paramref name="sql"/>, a helper's, is checked first (in the task).</summary>
    private async Task<TResult> WithTenantLeaseAsync<TResult>(string tenantKey, string? sql, CommandOptions? options, bool exposed, Func<DbConnection, CancellationToken, Task<TResult>> run, CancellationToken cancellationToken)
    {
        CheckSql(sql);
        var lease = await LeaseAsync(tenantKey, exposed, cancellationToken, sql: sql).ConfigureAwait(false);
        await using var release = lease.ConfigureAwait(false);
        using var held = exposed ? HeldByWork.Enter(this, lease.TenantKey) : null;
        try
        {
            var result = lease.Leading is { } use
                // The batch starts with the USE, put in front of the text below Dapper (see LeadingStatementConnection).
                ? await RunAsync(lease, (connection, token) => run(new LeadingStatementConnection(connection, use), token), options, cancellationToken).ConfigureAwait(false)
                : await RunAsync(lease, run, options, cancellationToken).ConfigureAwait(false);
            if (!exposed)
            {
                await ReturnHelperLeaseAsync(lease).ConfigureAwait(false);
            }
            else
            {
                StatementLeftRunning.ThrowIfAny(lease.ConnectionUnchecked, lease.TenantKey, inTransaction: false);
            }

            return result;
        }
        catch (MySqlException exception) when (lease.Leading is not null && ServerErrors.IsDatabaseUnavailable(exception))
        {
            // The batch's first statement, selecting the tenant's database, was refused: nothing else of it ran.
            throw DatabaseUnavailable(lease.TenantKey, lease.DatabaseName, exception);
        }
        catch (MySqlException exception) when (ServerErrors.MayMeanDatabaseDropped(exception))
        {
            // A connection stays on its database when that is dropped, and the next lease of the tenant reuses it
            // without switching; its queries then fail with "table doesn't exist". Tell that apart from a missing table.
            if (await DatabaseExistsAsync(lease).ConfigureAwait(false))
            {
                throw;
            }

            throw DatabaseUnavailable(lease.TenantKey, lease.DatabaseName, exception);
        }
    }

    /// <summary>
    /// Gives back the lease of a helper whose work succeeded. The runtime ran all of that work, so the session is idle:
    /// with <see cref="TenantDbGuardOptions.ResetSessionOnRelease"/> the helper waits for its reset, so that the
    /// caller's next call finds the connection idle rather than opening another one meanwhile. (Code that held a
    /// connection may have left something running on it, whose end the reset waits for: that is not waited for.)
    /// Without the reset there is nothing to wait for: the connection's check runs in the background, as before.
    /// </summary>
    private ValueTask ReturnHelperLeaseAsync(TenantConnectionLease lease) =>
        _options.ResetSessionOnRelease ? new ValueTask(lease.ReturnAsync()) : lease.DisposeAsync();

    /// <summary>Runs a helper's <paramref name="sql"/> on the master database.</summary>
    private Task<TResult> WithMasterSqlAsync<TResult>(string sql, CommandOptions? options, Func<MySqlConnection, CancellationToken, Task<TResult>> run, CancellationToken cancellationToken) =>
        WithMasterLeaseAsync(sql ?? throw new ArgumentNullException(nameof(sql)), options, exposed: false, run, cancellationToken);

    private async Task<TResult> WithMasterLeaseAsync<TResult>(string? sql, CommandOptions? options, bool exposed, Func<MySqlConnection, CancellationToken, Task<TResult>> work, CancellationToken cancellationToken)
    {
        CheckSql(sql);
        var lease = await LeaseMasterAsync(exposed, cancellationToken, sql: sql).ConfigureAwait(false);
        await using var release = lease.ConfigureAwait(false);
        using var held = exposed ? HeldByWork.Enter(this, MasterKey) : null;
        var result = await RunAsync(lease, work, options, cancellationToken).ConfigureAwait(false);
        if (!exposed)
        {
            await ReturnHelperLeaseAsync(lease).ConfigureAwait(false);
        }
        else
        {
            StatementLeftRunning.ThrowIfAny(lease.ConnectionUnchecked, lease.TenantKey, inTransaction: false);
        }

        return result;
    }

    /// <summary>
    /// The unbuffered query of a tenant (<paramref name="tenantKey"/> null: the master). Its lease is given back when the
    /// enumerator is disposed; a statement not read to its end is killed first, so that disposing the reader (which
    /// reads what is left) does not read a large result through.
    /// </summary>
    private async IAsyncEnumerable<T> UnbufferedAsync<T>(string? tenantKey, string sql, object? parameters, CommandOptions? options, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var lease = tenantKey is null
            ? await LeaseMasterAsync(exposed: false, cancellationToken, streaming: true, sql: sql).ConfigureAwait(false)
            : await LeaseAsync(tenantKey, exposed: false, cancellationToken, streaming: true, sql: sql).ConfigureAwait(false);
        await using var release = lease.ConfigureAwait(false);
        var finished = false;
        using (var timeout = StatementTimeout.Start(lease, options?.Timeout))
        {
            // Neither Dapper's unbuffered query nor a token reaches MySqlConnector: both would stop the statement over a
            // connection opened outside the budget (MySqlCommand.Cancel). The lease kills it within the budget instead.
            DbConnection connection = lease.Leading is { } use ? new LeadingStatementConnection(lease.Connection, use) : lease.Connection;
            DbDataReader? reader = null;
            try
            {
                Func<DbDataReader, object?>? parse = null;
                while (true)
                {
                    T row;
                    var statement = lease.StatementStarted();
                    try
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        reader ??= await connection.ExecuteReaderAsync(Command(sql, parameters, options, lease.CancellationToken)).ConfigureAwait(false);
                        timeout?.Resume();
                        if (!await reader.ReadAsync(CancellationToken.None).ConfigureAwait(false))
                        {
                            lease.StatementEnded(statement);
                            finished = true;
                            break;
                        }

                        lease.StatementEnded(statement);
                        timeout?.Pause();
                        parse ??= reader.GetRowParser(typeof(T));
                        row = ConvertRow<T>(parse(reader));
                    }
                    catch (MySqlException exception) when (lease.Leading is not null && ServerErrors.IsDatabaseUnavailable(exception))
                    {
                        lease.StatementEnded(statement);
                        throw DatabaseUnavailable(lease.TenantKey, lease.DatabaseName, exception);
                    }
                    catch (Exception exception)
                    {
                        lease.StatementEnded(statement);
                        var failure = Failure(lease, exception, timeout, cancellationToken);
                        if (failure is null)
                        {
                            throw;
                        }

                        throw failure;
                    }

                    yield return row;
                }
            }
            finally
            {
                if (!finished)
                {
                    // Before the reader is disposed, which would read the rest of the result.
                    lease.CancelStatement();
                }

                if (reader is not null)
                {
                    await DisposeReaderAsync(reader, killed: !finished).ConfigureAwait(false);
                }
            }

            if (timeout is { Expired: true })
            {
                // The kill may have ended the statement without an error (an interrupted SLEEP returns 1).
                throw new CommandTimeoutException(lease.TenantKey, timeout.Timeout, innerException: null);
            }
        }

        await ReturnHelperLeaseAsync(lease).ConfigureAwait(false);
    }

    /// <summary>A row as Dapper's parser made it, converted to <typeparamref name="T"/> as Dapper's buffered query converts it (a column of another numeric type, an enum).</summary>
    private static T ConvertRow<T>(object? value)
    {
        if (value is T typed)
        {
            return typed;
        }

        if (value is null)
        {
            return default!;
        }

        var type = Nullable.GetUnderlyingType(typeof(T)) ?? typeof(T);
        return (T)(type.IsEnum ? Enum.ToObject(type, value) : Convert.ChangeType(value, type, System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>Disposes an unbuffered query's reader; when its statement was <paramref name="killed"/>, the error that ends it is expected.</summary>
    private static async ValueTask DisposeReaderAsync(DbDataReader reader, bool killed)
    {
        try
        {
            await reader.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception exception) when (killed && exception is MySqlException or InvalidOperationException or System.IO.IOException)
        {
            // The statement was killed, or its connection failed: the lease is given back next, and reset or closed.
        }
    }

    /// <summary>
    /// Runs the work in a transaction: committed when the work succeeds (unless the work ended it itself), rolled back
    /// once when it throws or the commit fails.
    /// </summary>
    private static async Task<TResult> InTransactionAsync<TResult>(
        string tenantKey,
        MySqlConnection connection,
        Func<MySqlConnection, MySqlTransaction, CancellationToken, Task<TResult>> work,
        IsolationLevel isolationLevel,
        CancellationToken cancellationToken)
    {
        var transaction = await connection.BeginTransactionAsync(isolationLevel, cancellationToken).ConfigureAwait(false);
        TResult result;
        try
        {
            result = await Started(work(connection, transaction, cancellationToken)).ConfigureAwait(false);
            StatementLeftRunning.ThrowIfAny(connection, tenantKey, inTransaction: true);
            if (transaction.Connection is not null)
            {
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            await RollBackQuietlyAsync(transaction).ConfigureAwait(false);
            throw;
        }

        // Committed (or ended by the work): disposing sends nothing.
        await transaction.DisposeAsync().ConfigureAwait(false);
        return result;
    }

    /// <summary>
    /// Runs the work with the lease's connection and its cancellation token (which cancels within the budget), under the
    /// command timeout of <paramref name="options"/>, which the runtime enforces with its own <c>KILL QUERY</c> within the
    /// budget. A connection that fails under the work becomes a <see cref="TenantConnectionFailedException"/> and is
    /// closed; a statement the driver gave up on (its own command timeout) is killed before its connection is closed.
    /// </summary>
    private async Task<TResult> RunAsync<TResult>(TenantConnectionLease lease, Func<MySqlConnection, CancellationToken, Task<TResult>> work, CommandOptions? options, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();

        // Counted as running before its timeout starts: a kill the timeout sends always finds its statement running.
        var statement = lease.StatementStarted();
        using var timeout = StatementTimeout.Start(lease, options?.Timeout);
        TResult result;
        try
        {
            result = await Started(work(lease.Connection, lease.CancellationToken)).ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            lease.StatementEnded(statement);
            var failure = Failure(lease, exception, timeout, cancellationToken);
            if (failure is null)
            {
                throw;
            }

            throw failure;
        }

        lease.StatementEnded(statement);

        // A statement killed for its timeout, or because the caller cancelled, may end without an error (an interrupted
        // SLEEP returns 1), and one that ended as the kill went out cannot be told from it: either way, what it returned
        // is not to be trusted.
        if (timeout is { Expired: true })
        {
            throw new CommandTimeoutException(lease.TenantKey, timeout.Timeout, innerException: null);
        }

        return cancellationToken.IsCancellationRequested && lease.KillsRequested > 0
            ? throw StatementCancellation.Cancelled(cancellationToken)
            : result;
    }

    /// <summary>
    /// What a helper's caller sees for <paramref name="exception"/>, or null to let it through as it is: a statement
    /// killed because the caller cancelled is an <see cref="OperationCanceledException"/>, one killed or given up on
    /// because its command timeout ran out a <see cref="CommandTimeoutException"/>, a failed connection a
    /// <see cref="TenantConnectionFailedException"/>. A connection that cannot be trusted any more is marked failed.
    /// </summary>
    private Exception? Failure(TenantConnectionLease lease, Exception exception, StatementTimeout? timeout, CancellationToken cancellationToken)
    {
        // A statement the runtime killed that did not end in time has its socket shut (see TenantConnectionLease.RunningStatements):
        // it fails as a lost connection, and is what the kill was for.
        var interrupted = exception is MySqlException { ErrorCode: MySqlErrorCode.QueryInterrupted } || lease.StatementCutOff;
        if (cancellationToken.IsCancellationRequested
            && (interrupted || (exception is OperationCanceledException cancelled && cancelled.CancellationToken != cancellationToken)))
        {
            // A helper's statement, killed by the runtime because the caller cancelled.
            return new OperationCanceledException(exception.Message, exception, cancellationToken);
        }

        if (interrupted && timeout is { Expired: true })
        {
            return new CommandTimeoutException(lease.TenantKey, timeout.Timeout, exception);
        }

        if (ServerErrors.IsCommandTimeout(exception))
        {
            lease.MarkFailed();
            return new CommandTimeoutException(lease.TenantKey, timeout?.Timeout ?? TimeSpan.FromSeconds(_master.DefaultCommandTimeout), exception);
        }

        if (ServerErrors.IsConnectionFailure(exception))
        {
            lease.MarkFailed();
            Log.ConnectionLost(_logger, exception, LogSafe.Text(lease.TenantKey));
            return new TenantConnectionFailedException(lease.TenantKey, exception);
        }

        return null;
    }

    private static async Task<IReadOnlyList<T>> QueryAsync<T>(DbConnection connection, CommandDefinition command)
    {
        var rows = await connection.QueryAsync<T>(command).ConfigureAwait(false);
        return rows.AsList();
    }

    /// <summary>The task a callback returned; null (a lambda that forgot to return its work) is the caller's error, said as such.</summary>
    private static TTask Started<TTask>(TTask? task)
        where TTask : Task =>
        task ?? throw new InvalidOperationException("The work returned null instead of a task: return the task of what it does (Task.CompletedTask when it does nothing).");

    private static CommandDefinition Command(string sql, object? parameters, CommandOptions? options, CancellationToken cancellationToken) =>
        new(sql, parameters, commandTimeout: options?.DriverTimeoutSeconds, flags: options?.DapperFlags ?? CommandFlags.Buffered, cancellationToken: cancellationToken);

    private static void CheckSql(string? sql)
    {
        if (sql is not null && string.IsNullOrWhiteSpace(sql))
        {
            throw new ArgumentException("The SQL text is empty.", nameof(sql));
        }
    }

    /// <summary>
    /// The one rollback of a failed transaction: disposing it rolls it back when it is still open on a live connection,
    /// and sends nothing when the work already ended it or the connection is gone. Its own failure is not reported: the
    /// work's error is the one that matters, and the session is reset (or closed) before it serves again.
    /// </summary>
    private static async Task RollBackQuietlyAsync(MySqlTransaction transaction)
    {
        try
        {
            await transaction.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is MySqlException or InvalidOperationException or System.IO.IOException)
        {
            // The connection is failing; the server rolls back when it goes.
        }
    }

    /// <summary>
    /// A lease of a tenant's database; <paramref name="exposed"/> when code outside the runtime gets its connection (see
    /// <see cref="PhysicalConnection.LendAsync"/>). Captures the caller's stack, when leak detection wants it, before the
    /// first await.
    /// </summary>
    [AcquiresConnection]
    private async ValueTask<TenantConnectionLease> LeaseAsync(string tenantKey, bool exposed, CancellationToken cancellationToken, bool streaming = false, string? sql = null)
    {
        _registry.Validate(tenantKey);
        ThrowIfUnusable(cancellationToken);
        var acquiredAt = _leaks.RecordsStacks ? LeakDetector.CaptureCaller() : null;
        await EnsureBudgetAsync(cancellationToken).ConfigureAwait(false);
        var tenant = await _registry.ResolveAsync(tenantKey, cancellationToken).ConfigureAwait(false);
        var target = await IdentifyAsync(tenantKey, tenant, cancellationToken).ConfigureAwait(false);
        return await AcquireAsync(target, acquiredAt, exposed, cancellationToken, streaming: streaming, keptState: KeptState.Touches(sql)).ConfigureAwait(false);
    }

    [AcquiresConnection]
    private async ValueTask<TenantConnectionLease> LeaseMasterAsync(bool exposed, CancellationToken cancellationToken, bool streaming = false, bool waitOnly = false, string? sql = null)
    {
        ThrowIfUnusable(cancellationToken);
        var acquiredAt = _leaks.RecordsStacks ? LeakDetector.CaptureCaller() : null;
        await EnsureBudgetAsync(cancellationToken).ConfigureAwait(false);
        return await AcquireAsync(_masterTarget.Value, acquiredAt, exposed, cancellationToken, streaming: streaming, waitOnly: waitOnly, keptState: KeptState.Touches(sql)).ConfigureAwait(false);
    }

    /// <summary>
    /// The lease behind a <see cref="TenantDbConnection"/> being opened (<paramref name="tenantKey"/> null: the master).
    /// <paramref name="cancellationToken"/> cancels the wait only; the connection's commands are cancelled one by one,
    /// within the budget (<see cref="TenantConnectionLease.CancelStatement"/>), so the lease always counts as one that
    /// can be cancelled.
    /// </summary>
    [AcquiresConnection]
    internal async ValueTask<TenantConnectionLease> LeaseForConnectionAsync(string? tenantKey, CancellationToken cancellationToken)
    {
        ThrowIfUnusable(cancellationToken);
        var acquiredAt = _leaks.RecordsStacks ? LeakDetector.CaptureCaller() : null;
        await EnsureBudgetAsync(cancellationToken).ConfigureAwait(false);
        var target = tenantKey is null
            ? _masterTarget.Value
            : await IdentifyAsync(tenantKey, await _registry.ResolveAsync(tenantKey, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
        return await AcquireAsync(target, acquiredAt, exposed: true, cancellationToken, forConnection: true).ConfigureAwait(false);
    }

    /// <summary>
    /// How long a synchronous <see cref="TenantDbConnection.Open"/> waits for its acquisition before it gives up: the
    /// wait for the budget, a new connection's connect timeout and the answer to its first statements, which bound an
    /// acquisition whose steps get threads to run on. Infinite when the connect timeout is (<c>Connect Timeout=0</c>).
    /// </summary>
    internal TimeSpan SynchronousOpenLimit => _master.ConnectionTimeout == 0
        ? Timeout.InfiniteTimeSpan
        : _options.AcquireTimeout + TimeSpan.FromSeconds(_master.ConnectionTimeout) + _options.ResetTimeout;

    /// <summary>
    /// The target <paramref name="tenant"/> is served on, once its server said what it is. A row names the server by a
    /// name; the rules that keep tenants off the master database and off each other's databases compare those names,
    /// and another name of the master's server (<c>localhost</c> for <c>127.0.0.1</c>, another DNS name, an address
    /// written otherwise) would slip past them. So the first lease of each server other than the master's asks it (over
    /// a lease of its own, given back before the caller's is taken, as is the master's read) which server it is. One
    /// that turns out to be the master's has its name taken for the master's by the rules, and the tenant is looked up
    /// again under them: refused when it names the master database or another tenant's database there.
    /// </summary>
    private async ValueTask<TenantTarget> IdentifyAsync(string tenantKey, TenantInfo tenant, CancellationToken cancellationToken)
    {
        var master = _masterTarget.Value.Server;
        for (var attempt = 0; ; attempt++)
        {
            var target = GetTarget(tenant);
            var server = target.Server;
            if (ReferenceEquals(server, master))
            {
                return target;
            }

            if (server.Identity is not { } identity)
            {
                if (master.Identity is null)
                {
                    var masterLease = await LeaseMasterAsync(exposed: false, cancellationToken, waitOnly: true).ConfigureAwait(false);
                    await using (masterLease.ConfigureAwait(false))
                    {
                        master.Identity = await ReadServerIdentityAsync(masterLease).ConfigureAwait(false);
                    }
                }

                var lease = await AcquireAsync(target, acquiredAt: null, exposed: false, cancellationToken, waitOnly: true).ConfigureAwait(false);
                await using (lease.ConfigureAwait(false))
                {
                    identity = server.Identity = await ReadServerIdentityAsync(lease).ConfigureAwait(false);
                }

                if (string.Equals(identity, master.Identity, StringComparison.Ordinal) && server.Port == _master.Port && attempt == 0)
                {
                    // Another name of the master's server, on its port: the rules take it for the master's from now on,
                    // and the tenant is looked up again under them (which refuses it when they refuse its row).
                    Log.MasterAlias(_logger, LogSafe.Text(server.Host), LogSafe.Text(tenantKey));
                    _registry.AddMasterAlias(server.Host);
                    _registry.Invalidate(tenantKey);
                    tenant = await _registry.ResolveAsync(tenantKey, cancellationToken).ConfigureAwait(false);
                    continue;
                }
            }

            if (string.Equals(identity, master.Identity, StringComparison.Ordinal)
                && string.Equals(target.DatabaseName, _master.Database, StringComparison.OrdinalIgnoreCase))
            {
                // The master's server reached on another port (a forwarded one): the master database there is the
                // master's.
                const string Reason = "is the master database, which holds the tenants table (its row names the master's server by another name)";
                Log.TenantRowRefused(_logger, LogSafe.Text(target.Key), LogSafe.Text(target.DatabaseName), Reason);
                throw new TenantConfigurationException(target.Key, target.DatabaseName, Reason);
            }

            return target;
        }
    }

    /// <summary>
    /// What the server of <paramref name="lease"/> says it is: its host name, port, data directory, socket, server id
    /// and version, which two servers do not all share. Nothing of the caller's work was sent yet: a connection lost
    /// meanwhile is the transient error of a connection lost while it was opened.
    /// </summary>
    private async Task<string> ReadServerIdentityAsync(TenantConnectionLease lease)
    {
        try
        {
            return await lease.Connection.ExecuteScalarAsync<string>("SELECT CONCAT_WS('|', @@hostname, @@port, @@datadir, @@socket, @@server_id, @@version)").ConfigureAwait(false) ?? string.Empty;
        }
        catch (Exception exception) when (ServerErrors.IsConnectionFailure(exception) || ServerErrors.IsCommandTimeout(exception))
        {
            lease.MarkFailed();
            Log.ConnectionLost(_logger, exception, LogSafe.Text(lease.TenantKey));
            throw TenantConnectionFailedException.Opening(lease.TenantKey, exception);
        }
    }

    /// <summary>
    /// Refuses an acquisition that cannot be served before it asks anything of the server (the first one would read its
    /// <c>max_connections</c>): the runtime is disposed, or the caller has already given up.
    /// </summary>
    private void ThrowIfUnusable(CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();
    }

    /// <summary>
    /// Refuses a call on a disposed runtime (only its figures, the budget snapshot and the timeouts, stay readable).
    /// </summary>
    private void ThrowIfDisposed()
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            throw new ObjectDisposedException(nameof(TenantDatabase));
        }
    }

    /// <summary>
    /// A lease of <paramref name="target"/>. <paramref name="forConnection"/>: behind a <see cref="TenantDbConnection"/>;
    /// <paramref name="streaming"/>: behind an unbuffered query, which kills its statement when the caller stops early
    /// (so the lease counts as one that can be cancelled, for which the budget keeps room to send the kill) and whose
    /// enumerator may be dropped without being disposed (so the lease is reclaimed once unreachable);
    /// <paramref name="waitOnly"/>: the token cancels the wait for a connection only, and the lease does not count as
    /// one that can be cancelled (the tenants table lookup, a short query that runs to its end); <paramref name="keptState"/>:
    /// a helper's SQL may leave or read what the server's reset keeps (<see cref="KeptState"/>), as code that holds the
    /// connection object may.
    /// </summary>
    private async ValueTask<TenantConnectionLease> AcquireAsync(TenantTarget target, System.Diagnostics.StackTrace? acquiredAt, bool exposed, CancellationToken cancellationToken, bool forConnection = false, bool streaming = false, bool waitOnly = false, bool keptState = false)
    {
        PhysicalConnection physical;
        MySqlConnection connection;
        LeadingStatement? leading;
        try
        {
            (physical, connection, leading) = await _broker.AcquireAsync(target, !waitOnly && (forConnection || streaming || cancellationToken.CanBeCanceled), exposed, deferUse: !exposed && !keptState && target.Key != MasterKey, cancellationToken).ConfigureAwait(false);
            if ((exposed && !forConnection) || keptState)
            {
                // The statements of a TenantDbConnection's lease all go through its commands, which note them.
                physical.MayHoldKeptState = true;
            }
        }
        catch (ConnectionBudgetExhaustedException exception) when (HeldByWork.Count(this, exception.Budget, target.Key) is > 0 and var heldByWork)
        {
            // The caller's own work holds what it waited for: say so, since no other caller's release ends that wait.
            throw exception.NestedIn(heldByWork);
        }
        catch (MySqlException exception) when (ServerErrors.IsConnectionLimit(exception))
        {
            Log.ServerLimitReached(_logger, exception, LogSafe.Text(target.Key), exception.Number);
            throw new ServerConnectionLimitException(target.Key, exception.Number, _broker.Limit, exception);
        }
        catch (MySqlException exception) when (ServerErrors.IsDatabaseUnavailable(exception) && target.Key != MasterKey)
        {
            throw DatabaseUnavailable(target.Key, target.DatabaseName, exception);
        }
        catch (MySqlException exception) when (ServerErrors.IsAccessDenied(exception))
        {
            // The account itself is refused (1045), not one database (1044, above): no connection can be had with it.
            throw AccessDenied(target.Key, exception);
        }
        catch (Exception exception) when (ServerErrors.IsConnectionFailure(exception))
        {
            // A new connection lost while it was opened or set up (killed during its handshake or its USE, the network
            // failed): it is closed, and the caller gets the typed error, as for a connection lost under the work.
            Log.ConnectionLost(_logger, exception, LogSafe.Text(target.Key));
            throw TenantConnectionFailedException.Opening(target.Key, exception);
        }
        catch (TimeoutException exception)
        {
            // A new connection whose first statements (the reading of the server's profile, the switch to the tenant's
            // database) got no answer within ResetTimeout (see AnswerDeadline): its session was ended and nothing of the
            // work was sent. The caller gets the runtime's transient error, as for a connection lost while it was opened.
            Log.ConnectionLost(_logger, exception, LogSafe.Text(target.Key));
            throw TenantConnectionFailedException.Opening(target.Key, exception);
        }

        var leakId = _leaks.Track(target.Key, acquiredAt);
        return new TenantConnectionLease(
            _broker, physical, connection, target.Key, target.DatabaseName, _leaks, leakId, killOnCancel: !exposed, forConnection || waitOnly ? CancellationToken.None : cancellationToken, statementCancellation: forConnection || streaming, guarded: streaming)
        {
            Leading = leading,
        };
    }

    /// <summary>
    /// A lease that the work of a <c>With...ConnectionAsync</c> or <c>With...TransactionAsync</c> callback holds while
    /// it runs, seen by the calls that work makes (an <see cref="AsyncLocal{T}"/>: calls made elsewhere do not see it).
    /// A call nested in such work that times out waiting for the budget the work holds is told so. It holds no lease,
    /// only the tenant's key, so that work started and forgotten keeps nothing reachable.
    /// </summary>
    private sealed class HeldByWork : IDisposable
    {
        private readonly TenantDatabase _database;
        private readonly string _tenantKey;
        private readonly HeldByWork? _outer;
        private int _ended;

        private HeldByWork(TenantDatabase database, string tenantKey, HeldByWork? outer)
        {
            _database = database;
            _tenantKey = tenantKey;
            _outer = outer;
        }

        /// <summary>Marks the calls the work makes from now on; dispose it when the work is over.</summary>
        public static HeldByWork Enter(TenantDatabase database, string tenantKey)
        {
            var held = new HeldByWork(database, tenantKey, WorkLeases.Value);
            WorkLeases.Value = held;
            return held;
        }

        /// <summary>How many of <paramref name="budget"/>'s connections the work around this call holds.</summary>
        public static int Count(TenantDatabase database, ConnectionBudgetKind budget, string tenantKey)
        {
            var count = 0;
            for (var held = WorkLeases.Value; held is not null; held = held._outer)
            {
                if (ReferenceEquals(held._database, database) && Volatile.Read(ref held._ended) == 0
                    && (budget == ConnectionBudgetKind.Process || string.Equals(held._tenantKey, tenantKey, StringComparison.Ordinal)))
                {
                    count++;
                }
            }

            return count;
        }

        /// <summary>The work is over (a call it started and did not await is not nested in it any more).</summary>
        public void Dispose() => Volatile.Write(ref _ended, 1);
    }

    /// <summary>Logs the server's refusal of the account for <paramref name="tenantKey"/> and makes the caller's error.</summary>
    private ServerAccessDeniedException AccessDenied(string tenantKey, MySqlException exception)
    {
        Log.AccessDenied(_logger, exception, LogSafe.Text(tenantKey));
        return new ServerAccessDeniedException(tenantKey, exception);
    }

    /// <summary>Logs a tenant's database as unavailable and has the tenant looked up again (at most once per UnknownTenantCacheDuration).</summary>
    private TenantDatabaseUnavailableException DatabaseUnavailable(string tenantKey, string databaseName, MySqlException exception)
    {
        Log.TenantDatabaseUnavailable(_logger, exception, LogSafe.Text(tenantKey), LogSafe.Text(databaseName));
        _registry.Suspect(tenantKey);
        _targets.TryRemove(tenantKey, out _);
        return new TenantDatabaseUnavailableException(tenantKey, databaseName, exception);
    }

    /// <summary>Whether the lease's database still exists; when that cannot be told, true (the original error stands).</summary>
    private static async Task<bool> DatabaseExistsAsync(TenantConnectionLease lease)
    {
        try
        {
            var count = await lease.Connection.ExecuteScalarAsync<long>(
                "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = @name", new { name = lease.DatabaseName }).ConfigureAwait(false);
            return count > 0;
        }
        catch (Exception exception) when (exception is MySqlException or InvalidOperationException or System.IO.IOException)
        {
            return true;
        }
    }

    /// <summary>Where a tenant's leases go; rebuilt when the tenants table moves the tenant.</summary>
    private TenantTarget GetTarget(TenantInfo tenant)
    {
        if (_targets.TryGetValue(tenant.TenantKey, out var target))
        {
            // The lookup's cache hands out the same row object until it reads the row again: nothing moved then.
            if (ReferenceEquals(target.Source, tenant))
            {
                return target;
            }

            if (string.Equals(target.DatabaseName, tenant.DatabaseName, StringComparison.Ordinal)
                && ReferenceEquals(target.Server, GetServer(tenant.ServerHost, tenant.ServerPort)))
            {
                target.Source = tenant;
                return target;
            }
        }

        target = new TenantTarget(tenant.TenantKey, tenant.DatabaseName, GetServer(tenant.ServerHost, tenant.ServerPort), _options.MaxConnectionsPerTenant, ConnectionBudgetKind.Tenant)
        {
            Source = tenant,
        };
        _targets[tenant.TenantKey] = target;
        return target;
    }

    /// <summary>The pool of one server, created once; its physical connections are shared by every tenant on it.</summary>
    private ServerPool GetServer(string? host, int? port)
    {
        var server = host ?? _master.Server;
        var serverPort = port is { } p ? (uint)p : _master.Port;
        var key = server + ":" + serverPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return _broker.GetOrAddServer(key, () =>
        {
            Log.PoolCreated(_logger, key);
            return new ServerPool(key, _master, server, serverPort, _options.ResetSessionOnRelease, _settings, _options.CoordinateOpens && _options.MaxConnections is null ? _options.ResetTimeout : null);
        });
    }

    private Task EnsureBudgetAsync(CancellationToken cancellationToken)
    {
        var budget = Volatile.Read(ref _budget);
        if (budget is { IsCompleted: true, IsFaulted: false, IsCanceled: false })
        {
            return Task.CompletedTask;
        }

        lock (_budgetGate)
        {
            if (_budget is null || _budget.IsFaulted || _budget.IsCanceled)
            {
                _budget = ResolveBudgetAsync();
            }

            return _budget.WaitAsync(cancellationToken);
        }
    }

    /// <summary>
    /// Derives the process budget from the server's <c>max_connections</c> on first use (the runtime reads it again
    /// while it runs). A server that refuses the connection (it is full) is asked again, for up to
    /// <see cref="TenantDbGuardOptions.AcquireTimeout"/>.
    /// </summary>
    private async Task ResolveBudgetAsync()
    {
        var started = _options.TimeProvider.GetTimestamp();
        int serverMax;
        while (true)
        {
            var probe = _settings.CreateBuilder(_master.ConnectionString).Build();
            await using (probe.ConfigureAwait(false))
            {
                var connection = probe.CreateConnection();
                await using var disposeConnection = connection.ConfigureAwait(false);
                try
                {
                    await connection.OpenAsync(CancellationToken.None).ConfigureAwait(false);
                    serverMax = Convert.ToInt32(await connection.ExecuteScalarAsync<long>("SELECT @@max_connections").ConfigureAwait(false));
                    break;
                }
                catch (MySqlException exception) when (ServerErrors.IsAccessDenied(exception))
                {
                    // The first call reads the server's max_connections with the master's account: refused as any open is.
                    throw AccessDenied(MasterKey, exception);
                }
                catch (MySqlException exception) when (ServerErrors.IsConnectionLimit(exception))
                {
                    if (_options.TimeProvider.GetElapsedTime(started) >= _options.AcquireTimeout)
                    {
                        Log.ServerLimitReached(_logger, exception, MasterKey, exception.Number);
                        throw new ServerConnectionLimitException(MasterKey, exception.Number, processBudget: null, exception);
                    }
                }
            }

            await Task.Delay(ConnectionBroker.RefusalPause * (0.5 + Random.Shared.NextDouble())).ConfigureAwait(false);
        }

        _broker.SetServerMax(serverMax);
        Log.BudgetResolved(_logger, _broker.Limit, serverMax, _options.ServerShare, _options.ReservedConnections);
    }

    /// <summary>
    /// The connection string a data source and its connections show: the master's settings, naming
    /// <paramref name="database"/>, with the password only when the application asked for it to be kept
    /// (<c>Persist Security Info=true</c>), as an opened <see cref="MySqlConnection"/> shows its own.
    /// </summary>
    private string PublicConnectionString(string database)
    {
        var settings = new MySqlConnectionStringBuilder(_options.MasterConnectionString) { Database = database };
        if (!settings.PersistSecurityInfo)
        {
            settings.Remove("Password");
        }

        return settings.ConnectionString;
    }

    /// <summary>A copy of the options (later changes have no effect), checked; every problem is in the message.</summary>
    private static TenantDbGuardOptions Validate(TenantDbGuardOptions options)
    {
        var copy = options.Clone();
        var failures = TenantDbGuardOptionsValidator.Check(copy);
        if (failures.Count > 0)
        {
            throw new ArgumentException(string.Join(" ", failures), nameof(options));
        }

        return copy;
    }
}
