using System;

namespace TenantDbGuard;

/// <summary>Where a tenant's database lives, as resolved from the master database or a custom resolver.</summary>
public sealed class TenantInfo
{
    /// <summary>Creates the description of one tenant's database.</summary>
    /// <param name="tenantKey">The tenant's key.</param>
    /// <param name="databaseName">The name of the tenant's database (schema).</param>
    /// <param name="serverHost">The server that holds it, or <see langword="null"/> for the master database's server
    /// (white space around it is removed).</param>
    /// <param name="serverPort">The server's port, or <see langword="null"/> for the master database's port.</param>
    public TenantInfo(string tenantKey, string databaseName, string? serverHost = null, int? serverPort = null)
    {
        TenantKey = tenantKey ?? throw new ArgumentNullException(nameof(tenantKey));
        DatabaseName = string.IsNullOrWhiteSpace(databaseName)
            ? throw new ArgumentException("A tenant needs a database name.", nameof(databaseName))
            : databaseName;
        ServerHost = string.IsNullOrWhiteSpace(serverHost) ? null : serverHost.Trim();
        ServerPort = serverPort;
    }

    /// <summary>The tenant's key.</summary>
    public string TenantKey { get; }

    /// <summary>The name of the tenant's database (schema).</summary>
    public string DatabaseName { get; }

    /// <summary>The server that holds the database; <see langword="null"/> means the master database's server.</summary>
    public string? ServerHost { get; }

    /// <summary>The server's port; <see langword="null"/> means the master database's port.</summary>
    public int? ServerPort { get; }
}
