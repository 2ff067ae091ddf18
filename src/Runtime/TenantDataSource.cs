using System;
using System.Data.Common;
using System.Threading;
using System.Threading.Tasks;

namespace TenantDbGuard;

/// <summary>
/// A <see cref="DbDataSource"/> over one tenant's database (or the master's), got from
/// <see cref="TenantDatabase.ForTenant"/> or <see cref="TenantDatabase.ForMaster"/>: hand it to code that takes a data
/// source, and every connection it gives out stays within the runtime's connection budget.
/// </summary>
/// <remarks>
/// <para>
/// A connection takes a lease from the runtime when it is opened, not when it is created, and gives it back when it is
/// closed or disposed, on every path. Closing and opening the same connection object again (as EF Core does for each
/// query) takes a new lease for the same tenant, possibly on another physical connection; everything the runtime
/// guarantees for a lease (its tenant's database, no other tenant's session state, a dead object after release, a
/// leaked connection reclaimed) holds for each opening.
/// </para>
/// <para>
/// Commands are cancelled within the budget: a cancellation token given to a command's <c>Execute...Async</c>, or
/// <see cref="DbCommand.Cancel"/>, makes the runtime send <c>KILL QUERY</c> over another connection it holds, never
/// one opened outside the budget. The data source is shared (one per key): disposing it does nothing.
/// </para>
/// </remarks>
/// <example>
/// <code>
/// await using var connection = await db.ForTenant(tenantKey).OpenConnectionAsync(cancellationToken);
/// var count = await connection.ExecuteScalarAsync&lt;long&gt;(
///     new CommandDefinition("SELECT COUNT(*) FROM customers", cancellationToken: cancellationToken));
/// </code>
/// </example>
public sealed class TenantDataSource : DbDataSource
{
    private readonly TenantDatabase _database;
    private readonly string _connectionString;

    internal TenantDataSource(TenantDatabase database, string? tenantKey, string connectionString)
    {
        _database = database;
        TenantKey = tenantKey ?? TenantDatabase.MasterKey;
        IsMaster = tenantKey is null;
        _connectionString = connectionString;
    }

    /// <summary>The tenant key this data source was asked for, as spelled (<c>(master)</c> for the master database).</summary>
    public string TenantKey { get; }

    /// <summary>
    /// The master's connection settings, without the password unless it sets <c>Persist Security Info=true</c>. It
    /// cannot be used to open a connection outside the budget.
    /// </summary>
    public override string ConnectionString => _connectionString;

    internal bool IsMaster { get; }

    /// <summary>A new connection, closed: it takes no lease until it is opened.</summary>
    /// <returns>The connection.</returns>
    public new TenantDbConnection CreateConnection() => new(_database, this);

    /// <summary>A new connection, opened: it holds a lease until it is closed or disposed.</summary>
    /// <returns>The open connection.</returns>
    /// <exception cref="TenantDbGuardException">The lease could not be had (see <see cref="TenantDatabase.GetConnectionAsync"/>).</exception>
    [AcquiresConnection]
    public new TenantDbConnection OpenConnection()
    {
        var connection = CreateConnection();
        try
        {
            connection.Open();
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>A new connection, opened: it holds a lease until it is closed or disposed.</summary>
    /// <param name="cancellationToken">Cancels the wait for a connection.</param>
    /// <returns>The open connection.</returns>
    /// <exception cref="TenantDbGuardException">The lease could not be had (see <see cref="TenantDatabase.GetConnectionAsync"/>).</exception>
    [AcquiresConnection]
    public new async ValueTask<TenantDbConnection> OpenConnectionAsync(CancellationToken cancellationToken = default)
    {
        var connection = CreateConnection();
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <inheritdoc/>
    protected override DbConnection CreateDbConnection() => CreateConnection();

    /// <inheritdoc/>
    protected override DbConnection OpenDbConnection() => OpenConnection();

    /// <inheritdoc/>
    protected override async ValueTask<DbConnection> OpenDbConnectionAsync(CancellationToken cancellationToken = default) =>
        await OpenConnectionAsync(cancellationToken).ConfigureAwait(false);

    /// <summary>Does nothing: the data source is shared, and the runtime owns what it uses.</summary>
    /// <param name="disposing">Ignored.</param>
    protected override void Dispose(bool disposing)
    {
    }

    /// <summary>Does nothing: the data source is shared, and the runtime owns what it uses.</summary>
    /// <returns>A completed task.</returns>
    protected override ValueTask DisposeAsyncCore() => default;
}
