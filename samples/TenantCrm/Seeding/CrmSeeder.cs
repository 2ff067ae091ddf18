using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TenantDbGuard;

namespace TenantCrm.Seeding;

/// <summary>
/// Creates the master tables and the tenants on start, idempotently: <c>IF NOT EXISTS</c> and <c>INSERT IGNORE</c>
/// throughout, so a restart changes nothing. Tenants are created in batches of statements on master connections, a
/// few batches at a time; every connection comes from the runtime's budget like any other. A tenant's row goes into
/// <c>tenants</c> last, so no request finds a tenant whose database is half made.
/// </summary>
internal sealed partial class CrmSeeder(TenantDatabase db, IOptions<CrmOptions> options, SeedState state, ILogger<CrmSeeder> logger) : BackgroundService
{
    private const string MasterSchema =
        """
        CREATE TABLE IF NOT EXISTS tenants (
            tenant_key    VARCHAR(64)  PRIMARY KEY,
            database_name VARCHAR(64)  NOT NULL,
            server_host   VARCHAR(255) NULL,
            server_port   INT          NULL,
            is_active     TINYINT(1)   NOT NULL DEFAULT 1
        );
        CREATE TABLE IF NOT EXISTS users (
            id           INT AUTO_INCREMENT PRIMARY KEY,
            tenant_key   VARCHAR(64)  NOT NULL,
            email        VARCHAR(254) NOT NULL,
            display_name VARCHAR(100) NOT NULL,
            created_at   DATETIME     NOT NULL DEFAULT CURRENT_TIMESTAMP,
            UNIQUE KEY ux_users_tenant_email (tenant_key, email)
        );
        """;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        var started = Stopwatch.GetTimestamp();
        try
        {
            await db.ExecuteMasterAsync(MasterSchema, cancellationToken: stoppingToken);
            var seed = new SeedParameters(settings);
            var batches = Enumerable.Range(1, settings.Tenants).Chunk(settings.SeedBatchSize);
            var parallel = new ParallelOptions { MaxDegreeOfParallelism = settings.SeedParallelism, CancellationToken = stoppingToken };
            await Parallel.ForEachAsync(batches, parallel, async (batch, ct) =>
            {
                var (sql, parameters) = seed.ForTenants(batch);
                await db.ExecuteMasterAsync(sql, parameters, ct);
            });
        }
        catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
        {
            state.Failed(exception);
            LogFailed(logger, exception);
            throw;
        }

