using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using MySqlConnector;
using TenantDbGuard.EntityFrameworkCore.Tests.Infrastructure;
using TenantDbGuard.Runtime.Tests.Infrastructure;

namespace TenantDbGuard.EntityFrameworkCore.Tests;

/// <summary>
/// Schema per tenant: <see cref="TenantDbContextFactory{TContext}.MigrateTenantsAsync"/> within the budget, and
/// <c>EnsureCreated</c>/<c>EnsureDeleted</c> on a tenant's context.
/// </summary>
[Collection(MariaDbCollection.Name)]
public sealed class TenantMigrationTests(MariaDbFixture fixture) : IAsyncLifetime
{
    private MariaDbServer Server => fixture.Server;

    public Task InitializeAsync() => fixture.CreateTenantsAsync(20);

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Migrations_reach_every_tenant_within_the_budget_and_a_second_run_changes_nothing()
    {
        string[] tenants = [.. Enumerable.Range(11, 4).Select(MariaDbFixture.TenantKey)];
        await using var host = await EfHost.CreateAsync(Server, o => o.MaxConnections = 2, more: NotesContext.Register);
        var factory = host.Services.GetRequiredService<TenantDbContextFactory<NotesContext>>();

        // Four tenants at once over a budget of two: each migration waits for its connection like any caller.
        var applied = await factory.MigrateTenantsAsync(tenants, maxDegreeOfParallelism: 4);

        Assert.Equal(tenants.Order(), applied.Keys.Order());
        Assert.All(applied.Values, migrations => Assert.Equal(["20261201000000_CreateNotes"], migrations));
        foreach (var number in Enumerable.Range(11, 4))
        {
            Assert.Equal(1, await ScalarAsync(MariaDbFixture.TenantDatabase(number), "SELECT COUNT(*) FROM __EFMigrationsHistory"));
            Assert.Equal(0, await ScalarAsync(MariaDbFixture.TenantDatabase(number), $"SELECT COUNT(*) FROM {NotesContext.Table}"));
        }

        Assert.True((await host.Database.WaitUntilAllReturnedAsync()).Open <= 2);
        Assert.Equal(0, await Server.GetStatusAsync("Connection_errors_max_connections"));

        var again = await factory.MigrateTenantsAsync(tenants);
        Assert.All(again.Values, Assert.Empty);

        // The migrated table is usable through the tenant's context.
        await using (var scope = host.Scope(tenants[0]))
        {
            var notes = scope.ServiceProvider.GetRequiredService<NotesContext>();
            notes.Notes.Add(new Note { Body = "after the migration" });
            await notes.SaveChangesAsync();
        }

        Assert.Equal(1, await ScalarAsync(MariaDbFixture.TenantDatabase(11), $"SELECT COUNT(*) FROM {NotesContext.Table}"));
        await host.Database.WaitUntilAllReturnedAsync();
    }

    [Fact]
    public async Task A_tenant_that_fails_does_not_stop_the_others_and_is_named_in_the_error()
    {
        await using var host = await EfHost.CreateAsync(Server, o => o.MaxConnections = 2, more: NotesContext.Register);
        var factory = host.Services.GetRequiredService<TenantDbContextFactory<NotesContext>>();

        var error = await Assert.ThrowsAsync<TenantMigrationException>(
            () => factory.MigrateTenantsAsync([MariaDbFixture.TenantKey(15), "tenant-9999", MariaDbFixture.TenantKey(16)], maxDegreeOfParallelism: 1));

        Assert.Equal(["tenant-9999"], error.Failures.Keys);
        Assert.IsType<TenantNotFoundException>(error.Failures["tenant-9999"]);
        Assert.Contains("tenant-9999", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, await ScalarAsync(MariaDbFixture.TenantDatabase(15), "SELECT COUNT(*) FROM __EFMigrationsHistory"));
        Assert.Equal(1, await ScalarAsync(MariaDbFixture.TenantDatabase(16), "SELECT COUNT(*) FROM __EFMigrationsHistory"));
        await host.Database.WaitUntilAllReturnedAsync();
    }

