using System;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;

namespace TenantDbGuard;

/// <summary>How <see cref="TenantDbContextServiceCollectionExtensions.AddTenantDbContext{TContext}"/> builds a tenant's context.</summary>
public sealed class TenantDbContextOptions
{
    /// <summary>
    /// The server's version, for the SQL Pomelo writes. When <see langword="null"/> (the default) it is read once, over a
    /// master connection of the budget (<c>SELECT VERSION()</c> as the connection reports it), the first time a context is
    /// created. Set it when tenants live on servers of another version than the master's.
    /// </summary>
    public ServerVersion? ServerVersion { get; set; }

    /// <summary>Pomelo's own settings (<c>UseMySql(..., mySql =&gt; ...)</c>): retries, query splitting, type mappings.</summary>
    public Action<MySqlDbContextOptionsBuilder>? MySqlOptions { get; set; }

    /// <summary>
    /// Further EF Core settings of the context (logging, interceptors, warnings), given the service provider of the
    /// scope the context is created in. Do not set the connection or the provider here: the runtime does.
    /// </summary>
    public Action<IServiceProvider, DbContextOptionsBuilder>? ContextOptions { get; set; }
}