        var duration = Stopwatch.GetElapsedTime(started);
        state.Ready(settings.Tenants, duration);
        LogSeeded(logger, settings.Tenants, duration.TotalMilliseconds);
    }

    [LoggerMessage(EventId = 2101, Level = LogLevel.Information, Message = "Seeded {Tenants} tenants in {Milliseconds:0} ms")]
    private static partial void LogSeeded(ILogger logger, int tenants, double milliseconds);

    [LoggerMessage(EventId = 2102, Level = LogLevel.Critical, Message = "Seeding failed; the app stops")]
    private static partial void LogFailed(ILogger logger, Exception exception);

    /// <summary>
    /// The statements for a batch of tenants. The seed rows are the same in every tenant, so their values are
    /// parameters shared by the whole batch; only the keys and e-mail addresses differ per tenant.
    /// </summary>
    private sealed class SeedParameters
    {
        private readonly DynamicParameters _shared = new();
        private readonly string _customerValues;
        private readonly string _dealValues;

        public SeedParameters(CrmOptions settings)
        {
            _customerValues = string.Join(", ", SeedData.Customers(settings.CustomersPerTenant).Select(c =>
            {
                _shared.Add($"cn{c.Id}", c.Name);
                _shared.Add($"ce{c.Id}", c.Email);
                return $"({c.Id}, @cn{c.Id}, @ce{c.Id})";
            }));
            _dealValues = string.Join(", ", SeedData.Deals(settings.DealsPerTenant, settings.CustomersPerTenant).Select(d =>
            {
                _shared.Add($"dt{d.Id}", d.Title);
                _shared.Add($"ds{d.Id}", d.Stage);
                _shared.Add($"da{d.Id}", d.Amount);
                return $"({d.Id}, {d.CustomerId}, @dt{d.Id}, @ds{d.Id}, @da{d.Id})";
            }));
            for (var u = 0; u < SeedData.Users.Count; u++)
            {
                _shared.Add($"un{u}", SeedData.Users[u].DisplayName);
                foreach (var (permission, p) in SeedData.Users[u].Permissions.Select((permission, p) => (permission, p)))
                {
                    _shared.Add($"up{u}_{p}", permission);
                }
            }
        }

        public (string Sql, DynamicParameters Parameters) ForTenants(IReadOnlyList<int> tenantNumbers)
        {
            var parameters = new DynamicParameters(_shared);
            var sql = new StringBuilder();
            var registrations = new List<string>();
            foreach (var number in tenantNumbers)
            {
                var key = SeedData.TenantKey(number);
                var database = $"`{SeedData.TenantDatabase(number)}`";
                var n = number.ToString(CultureInfo.InvariantCulture);
                parameters.Add($"t{n}", key);
                parameters.Add($"d{n}", SeedData.TenantDatabase(number));

                sql.AppendLine(
                    $"""
                    CREATE DATABASE IF NOT EXISTS {database};
                    CREATE TABLE IF NOT EXISTS {database}.customers (
                        id INT AUTO_INCREMENT PRIMARY KEY,
                        name VARCHAR(100) NOT NULL,
                        email VARCHAR(254) NULL,
                        phone VARCHAR(32) NULL,
                        created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
                        KEY ix_customers_name (name)
                    );
                    CREATE TABLE IF NOT EXISTS {database}.deals (
                        id INT AUTO_INCREMENT PRIMARY KEY,
                        customer_id INT NOT NULL,
                        title VARCHAR(200) NOT NULL,
                        stage VARCHAR(20) NOT NULL,
                        amount DECIMAL(12,2) NOT NULL,
                        created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
                        KEY ix_deals_customer (customer_id),
                        KEY ix_deals_stage (stage)
                    );
                    CREATE TABLE IF NOT EXISTS {database}.permissions (
                        user_id INT NOT NULL,
                        permission VARCHAR(64) NOT NULL,
                        PRIMARY KEY (user_id, permission)
                    );
                    CREATE TABLE IF NOT EXISTS {database}.chat_messages (
                        id BIGINT AUTO_INCREMENT PRIMARY KEY,
                        channel VARCHAR(64) NOT NULL,
                        author VARCHAR(100) NOT NULL,
                        body VARCHAR(2000) NOT NULL,
                        created_at DATETIME(6) NOT NULL,
                        KEY ix_chat_messages_channel_id (channel, id)
                    );
                    """);
                if (_customerValues.Length > 0)
                {
                    sql.AppendLine($"INSERT IGNORE INTO {database}.customers (id, name, email) VALUES {_customerValues};");
                }

                if (_dealValues.Length > 0)
                {
                    sql.AppendLine($"INSERT IGNORE INTO {database}.deals (id, customer_id, title, stage, amount) VALUES {_dealValues};");
                }

                for (var u = 0; u < SeedData.Users.Count; u++)
                {
                    var user = SeedData.Users[u];
                    parameters.Add($"e{n}_{u}", SeedData.UserEmail(user, key));
                    sql.AppendLine($"INSERT IGNORE INTO users (tenant_key, email, display_name) VALUES (@t{n}, @e{n}_{u}, @un{u});");
                    if (user.Permissions.Count > 0)
                    {
                        var granted = string.Join(" UNION ALL ", user.Permissions.Select((_, p) => $"SELECT @up{u}_{p} AS permission"));
                        sql.AppendLine(
                            $"INSERT IGNORE INTO {database}.permissions (user_id, permission) " +
                            $"SELECT u.id, p.permission FROM users u CROSS JOIN ({granted}) p WHERE u.tenant_key = @t{n} AND u.email = @e{n}_{u};");
                    }
                }

                registrations.Add($"(@t{n}, @d{n})");
            }

            sql.AppendLine($"INSERT IGNORE INTO tenants (tenant_key, database_name) VALUES {string.Join(", ", registrations)};");
            return (sql.ToString(), parameters);
        }
    }
}
