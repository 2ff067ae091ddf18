using System;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.EntityFrameworkCore.Storage;

namespace TenantDbGuard.EntityFrameworkCore;

/// <summary>
/// <c>context.Database.EnsureCreated/EnsureDeleted/CanConnect</c> and <c>Exists</c> for a tenant's context. Pomelo's
/// creator casts the connection to <c>MySqlConnection</c> and creates databases over a connection outside the budget;
/// this one works on the tenant's connection: it can tell whether the tenant's database is there and has tables, and
/// create the model's tables in it, but it neither creates nor drops databases (that is provisioning, with the
/// tenants table: see the exception's message).
/// </summary>
internal sealed class TenantDatabaseCreator : RelationalDatabaseCreator
{
    private const string HasTablesSql =
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema = DATABASE()";

    public TenantDatabaseCreator(RelationalDatabaseCreatorDependencies dependencies)
        : base(dependencies)
    {
    }

    public override bool Exists()
    {
        try
        {
            Dependencies.Connection.Open();
        }
        catch (TenantDatabaseUnavailableException)
        {
            return false;
        }

        Dependencies.Connection.Close();
        return true;
    }

    public override async Task<bool> ExistsAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            await Dependencies.Connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (TenantDatabaseUnavailableException)
        {
            return false;
        }

        await Dependencies.Connection.CloseAsync().ConfigureAwait(false);
        return true;
    }

    public override bool HasTables()
    {
        Dependencies.Connection.Open();
        try
        {
            using var command = Dependencies.Connection.DbConnection.CreateCommand();
            command.CommandText = HasTablesSql;
            return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) != 0;
        }
        finally
        {
            Dependencies.Connection.Close();
        }
    }

    public override async Task<bool> HasTablesAsync(CancellationToken cancellationToken = default)
    {
        await Dependencies.Connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var command = Dependencies.Connection.DbConnection.CreateCommand();
            await using (command.ConfigureAwait(false))
            {
                command.CommandText = HasTablesSql;
                return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture) != 0;
            }
        }
        finally
        {
            await Dependencies.Connection.CloseAsync().ConfigureAwait(false);
        }
    }

    public override void Create() => throw Unsupported("create");

    public override Task CreateAsync(CancellationToken cancellationToken = default) => throw Unsupported("create");

    public override void Delete() => throw Unsupported("drop");

    public override Task DeleteAsync(CancellationToken cancellationToken = default) => throw Unsupported("drop");

    private static NotSupportedException Unsupported(string verb) => new(
        $"A tenant's DbContext does not {verb} its database: a tenant database is provisioned with its row in the tenants table " +
        "(create the database and insert the row over a master connection, e.g. TenantDatabase.ExecuteMasterAsync). " +
        "EnsureCreated works on a tenant database that exists (it creates the model's tables when there are none); " +
        "for schema changes use migrations per tenant (TenantDbContextFactory<TContext>.MigrateTenantsAsync).");
}
