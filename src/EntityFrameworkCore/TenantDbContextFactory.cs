using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.DependencyInjection;
using MySqlConnector;
using TenantDbGuard.EntityFrameworkCore;

namespace TenantDbGuard;

/// <summary>
/// Creates <typeparamref name="TContext"/> instances for a tenant, each on its own connection of the tenant's
/// <see cref="TenantDataSource"/>: the connection takes a lease of the runtime only while EF Core has it open (one
/// query, one <c>SaveChanges</c>, one transaction) and the context owns it, so disposing the context gives the lease
/// back on every path. Registered by <see cref="TenantDbContextServiceCollectionExtensions.AddTenantDbContext{TContext}"/>;
/// use it where there is no request (background jobs, migrations), and dispose what it creates.
/// </summary>
/// <typeparam name="TContext">The context; it needs a constructor taking <see cref="DbContextOptions{TContext}"/>.</typeparam>
public sealed class TenantDbContextFactory<TContext>
    where TContext : DbContext
{
    private readonly IServiceProvider _root;
    private readonly TenantDatabase _database;
    private readonly TenantDbContextOptions _options;
    private readonly object _versionGate = new();
    private Task<ServerVersion>? _serverVersion;
    private volatile bool _settingsChecked;

    /// <summary>Creates the factory.</summary>
    /// <param name="services">The application's root service provider (the one the factory is registered in).</param>
    /// <param name="database">The runtime whose budget the contexts' connections count against.</param>
    /// <param name="options">How contexts are built.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public TenantDbContextFactory(IServiceProvider services, TenantDatabase database, TenantDbContextOptions options)
    {
        _root = services ?? throw new ArgumentNullException(nameof(services));
        _database = database ?? throw new ArgumentNullException(nameof(database));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _serverVersion = options.ServerVersion is { } version ? Task.FromResult(version) : null;
    }

    /// <summary>
    /// A new context for <paramref name="tenantKey"/>'s database. No lease is taken until EF Core opens the connection;
    /// dispose the context (<c>await using</c>) and any lease it holds goes back.
    /// </summary>
    /// <param name="tenantKey">The tenant's key; it must match <see cref="TenantDbGuardOptions.TenantKeyPattern"/>.</param>
    /// <returns>The context, which owns its connection.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="tenantKey"/> is null.</exception>
    /// <exception cref="InvalidTenantKeyException">The key does not match the allowed pattern.</exception>
    /// <exception cref="TenantDbContextConfigurationException">The master connection string lacks <c>AllowUserVariables=True</c> (or sets <c>UseAffectedRows=True</c>).</exception>
    /// <exception cref="ObjectDisposedException">The runtime (<see cref="TenantDatabase"/>) was disposed.</exception>
    /// <remarks>
    /// The first context needs the server's version (unless <see cref="TenantDbContextOptions.ServerVersion"/> is set):
    /// in a host it is read when the host starts; otherwise this call blocks until it is read. Prefer
    /// <see cref="CreateDbContextAsync"/> outside a host.
    /// </remarks>
    public TContext CreateDbContext(string tenantKey) => Create(_root, tenantKey);

    /// <summary>
    /// As <see cref="CreateDbContext"/>, reading the server's version first without blocking a thread when it is not
    /// known yet.
    /// </summary>
    /// <param name="tenantKey">The tenant's key; it must match <see cref="TenantDbGuardOptions.TenantKeyPattern"/>.</param>
    /// <param name="cancellationToken">Cancels the wait for the master connection that reads the server's version.</param>
    /// <returns>The context, which owns its connection.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="tenantKey"/> is null.</exception>
    /// <exception cref="InvalidTenantKeyException">The key does not match the allowed pattern.</exception>
    /// <exception cref="TenantDbContextConfigurationException">The master connection string lacks <c>AllowUserVariables=True</c> (or sets <c>UseAffectedRows=True</c>).</exception>
    /// <exception cref="ObjectDisposedException">The runtime (<see cref="TenantDatabase"/>) was disposed.</exception>
    public async ValueTask<TContext> CreateDbContextAsync(string tenantKey, CancellationToken cancellationToken = default)
    {
        await GetServerVersionAsync(cancellationToken).ConfigureAwait(false);
        return Create(_root, tenantKey);
    }

    /// <summary>
    /// The server version the contexts are built for: <see cref="TenantDbContextOptions.ServerVersion"/>, or the master
    /// server's, read once over a master connection of the budget (a failed read is tried again by the next call).
    /// </summary>
    /// <param name="cancellationToken">Cancels this caller's wait (not the read other callers share).</param>
    /// <returns>The server version.</returns>
    public Task<ServerVersion> GetServerVersionAsync(CancellationToken cancellationToken = default)
    {
        var read = Volatile.Read(ref _serverVersion);
        if (read is null || read.IsFaulted || read.IsCanceled)
        {
            lock (_versionGate)
            {
                read = _serverVersion;
                if (read is null || read.IsFaulted || read.IsCanceled)
                {
                    _serverVersion = read = ReadServerVersionAsync();
                }
            }
        }

        return read.IsCompleted ? read : read.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// Applies <typeparamref name="TContext"/>'s pending migrations to one tenant's database, on one connection of the
    /// budget held for the whole migration (EF Core's migration lock, <c>GET_LOCK</c>, lives on that session; the
    /// runtime's reset releases it should the migration fail).
    /// </summary>
    /// <param name="tenantKey">The tenant's key.</param>
    /// <param name="cancellationToken">Cancels the wait for the connection and the migration.</param>
    /// <returns>The migrations applied, oldest first (none when the database was up to date).</returns>
    public async Task<IReadOnlyList<string>> MigrateTenantAsync(string tenantKey, CancellationToken cancellationToken = default)
    {
        var context = await CreateDbContextAsync(tenantKey, cancellationToken).ConfigureAwait(false);
        await using (context.ConfigureAwait(false))
        {
            await context.Database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            var pending = (await context.Database.GetPendingMigrationsAsync(cancellationToken).ConfigureAwait(false)).ToList();
            if (pending.Count > 0)
            {
                await context.Database.MigrateAsync(cancellationToken).ConfigureAwait(false);
            }

            return pending;
        }
    }

    /// <summary>
    /// Applies <typeparamref name="TContext"/>'s pending migrations to every tenant in <paramref name="tenantKeys"/>, at
    /// most <paramref name="maxDegreeOfParallelism"/> at once; each holds one connection of the budget for its duration
    /// (see <see cref="MigrateTenantAsync"/>), and waits for one like any other caller, so requests keep being served.
    /// A tenant that fails does not stop the others.
    /// </summary>
    /// <param name="tenantKeys">The tenants to migrate, e.g. <c>SELECT tenant_key FROM tenants WHERE is_active</c>.</param>
    /// <param name="maxDegreeOfParallelism">Tenants migrated at once, from 1; keep it well under the budget. Default 4.</param>
    /// <param name="cancellationToken">Stops starting further tenants and cancels the running ones.</param>
    /// <returns>Each tenant's applied migrations, by key.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="tenantKeys"/> is null.</exception>
    /// <exception cref="ArgumentException">
    /// <paramref name="tenantKeys"/> holds a null key (nothing is migrated).
    /// </exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxDegreeOfParallelism"/> is below 1.</exception>
    /// <exception cref="TenantMigrationException">Some tenants failed; the others were migrated.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<IReadOnlyDictionary<string, IReadOnlyList<string>>> MigrateTenantsAsync(
        IEnumerable<string> tenantKeys,
        int maxDegreeOfParallelism = 4,
        CancellationToken cancellationToken = default)
    {
        if (tenantKeys is null)
        {
            throw new ArgumentNullException(nameof(tenantKeys));
        }

        if (maxDegreeOfParallelism < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(maxDegreeOfParallelism), maxDegreeOfParallelism, "Migrate at least one tenant at a time.");
        }

        // Read once, and checked before any tenant starts: a null key has no place among the failures, and finding it
        // half way would stop the tenants under way.
        var keys = tenantKeys.ToList();
        var missing = keys.IndexOf(null!);
        if (missing >= 0)
        {
            throw new ArgumentException(
                $"tenantKeys holds a null key (at position {missing}); nothing was migrated. Remove it (or the row " +
                "it came from) and migrate again.",
                nameof(tenantKeys));
        }

        var applied = new ConcurrentDictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        var failures = new ConcurrentDictionary<string, Exception>(StringComparer.Ordinal);
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(keys.Distinct(StringComparer.Ordinal), parallel, async (tenantKey, token) =>
        {
            try
            {
                applied[tenantKey] = await MigrateTenantAsync(tenantKey, token).ConfigureAwait(false);
            }
            catch (Exception exception) when (!token.IsCancellationRequested)
            {
                failures[tenantKey] = exception;
            }
        }).ConfigureAwait(false);

        if (!failures.IsEmpty)
        {
            throw new TenantMigrationException(new Dictionary<string, Exception>(failures, StringComparer.Ordinal));
        }

        return new Dictionary<string, IReadOnlyList<string>>(applied, StringComparer.Ordinal);
    }

    /// <summary>
    /// The scoped context of <see cref="TenantDbContextServiceCollectionExtensions.AddTenantDbContext{TContext}"/>: for
    /// the tenant <paramref name="tenantKey"/> reads from <paramref name="scope"/>, refused outside a scope.
    /// </summary>
    internal TContext CreateForScope(IServiceProvider scope, Func<IServiceProvider, string> tenantKey)
    {
        // The root provider gives its "scoped" services to every caller for the application's life: a singleton that
        // depends on the context would keep the first request's tenant and serve it to every later request.
        if (ReferenceEquals(scope, _root))
        {
            var name = typeof(TContext).Name;
            throw new TenantDbContextConfigurationException(
                $"{name} was resolved from the root service provider (a singleton depends on it, or it was asked for " +
                "outside a scope): it would live as long as the application and serve the first request's tenant to " +
                $"every request. Resolve {name} in a scope (a request's, or one from IServiceScopeFactory), or " +
                $"create one per unit of work with TenantDbContextFactory<{name}>.CreateDbContextAsync(tenantKey) " +
                "and dispose it.");
        }

        // A scope without a tenant (a request without the header) is refused as the empty key is, before any SQL.
        return Create(scope, tenantKey(scope) ?? string.Empty);
    }

    /// <summary>A context for <paramref name="tenantKey"/> whose services come from <paramref name="services"/> (a request's scope).</summary>
    internal TContext Create(IServiceProvider services, string tenantKey)
    {
        var source = _database.ForTenant(tenantKey ?? throw new ArgumentNullException(nameof(tenantKey)));
        if (!_settingsChecked)
        {
            // Every tenant's connections carry the master's settings: parsed for the first context only.
            CheckConnectionSettings(source.ConnectionString);
            _settingsChecked = true;
        }

        var serverVersion = GetServerVersionAsync().GetAwaiter().GetResult();
        var connection = source.CreateConnection();
        try
        {
            var builder = new DbContextOptionsBuilder<TContext>()
                .UseApplicationServiceProvider(services)
                .UseRootApplicationServiceProvider(_root);
            _options.ContextOptions?.Invoke(services, builder);
            builder.UseMySql(connection, serverVersion, _options.MySqlOptions);

            // The context owns its connection: disposing it disposes the connection, whose lease (if EF Core left it
            // open) goes back. The extension is the same for every tenant but for the connection, which is not part of
            // EF Core's internal service provider key: one internal provider serves all tenants.
            var relational = builder.Options.Extensions.OfType<RelationalOptionsExtension>().Single();
            ((IDbContextOptionsBuilderInfrastructure)builder).AddOrUpdateExtension(relational.WithConnection(connection, owned: true));
            builder.ReplaceService<IRelationalDatabaseCreator, TenantDatabaseCreator>();
            return ActivatorUtilities.CreateInstance<TContext>(services, builder.Options);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Pomelo needs <c>AllowUserVariables=True;UseAffectedRows=False</c> on its connections, and would try to set them on
    /// a connection that lacks them (a tenant connection's settings are the master's, and cannot be set).
    /// </summary>
    private static void CheckConnectionSettings(string connectionString)
    {
        var settings = new MySqlConnectionStringBuilder(connectionString);
        if (!settings.AllowUserVariables || settings.UseAffectedRows)
        {
            throw new TenantDbContextConfigurationException(
                "EF Core on MySQL (Pomelo) needs AllowUserVariables=True and UseAffectedRows=False on its connections, and a tenant's " +
                "connections carry the master connection string's settings: add \"AllowUserVariables=True\" to " +
                "TenantDbGuardOptions.MasterConnectionString (and remove UseAffectedRows=True if it is there).");
        }
    }

    /// <summary>Reads the master server's version over a master connection of the budget.</summary>
    private async Task<ServerVersion> ReadServerVersionAsync()
    {
        // Off the caller's stack (it holds the gate), and never back onto its synchronization context: a context is
        // created synchronously, and Task.Yield would post the read to the very thread that blocks on it.
        await Task.CompletedTask.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
        var connection = await _database.ForMaster().OpenConnectionAsync().ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            return ServerVersion.Parse(connection.ServerVersion);
        }
    }
}