    [Fact]
    public async Task EnsureCreated_makes_the_tables_in_an_existing_tenant_database_and_EnsureDeleted_says_what_to_do_instead()
    {
        const string Key = "tenant-ef-empty";
        const string Database = "tdg_t_ef_empty";
        await Server.ExecuteAsync(
            $"CREATE DATABASE IF NOT EXISTS {Database}; " +
            $"INSERT IGNORE INTO {MariaDbFixture.MasterDatabase}.tenants (tenant_key, database_name) VALUES ('{Key}', '{Database}');");
        await using var host = await EfHost.CreateAsync(Server, o => o.MaxConnections = 2, more: NotesContext.Register);

        await using (var scope = host.Scope(Key))
        {
            var context = scope.ServiceProvider.GetRequiredService<NotesContext>();
            Assert.True(await context.Database.CanConnectAsync());
            Assert.True(await context.Database.EnsureCreatedAsync());
            Assert.False(await context.Database.EnsureCreatedAsync());
            context.Notes.Add(new Note { Body = "created" });
            await context.SaveChangesAsync();

            var error = await Assert.ThrowsAsync<NotSupportedException>(() => context.Database.EnsureDeletedAsync());
            Assert.Contains("tenants table", error.Message, StringComparison.Ordinal);
            Assert.Throws<NotSupportedException>(() => context.Database.EnsureDeleted());
        }

        Assert.Equal(1, await ScalarAsync(Database, $"SELECT COUNT(*) FROM {NotesContext.Table}"));
        await host.Database.WaitUntilAllReturnedAsync();
    }

    [Fact]
    public async Task EnsureCreated_on_a_tenant_whose_database_is_gone_says_how_tenant_databases_are_made()
    {
        const string Key = "tenant-ef-gone";
        await Server.ExecuteAsync($"INSERT IGNORE INTO {MariaDbFixture.MasterDatabase}.tenants (tenant_key, database_name) VALUES ('{Key}', 'tdg_t_ef_gone');");
        await using var host = await EfHost.CreateAsync(Server, o => o.MaxConnections = 2, more: NotesContext.Register);

        await using (var scope = host.Scope(Key))
        {
            var context = scope.ServiceProvider.GetRequiredService<NotesContext>();
            var error = await Assert.ThrowsAsync<NotSupportedException>(() => context.Database.EnsureCreatedAsync());
            Assert.Contains("provisioned", error.Message, StringComparison.Ordinal);
        }

        await host.Database.WaitUntilAllReturnedAsync();
    }

    [Fact]
    public async Task A_null_key_among_the_tenants_is_refused_before_any_tenant_is_migrated()
    {
        await using var host = await EfHost.CreateAsync(Server, o => o.MaxConnections = 2, more: NotesContext.Register);
        var factory = host.Services.GetRequiredService<TenantDbContextFactory<NotesContext>>();

        // Before: the null key's failure could not be recorded, and the migration stopped half way with the
        // dictionary's ArgumentNullException ("key"), cancelling the tenants under way.
        var error = await Assert.ThrowsAsync<ArgumentException>(
            () => factory.MigrateTenantsAsync([MariaDbFixture.TenantKey(17), null!, MariaDbFixture.TenantKey(18)]));

        Assert.Equal("tenantKeys", error.ParamName);
        Assert.Contains("position 1", error.Message, StringComparison.Ordinal);
        Assert.Contains("nothing was migrated", error.Message, StringComparison.Ordinal);
        foreach (var number in new[] { 17, 18 })
        {
            Assert.Equal(0, await ScalarAsync(
                MariaDbFixture.TenantDatabase(number),
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() " +
                "AND table_name = '__EFMigrationsHistory'"));
        }

        Assert.Equal(0, host.Database.GetBudgetSnapshot().InUse);
    }

    [Fact]
    public async Task A_failed_key_with_line_breaks_or_bidirectional_controls_is_escaped_in_the_message()
    {
        await using var host = await EfHost.CreateAsync(Server, o => o.MaxConnections = 2, more: NotesContext.Register);
        var factory = host.Services.GetRequiredService<TenantDbContextFactory<NotesContext>>();
        const string Key = "evil\nINFO all tenants migrated\u202Etxt.exe";

        var error = await Assert.ThrowsAsync<TenantMigrationException>(() => factory.MigrateTenantsAsync([Key]));

        // The key is kept as given in Failures, and shown escaped in the message (as the runtime's own messages do).
        Assert.IsType<InvalidTenantKeyException>(error.Failures[Key]);
        Assert.DoesNotContain('\n', error.Message);
        Assert.DoesNotContain('\u202E', error.Message);
        Assert.Contains(@"evil\u000AINFO", error.Message, StringComparison.Ordinal);
        Assert.Contains(@"\u202Etxt.exe", error.Message, StringComparison.Ordinal);
    }

    private async Task<long> ScalarAsync(string database, string sql)
    {
        await using var connection = await Server.OpenConnectionAsync(database);
        await using var command = new MySqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync());
    }
}
