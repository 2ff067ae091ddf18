using System.Collections.Concurrent;
using System.Data;
using System.Data.Common;
using System.Diagnostics;
using System.Text;
using Dapper;
using MySqlConnector;
using TenantDbGuard.Runtime.Tests.Infrastructure;
using Xunit.Abstractions;

namespace TenantDbGuard.Runtime.Tests;

/// <summary>
/// The runtime under faults while many callers use it, and under cancellations at random moments. Each tenant's
/// database holds a marker row naming it; every call reads the marker and a user variable the previous holder of the
/// session may have left (<c>@v</c>, which every call sets to its own tenant), so a session shaped by one tenant that
/// reaches another is seen. A monitor polls the server's process list: the application's sessions never exceed the
/// budget. Every failure a caller sees must be one of the runtime's exceptions, a cancellation of its own token, or a
/// server error a statement got (a <see cref="MySqlException"/> with the server's number), never a driver's crash
/// (<see cref="NullReferenceException"/>, <see cref="ObjectDisposedException"/>, ...), and no call may hang. After the
/// fault, every lease has come back and the whole budget can be leased again, each lease on its own tenant's database.
/// </summary>
[Collection(MariaDbCollection.Name)]
public sealed class FaultLoadTests(MariaDbFixture fixture, ITestOutputHelper output)
{
    private const int Tenants = 5;
    private const int Budget = 3;

    /// <summary>A call that takes longer than this hangs: the acquire timeout is 3 s and the command timeout 5 s.</summary>
    private static readonly TimeSpan Hang = TimeSpan.FromSeconds(15);

    private static string Key(int i) => "fl-" + (char)('a' + i);

    private static string Db(int i) => "tdg_fl_" + (char)('a' + i);

    /// <summary>The calls the load picks from: every helper, lease and connection API, synchronous and asynchronous.</summary>
    public enum Api
    {
        Query,
        Execute,
        Scalar,
        Unbuffered,
        WithConnection,
        WithTransaction,
        Lease,
        ConnectionAsync,
        ConnectionSync,
        MasterQuery,
        MasterWithConnection,
        MasterTransaction,
    }

    private sealed class Run(int budget)
    {
        public readonly int Budget = budget;
        public readonly ConcurrentBag<string> Findings = [];
        public readonly ConcurrentDictionary<string, int> Outcomes = new();
        public int MaxSeen;
        public int Calls;

        public void Count(string what) => Outcomes.AddOrUpdate(what, 1, (_, n) => n + 1);

        public string Summary() => string.Join("; ", Outcomes.OrderByDescending(o => o.Value).Select(o => $"{o.Key} x{o.Value}"));
    }

    private static async Task CreateTenantsAsync(MariaDbServer server)
    {
        await TenantLayout.CreateTenantsAsync(server, 0);
        var sql = new StringBuilder();
        for (var i = 0; i < Tenants; i++)
        {
            sql.AppendLine(CreateTenantSql(i));
        }

        await server.ExecuteAsync(sql.ToString());
    }

    private static string CreateTenantSql(int i) =>
        $"CREATE DATABASE IF NOT EXISTS {Db(i)};" +
        $"CREATE TABLE IF NOT EXISTS {Db(i)}.marker (tenant VARCHAR(64) NOT NULL);" +
        $"INSERT INTO {Db(i)}.marker (tenant) SELECT '{Key(i)}' FROM DUAL WHERE NOT EXISTS (SELECT 1 FROM {Db(i)}.marker);" +
        $"CREATE TABLE IF NOT EXISTS {Db(i)}.items (id INT AUTO_INCREMENT PRIMARY KEY, owner VARCHAR(64) NOT NULL);" +
        $"CREATE TABLE IF NOT EXISTS {Db(i)}.pair (id INT PRIMARY KEY, n INT NOT NULL) ENGINE=InnoDB;" +
        $"INSERT IGNORE INTO {Db(i)}.pair VALUES (1, 0), (2, 0);" +
        $"INSERT INTO {TenantLayout.MasterDatabase}.tenants (tenant_key, database_name) VALUES ('{Key(i)}', '{Db(i)}') ON DUPLICATE KEY UPDATE database_name = VALUES(database_name), is_active = 1;";

    private static TenantDatabase CreateDatabase(MariaDbServer server, int budget, int perTenant = 2, Action<TenantDbGuardOptions>? configure = null, CapturedLogs? logs = null)
    {
        var connectionString = new MySqlConnectionStringBuilder(server.GetAppConnectionString(MariaDbFixture.MasterDatabase))
        {
            AllowUserVariables = true,
            DefaultCommandTimeout = 5,
        }.ConnectionString;
        return server.CreateTenantDatabase(o =>
        {
            o.MasterConnectionString = connectionString;
            o.MaxConnections = budget;
            o.MaxConnectionsPerTenant = perTenant;
            o.MaxMasterConnections = 1;
            o.AcquireTimeout = TimeSpan.FromSeconds(3);
            configure?.Invoke(o);
        },
        logs);
    }

    /// <summary>
    /// Reads the marker and what <c>@v</c> held (the call's own key when nothing), sets <c>@v</c> to the call's key, and
    /// sleeps <c>@s</c> seconds: "key|key|key|0" on the right database with nothing of another tenant.
    /// </summary>
    private const string CheckSql = "SELECT CAST(CONCAT((SELECT tenant FROM marker LIMIT 1), '|', IFNULL(@v, @k), '|', (@v := @k), '|', SLEEP(@s)) AS CHAR)";

    private const string MasterCheckSql = "SELECT CAST(CONCAT(DATABASE(), '|', IFNULL(@v, @k), '|', (@v := @k), '|', SLEEP(@s)) AS CHAR)";

    private const string ExecuteSql = "INSERT INTO items (owner) SELECT tenant FROM marker WHERE tenant = @k AND IFNULL(@v, @k) = @k AND SLEEP(@s) = 0; SET @v = @k";

    /// <summary>Runs one call of <paramref name="api"/> for tenant <paramref name="tenant"/>; returns what it read, to check.</summary>
    private static async Task<string?> CallAsync(TenantDatabase db, Api api, int tenant, double sleep, CancellationToken cancellationToken)
    {
        var key = Key(tenant);
        var args = new { k = key, s = sleep };
        var master = new { k = TenantDatabase.MasterKey, s = sleep };
        switch (api)
        {
            case Api.Query:
                return (await db.QueryTenantAsync<string>(key, CheckSql, args, cancellationToken: cancellationToken)).Single();
            case Api.Execute:
                var rows = await db.ExecuteTenantAsync(key, ExecuteSql, args, cancellationToken: cancellationToken);
                return rows == 1 ? $"{key}|{key}|{key}|0" : $"execute inserted {rows} rows";
            case Api.Scalar:
                return await db.ExecuteScalarTenantAsync<string>(key, CheckSql, args, cancellationToken: cancellationToken);
            case Api.Unbuffered:
                string? last = null;
                await foreach (var row in db.QueryTenantUnbufferedAsync<string>(key, CheckSql, args, cancellationToken: cancellationToken))
                {
                    last = row;
                }

                return last;
            case Api.WithConnection:
                return await db.WithTenantConnectionAsync(key, (c, t) => c.ExecuteScalarAsync<string>(new CommandDefinition(CheckSql, args, cancellationToken: t)), cancellationToken);
            case Api.WithTransaction:
                return await db.WithTenantTransactionAsync(key, (c, tx, t) => c.ExecuteScalarAsync<string>(new CommandDefinition(CheckSql, args, tx, cancellationToken: t)), cancellationToken: cancellationToken);
            case Api.Lease:
                await using (var lease = await db.GetConnectionAsync(key, cancellationToken))
                {
                    return await lease.Connection.ExecuteScalarAsync<string>(new CommandDefinition(CheckSql, args, cancellationToken: lease.CancellationToken));
                }

            case Api.ConnectionAsync:
                await using (var connection = db.ForTenant(key).CreateConnection())
                {
                    await connection.OpenAsync(cancellationToken);
                    return await connection.ExecuteScalarAsync<string>(new CommandDefinition(CheckSql, args, cancellationToken: cancellationToken));
                }

            case Api.ConnectionSync:
                return await Task.Run(() =>
                {
                    using var connection = db.ForTenant(key).OpenConnection();
                    using var command = connection.CreateCommand();
                    command.CommandText = CheckSql;
                    AddParameter(command, "@k", key);
                    AddParameter(command, "@s", sleep);
                    using (cancellationToken.Register(command.Cancel))
                    {
                        return command.ExecuteScalar() as string;
                    }
                });
            case Api.MasterQuery:
                return (await db.QueryMasterAsync<string>(MasterCheckSql, master, cancellationToken: cancellationToken)).Single();
            case Api.MasterWithConnection:
                return await db.WithMasterConnectionAsync((c, t) => c.ExecuteScalarAsync<string>(new CommandDefinition(MasterCheckSql, master, cancellationToken: t)), cancellationToken);
            case Api.MasterTransaction:
                return await db.WithMasterTransactionAsync((c, tx, t) => c.ExecuteScalarAsync<string>(new CommandDefinition(MasterCheckSql, master, tx, cancellationToken: t)), cancellationToken: cancellationToken);
            default:
                throw new ArgumentOutOfRangeException(nameof(api));
        }
    }

    private static void AddParameter(DbCommand command, string name, object value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value;
        command.Parameters.Add(parameter);
    }

    private static bool IsMaster(Api api) => api is Api.MasterQuery or Api.MasterWithConnection or Api.MasterTransaction;

    /// <summary>
    /// Runs one call and judges it: what it read (a session of another tenant, or its variable), how it failed (a
    /// driver's crash, a connection failure a helper let through raw) and how long it took.
    /// </summary>
    private static async Task CallAndCheckAsync(Run run, TenantDatabase db, Api api, int tenant, double sleep, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref run.Calls);
        var expected = IsMaster(api) ? $"{MariaDbFixture.MasterDatabase}|{TenantDatabase.MasterKey}|{TenantDatabase.MasterKey}|" : $"{Key(tenant)}|{Key(tenant)}|{Key(tenant)}|";
        var clock = Stopwatch.StartNew();
        var call = CallAsync(db, api, tenant, sleep, cancellationToken);
        if (await Task.WhenAny(call, Task.Delay(Hang)) != call)
        {
            run.Findings.Add($"{api} hangs: no answer after {Hang.TotalSeconds} s");
            _ = call.ContinueWith(t => t.Exception, TaskScheduler.Default);
            return;
        }

        try
        {
            var read = await call;
            if (read is null && cancellationToken.IsCancellationRequested)
            {
                // The runtime's KILL QUERY for the cancellation cut the statement short: MariaDB answers NULL for the
                // subquery it stopped, without an error (ConcurrentIsolationTests counts the same).
                run.Count($"{api}:cut-short");
                return;
            }

            if (read is null || !read.StartsWith(expected, StringComparison.Ordinal))
            {
                run.Findings.Add($"{api} of {Key(tenant)} read '{read}', expected '{expected}...'");
            }

            run.Count($"{api}:ok");
        }
        catch (Exception exception)
        {
            var verdict = Judge(api, exception, cancellationToken);
            run.Count($"{api}:{verdict ?? Describe(exception)}");
            if (verdict is null)
            {
                run.Findings.Add($"{api} of {Key(tenant)} failed with {exception.GetType().FullName}: {exception.Message} at {exception.StackTrace?.Split('\n').FirstOrDefault()?.Trim()}");
            }
        }
    }

    private static string Describe(Exception exception) =>
        exception is MySqlException m ? $"MySqlException {m.Number}" : exception.GetType().Name;

    /// <summary>A short name of an expected failure, or null for one a caller must never see.</summary>
    private static string? Judge(Api api, Exception exception, CancellationToken cancellationToken)
    {
        switch (exception)
        {
            case TenantDbGuardException guard:
                return guard.GetType().Name;
            case OperationCanceledException when cancellationToken.IsCancellationRequested:
                return "cancelled";
            case MySqlException m when m.ErrorCode == MySqlErrorCode.QueryInterrupted && cancellationToken.IsCancellationRequested && api is Api.ConnectionSync:
                // DbCommand.Cancel ends the statement with the server's error, as MySqlConnector's own Cancel does.
                return "interrupted";
            case MySqlException m when api is Api.Lease or Api.ConnectionAsync or Api.ConnectionSync:
                // Code holding the connection talks to MySqlConnector (or its ADO.NET face): the driver's errors reach it.
                return $"MySqlException {m.Number}";
            case MySqlException m when !Core.ServerErrors.IsConnectionFailure(m) && m.Number is >= 1000 and < 2000 and not 1040 and not 1042 and not 1203 and not 1226:
                // A statement's own error (read-only server, deadlock, lock wait timeout, missing table).
                return $"MySqlException {m.Number}";
            default:
                return null;
        }
    }

    /// <summary>Polls the application's sessions every few milliseconds until stopped; one over the budget is a finding.</summary>
    private static Task MonitorAsync(MariaDbServer server, Run run, CancellationToken stop) => Task.Run(async () =>
    {
        MySqlConnection? connection = null;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    connection ??= await server.OpenConnectionAsync();
                    var sessions = (await connection.QueryAsync<string>($"SELECT CONCAT_WS(' ', ID, COMMAND, IFNULL(LEFT(INFO, 40), '-')) FROM information_schema.PROCESSLIST WHERE USER = '{MariaDbServer.AppUser}'")).AsList();
                    run.MaxSeen = Math.Max(run.MaxSeen, sessions.Count);
                    if (sessions.Count > run.Budget)
                    {
                        run.Findings.Add($"the server sees {sessions.Count} sessions of the application, budget {run.Budget}: {string.Join(" | ", sessions)}");
                    }
                }
                catch (Exception exception) when (exception is MySqlException or InvalidOperationException or IOException)
                {
                    // The server restarts, or refuses root for a moment: look again.
                    if (connection is not null)
                    {
                        await connection.DisposeAsync();
                        connection = null;
                    }

                    await Task.Delay(50);
                }

                await Task.Delay(4);
            }
        }
        finally
        {
            if (connection is not null)
            {
                await connection.DisposeAsync();
            }
        }
    });

    /// <summary>
    /// After the load: every lease came back, the whole budget can be leased again at once (one tenant each), every lease
    /// on its tenant's database with nothing of another, and the server holds no more sessions than the budget counts.
    /// </summary>
    private async Task CheckWholeBudgetAsync(MariaDbServer server, TenantDatabase db, Run run, int budget)
    {
        await db.WaitForSnapshotAsync(s => s is { InUse: 0, TenantsInUse: 0, Waiting: 0 }, TimeSpan.FromSeconds(10));
        var leases = new List<TenantConnectionLease>();
        try
        {
            var clock = Stopwatch.StartNew();
            // Each lease reads at once (under a wait_timeout of 1 s a lease left idle while the others come loses its session).
            var leasing = Enumerable.Range(0, budget).Select(async i =>
            {
                var lease = await db.GetConnectionAsync(Key(i % Tenants));
                var read = await lease.Connection.ExecuteScalarAsync<string>(CheckSql, new { k = lease.TenantKey, s = 0 });
                if (read is null || !read.StartsWith($"{lease.TenantKey}|{lease.TenantKey}|", StringComparison.Ordinal))
                {
                    run.Findings.Add($"a lease of {lease.TenantKey} taken after the fault read '{read}'");
                }

                return lease;
            }).ToArray();
            try
            {
                await Task.WhenAll(leasing);
            }
            catch (Exception exception)
            {
                run.Findings.Add($"the whole budget could not be leased again after the fault: {exception.GetType().Name}: {exception.Message}");
            }

            leases.AddRange(leasing.Where(t => t.IsCompletedSuccessfully).Select(t => t.Result));
            output.WriteLine($"{leases.Count} of {budget} leases taken again in {clock.ElapsedMilliseconds} ms");

            var onServer = await server.CountConnectionsAsync();
            if (onServer > budget)
            {
                run.Findings.Add($"with the whole budget leased the server sees {onServer} sessions, budget {budget}");
            }
        }
        finally
        {
            foreach (var lease in leases)
            {
                await lease.DisposeAsync();
            }
        }

        await db.WaitUntilAllReturnedAsync();
        await RuntimeTestExtensions.WaitUntilAsync(async () => await server.CountConnectionsAsync() <= db.GetBudgetSnapshot().Open, TimeSpan.FromSeconds(10), "the server holds no more sessions than the budget counts");
    }

    private void Report(string name, Run run)
    {
        output.WriteLine($"{name}: {run.Calls} calls, at most {run.MaxSeen} sessions seen by the server (budget {run.Budget})");
        output.WriteLine(run.Summary());
        foreach (var finding in run.Findings.Distinct().Take(12))
        {
            output.WriteLine(finding);
        }
    }

    /// <summary>
    /// Thirty-two callers over five tenants on a budget of 3 (2 a tenant), every API picked at random, for 6 s; at 1.5 s
    /// the fault strikes, and it is undone 2 s later where it can be.
    /// </summary>
    [Theory]
    [Trait("Speed", "Slow")]
    [Trait("Guarantee", "1")]
    [Trait("Guarantee", "10")]
    [InlineData("kill every session at once")]
    [InlineData("server restarted")]
    [InlineData("max_connections reached by others")]
    [InlineData("max_user_connections lowered")]
    [InlineData("tenant database dropped")]
    [InlineData("read_only switched on")]
    [InlineData("wait_timeout of 1 s")]
    [InlineData("lock waits and deadlocks")]
    public async Task Thirty_two_callers_through_a_fault_never_cross_tenants_exceed_the_budget_crash_or_lose_a_slot(string fault)
    {
        await using var server = await MariaDbServer.StartAsync(maxConnections: 60);
        await CreateTenantsAsync(server);
        await server.ExecuteAsync($"CREATE USER 'filler'@'%' IDENTIFIED BY 'filler'; SET GLOBAL innodb_lock_wait_timeout = 1;");
        if (fault == "wait_timeout of 1 s")
        {
            await server.SetGlobalAsync("wait_timeout", 1);
        }

        var run = new Run(Budget);
        await using var db = CreateDatabase(server, Budget);
        using var stop = new CancellationTokenSource();
        var monitor = MonitorAsync(server, run, stop.Token);
        var clock = Stopwatch.StartNew();
        var load = TimeSpan.FromSeconds(6);
        var apis = Enum.GetValues<Api>();
        var workers = Enumerable.Range(0, 32).Select(w => Task.Run(async () =>
        {
            var random = new Random(w * 31 + fault.Length);
            while (clock.Elapsed < load)
            {
                var tenant = random.Next(Tenants);
                if (fault == "lock waits and deadlocks" && random.Next(2) == 0)
                {
                    await ContendAsync(run, db, tenant, random.Next(2) == 0);
                }
                else
                {
                    using var cancel = new CancellationTokenSource();
                    if (random.Next(6) == 0)
                    {
                        cancel.CancelAfter(random.Next(50));
                    }

                    await CallAndCheckAsync(run, db, apis[random.Next(apis.Length)], tenant, random.Next(4) == 0 ? 0.02 : 0, cancel.Token);
                }

                if (fault == "wait_timeout of 1 s" && random.Next(8) == 0)
                {
                    await Task.Delay(1000 + random.Next(1500));
                }
            }
        })).ToArray();

        await Task.Delay(1500);
        var fillers = new List<MySqlConnection>();
        try
        {
            await StrikeAsync(server, fault, fillers);
            await Task.Delay(2000);
        }
        finally
        {
            await UndoAsync(server, fault, fillers);
        }

        await Task.WhenAll(workers);
        await CheckWholeBudgetAsync(server, db, run, Budget);
        await stop.CancelAsync();
        await monitor;
        Report(fault, run);
        Assert.Empty(run.Findings.Distinct().Take(12));
    }

    /// <summary>Two transactions of one tenant updating the same two rows in opposite orders: lock waits and deadlocks.</summary>
    private static async Task ContendAsync(Run run, TenantDatabase db, int tenant, bool reversed)
    {
        Interlocked.Increment(ref run.Calls);
        var (first, second) = reversed ? (2, 1) : (1, 2);
        var call = db.WithTenantTransactionAsync(Key(tenant), async (c, tx, t) =>
        {
            await c.ExecuteAsync(new CommandDefinition($"UPDATE pair SET n = n + 1 WHERE id = {first}", transaction: tx, cancellationToken: t));
            await Task.Delay(5, t);
            await c.ExecuteAsync(new CommandDefinition($"UPDATE pair SET n = n + 1 WHERE id = {second}", transaction: tx, cancellationToken: t));
        });
        if (await Task.WhenAny(call, Task.Delay(Hang)) != call)
        {
            run.Findings.Add($"a contended transaction hangs: no answer after {Hang.TotalSeconds} s");
            return;
        }

        try
        {
            await call;
            run.Count("contend:ok");
        }
        catch (Exception exception)
        {
            var verdict = Judge(Api.WithTransaction, exception, CancellationToken.None);
            run.Count($"contend:{verdict ?? Describe(exception)}");
            if (verdict is null)
            {
                run.Findings.Add($"a contended transaction failed with {exception.GetType().FullName}: {exception.Message}");
            }
        }
    }

    private static async Task StrikeAsync(MariaDbServer server, string fault, List<MySqlConnection> fillers)
    {
        switch (fault)
        {
            case "kill every session at once":
                for (var round = 0; round < 3; round++)
                {
                    await KillApplicationSessionsAsync(server);
                    await Task.Delay(500);
                }

                break;
            case "server restarted":
                await server.RestartAsync();
                await server.SetGlobalAsync("innodb_lock_wait_timeout", 1);
                break;
            case "max_connections reached by others":
                await server.SetGlobalAsync("max_connections", 12);
                var filler = new MySqlConnectionStringBuilder(server.GetAppConnectionString()) { UserID = "filler", Password = "filler", Pooling = false }.ConnectionString;
                for (var i = 0; i < 20; i++)
                {
                    var connection = new MySqlConnection(filler);
                    try
                    {
                        await connection.OpenAsync();
                        fillers.Add(connection);
                    }
                    catch (MySqlException)
                    {
                        await connection.DisposeAsync();
                        break;
                    }
                }

                // The application must open new connections into a full server.
                await KillApplicationSessionsAsync(server);
                break;
            case "max_user_connections lowered":
                await server.ExecuteAsync($"ALTER USER '{MariaDbServer.AppUser}'@'%' WITH MAX_USER_CONNECTIONS 1");
                await KillApplicationSessionsAsync(server);
                break;
            case "tenant database dropped":
                await server.ExecuteAsync($"DROP DATABASE {Db(0)}");
                break;
            case "read_only switched on":
                await server.SetGlobalAsync("read_only", 1);
                break;
        }
    }

    /// <summary>Kills every session of the application at once, each over a root connection of its own.</summary>
    private static async Task KillApplicationSessionsAsync(MariaDbServer server)
    {
        await using var root = await server.OpenConnectionAsync();
        var ids = (await root.QueryAsync<long>($"SELECT ID FROM information_schema.PROCESSLIST WHERE USER = '{MariaDbServer.AppUser}'")).AsList();
        await Task.WhenAll(ids.Select(async id =>
        {
            try
            {
                await server.ExecuteAsync($"KILL CONNECTION {id}");
            }
            catch (MySqlException)
            {
                // Gone already.
            }
        }));
    }

    private static async Task UndoAsync(MariaDbServer server, string fault, List<MySqlConnection> fillers)
    {
        switch (fault)
        {
            case "max_connections reached by others":
                foreach (var connection in fillers)
                {
                    await connection.DisposeAsync();
                }

                await server.SetGlobalAsync("max_connections", 60);
                break;
            case "max_user_connections lowered":
                await server.ExecuteAsync($"ALTER USER '{MariaDbServer.AppUser}'@'%' WITH MAX_USER_CONNECTIONS 0");
                break;
            case "tenant database dropped":
                await server.ExecuteAsync(CreateTenantSql(0));
                break;
            case "read_only switched on":
                await server.SetGlobalAsync("read_only", 0);
                break;
        }
    }

    /// <summary>
    /// Two hundred calls of one API, six at a time over five tenants on a budget of 2, each cancelled after 0 to 50 ms
    /// (waiting for the budget, on its way, in its statement, in the reset): afterwards the whole budget can be leased,
    /// no statement of the application runs on the server, and no call read another tenant's session.
    /// </summary>
    [Theory]
    [Trait("Guarantee", "1")]
    [Trait("Guarantee", "10")]
    [InlineData(Api.Query)]
    [InlineData(Api.Execute)]
    [InlineData(Api.Scalar)]
    [InlineData(Api.Unbuffered)]
    [InlineData(Api.WithConnection)]
    [InlineData(Api.WithTransaction)]
    [InlineData(Api.Lease)]
    [InlineData(Api.ConnectionAsync)]
    [InlineData(Api.ConnectionSync)]
    [InlineData(Api.MasterQuery)]
    [InlineData(Api.MasterWithConnection)]
    [InlineData(Api.MasterTransaction)]
    public async Task Two_hundred_calls_cancelled_at_random_moments_leave_the_budget_whole_and_no_session_crossed(Api api)
    {
        var server = fixture.Server;
        await CreateTenantsAsync(server);
        await server.WaitForAppConnectionsAsync();
        const int budget = 2;
        var run = new Run(budget);
        await using var db = CreateDatabase(server, budget, perTenant: 1);
        using var stop = new CancellationTokenSource();
        var monitor = MonitorAsync(server, run, stop.Token);
        var next = -1;
        var workers = Enumerable.Range(0, 6).Select(w => Task.Run(async () =>
        {
            var random = new Random(w * 131 + (int)api);
            while (Interlocked.Increment(ref next) < 200)
            {
                using var cancel = new CancellationTokenSource(random.Next(51));
                await CallAndCheckAsync(run, db, api, random.Next(Tenants), random.Next(3) == 0 ? 0 : 0.01 * random.Next(5), cancel.Token);
            }
        })).ToArray();
        await Task.WhenAll(workers);

        await CheckWholeBudgetAsync(server, db, run, budget);
        await RuntimeTestExtensions.WaitUntilAsync(async () => await server.CountRunningAsync("SLEEP(") == 0, TimeSpan.FromSeconds(5), "no statement of the calls runs on the server");
        await stop.CancelAsync();
        await monitor;
        Report(api.ToString(), run);
        Assert.Empty(run.Findings.Distinct().Take(12));
        Assert.True(run.Outcomes.Keys.Any(k => k.EndsWith(":cancelled", StringComparison.Ordinal) || k.EndsWith(":interrupted", StringComparison.Ordinal)), "No call was cancelled: " + run.Summary());
    }

    [Fact]
    [Trait("Guarantee", "1")]
    [Trait("Guarantee", "10")]
    public async Task A_session_idle_on_a_dropped_database_serves_the_next_tenant_clean_and_the_dropped_tenant_gets_a_typed_error()
    {
        var server = fixture.Server;
        await CreateTenantsAsync(server);
        await server.WaitForAppConnectionsAsync();
        var run = new Run(1);
        await using var db = CreateDatabase(server, budget: 1, perTenant: 1);
        long first;
        await using (var lease = await db.GetConnectionAsync(Key(0)))
        {
            first = await lease.Connection.ExecuteScalarAsync<long>("SELECT CONNECTION_ID()");
        }

        await db.WaitUntilAllReturnedAsync();
        try
        {
            // The one idle session is on the dropped database; the next tenant gets it.
            await server.ExecuteAsync($"DROP DATABASE {Db(0)}");
            foreach (var api in Enum.GetValues<Api>())
            {
                await CallAndCheckAsync(run, db, api, 1, 0, CancellationToken.None);
            }

            foreach (var api in Enum.GetValues<Api>().Where(a => !IsMaster(a)))
            {
                var error = await Assert.ThrowsAnyAsync<Exception>(() => CallAsync(db, api, 0, 0, CancellationToken.None));
                Assert.True(error is TenantDatabaseUnavailableException, $"{api}: {error.GetType().FullName}: {error.Message}");
            }
        }
        finally
        {
            await server.ExecuteAsync(CreateTenantSql(0));
        }

        await CallAndCheckAsync(run, db, Api.Query, 0, 0, CancellationToken.None);
        Report("dropped while idle", run);
        Assert.Empty(run.Findings);
        Assert.Equal(first, await db.ExecuteScalarTenantAsync<long>(Key(1), "SELECT CONNECTION_ID()"));
        await CheckWholeBudgetAsync(server, db, run, 1);
    }

    [Fact]
    [Trait("Guarantee", "10")]
    public async Task A_data_source_connection_killed_under_its_query_fails_with_the_drivers_error_says_it_is_broken_and_gives_its_slot_back()
    {
        // A TenantDbConnection is an ADO.NET connection: its callers catch MySqlException as they did with MySqlConnection
        // (a retry on 2013, say), so the runtime does not turn the driver's error into its own there; it must still be the
        // driver's error for a lost connection (not an ObjectDisposedException or NullReferenceException from inside it),
        // and the lease must come back for another session.
        var server = fixture.Server;
        await CreateTenantsAsync(server);
        await server.WaitForAppConnectionsAsync();
        await using var db = CreateDatabase(server, budget: 1, perTenant: 1);
        foreach (var sync in new[] { false, true })
        {
            await using var connection = db.ForTenant(Key(0)).CreateConnection();
            await connection.OpenAsync();
            var id = await connection.ExecuteScalarAsync<long>("SELECT CONNECTION_ID()");
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT SLEEP(10)";
            var running = sync ? Task.Run(() => command.ExecuteScalar()) : command.ExecuteScalarAsync();
            await RuntimeTestExtensions.WaitUntilAsync(async () => await server.CountRunningAsync("SLEEP(10)") == 1, TimeSpan.FromSeconds(5), "the statement runs");
            await server.ExecuteAsync($"KILL CONNECTION {id}");
            var error = await Assert.ThrowsAnyAsync<Exception>(() => running);
            output.WriteLine($"{(sync ? "sync" : "async")}: {error.GetType().FullName}: {error.Message}");
            Assert.IsType<MySqlException>(error);

            // As a MySqlConnection's, the connection's state says it is broken (code that checks for Broken closes and
            // opens it again), and the next command on it fails as plainly, never with a crash inside the driver.
            output.WriteLine($"the connection is {connection.State} after the error");
            Assert.Equal(ConnectionState.Broken, connection.State);
            var again = await Assert.ThrowsAnyAsync<Exception>(() => connection.ExecuteScalarAsync<long>("SELECT 1"));
            output.WriteLine($"then: {again.GetType().FullName}: {again.Message}");
            Assert.True(again is MySqlException or InvalidOperationException, again.ToString());
            connection.Close();
            Assert.Equal(ConnectionState.Closed, connection.State);

            await connection.DisposeAsync();
            await db.WaitForSnapshotAsync(s => s.InUse == 0, TimeSpan.FromSeconds(5));
            Assert.NotEqual(id, await db.ExecuteScalarTenantAsync<long>(Key(1), "SELECT CONNECTION_ID()"));
        }
    }

    [Theory]
    [Trait("Guarantee", "10")]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_data_source_reader_past_its_last_result_left_undisposed_costs_its_session_nothing(bool async)
    {
        var server = fixture.Server;
        await CreateTenantsAsync(server);
        await server.WaitForAppConnectionsAsync();
        await using var db = CreateDatabase(server, budget: 1, perTenant: 1);
        Assert.Equal(Key(1), await db.ExecuteScalarTenantAsync<string>(Key(1), "SELECT tenant FROM marker"));
        long id;
        var connection = db.ForTenant(Key(0)).CreateConnection();
        await connection.OpenAsync();
        id = await connection.ExecuteScalarAsync<long>("SELECT CONNECTION_ID()");
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT 1; SELECT 2";
        var reader = async ? await command.ExecuteReaderAsync() : command.ExecuteReader();
        while (reader.Read())
        {
        }

        Assert.True(async ? await reader.NextResultAsync() : reader.NextResult());
        while (reader.Read())
        {
        }

        Assert.False(async ? await reader.NextResultAsync() : reader.NextResult());
        Assert.False(reader.IsClosed);
        Assert.Equal(-1, reader.RecordsAffected);

        // The reader is never disposed: the connection is.
        var clock = Stopwatch.StartNew();
        await connection.DisposeAsync();
        var next = await db.ExecuteScalarTenantAsync<long>(Key(1), "SELECT CONNECTION_ID()");
        output.WriteLine($"the next lease answered after {clock.ElapsedMilliseconds} ms on session {next} (the reader's: {id})");
        Assert.Equal(id, next);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"The next lease waited {clock.ElapsedMilliseconds} ms.");
        Assert.Throws<InvalidOperationException>(() => reader.Read());
    }

    [Theory]
    [Trait("Speed", "Slow")]
    [Trait("Guarantee", "10")]
    [InlineData(12)]
    [InlineData(64)]
    public async Task Synchronous_callers_on_a_budget_of_2_all_end_under_thread_pool_starvation(int count)
    {
        var server = fixture.Server;
        await CreateTenantsAsync(server);
        await server.WaitForAppConnectionsAsync();
        var run = new Run(2);
        await using var db = CreateDatabase(server, budget: 2, perTenant: 2, o =>
        {
            o.AcquireTimeout = TimeSpan.FromSeconds(2);
            o.MasterConnectionString = new MySqlConnectionStringBuilder(o.MasterConnectionString) { ConnectionTimeout = 1 }.ConnectionString;
        });
        using var stop = new CancellationTokenSource();
        var monitor = MonitorAsync(server, run, stop.Token);
        var longest = TimeSpan.Zero;
        var outcomes = new ConcurrentDictionary<string, int>();
        var clock = Stopwatch.StartNew();

        // Every caller blocks a pool thread in a synchronous open that waits for the budget.
        var callers = Enumerable.Range(0, count).Select(i => Task.Run(() =>
        {
            var watch = Stopwatch.StartNew();
            string outcome;
            try
            {
                using var connection = db.ForTenant(Key(i % Tenants)).OpenConnection();
                using var command = connection.CreateCommand();
                command.CommandText = "SELECT SLEEP(0.05)";
                command.ExecuteScalar();
                outcome = "ok";
            }
            catch (Exception exception)
            {
                outcome = exception.GetType().Name;
            }

            lock (outcomes)
            {
                longest = watch.Elapsed > longest ? watch.Elapsed : longest;
            }

            outcomes.AddOrUpdate(outcome, 1, (_, n) => n + 1);
        })).ToArray();
        var all = Task.WhenAll(callers);
        // The pool grows by about a thread a second, and each new thread takes the next caller before the work the
        // callers wait for: a synchronous open gives up after AcquireTimeout + Connect Timeout + ResetTimeout (4 s
        // here), so each caller ends in time, and the whole load as fast as the pool lets the callers run.
        var ended = await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(60))) == all;
        output.WriteLine($"{(ended ? "all ended" : "still running")} after {clock.ElapsedMilliseconds} ms, the longest call {longest.TotalMilliseconds:0} ms: " + string.Join("; ", outcomes.Select(o => $"{o.Key} x{o.Value}")));
        Assert.True(ended, "Synchronous callers still wait after 60 s.");
        Assert.Equal(count, outcomes.Values.Sum());
        Assert.True(longest < TimeSpan.FromSeconds(5.5), $"A synchronous open took {longest.TotalMilliseconds:0} ms, past AcquireTimeout + Connect Timeout + ResetTimeout (4 s).");
        // A starved pool also delays the answer to a new connection's first statement past ResetTimeout: the runtime's
        // transient error for a connection that failed while it was opened.
        Assert.All(outcomes.Keys, k => Assert.Contains(k, new[] { "ok", nameof(ConnectionBudgetExhaustedException), nameof(TenantConnectionFailedException) }));
        await CheckWholeBudgetAsync(server, db, run, 2);
        await stop.CancelAsync();
        await monitor;
        Assert.Empty(run.Findings);
    }

    [Theory]
    [Trait("Guarantee", "10")]
    [InlineData("lease")]
    [InlineData("query helper")]
    [InlineData("data source")]
    [InlineData("data source, synchronous")]
    public async Task A_new_connection_whose_first_statements_get_no_answer_fails_with_the_runtimes_typed_error(string entry)
    {
        // A slow or stalled server does not answer a new connection's first statements (here the reading of the server's
        // profile) within ResetTimeout: the session is ended, and the caller gets the runtime's error for a connection
        // that failed while it was opened (transient, nothing sent), not a bare TimeoutException that a retry policy on
        // TenantDbGuardException does not see. Under load (two cores, load average above 40) the same came from a new
        // connection's USE of the tenant's database, through a synchronous open.
        await using var server = await MariaDbServer.StartAsync();
        await CreateTenantsAsync(server);
        await using var relay = SilencingRelay.Start(server.Port);
        await using var db = server.CreateTenantDatabase(o =>
        {
            o.MasterConnectionString = new MySqlConnectionStringBuilder(server.GetAppConnectionString(MariaDbFixture.MasterDatabase)) { Port = (uint)relay.Port }.ConnectionString;
            o.MaxConnections = 3;
            o.ResetTimeout = TimeSpan.FromMilliseconds(300);
        });
        relay.SilenceTheNextToSend("@@global.session_track_schema");
        var clock = Stopwatch.StartNew();
        Func<Task> call = entry switch
        {
            "lease" => async () => await (await db.GetConnectionAsync(Key(1))).DisposeAsync(),
            "query helper" => () => db.QueryTenantAsync<string>(Key(1), "SELECT tenant FROM marker"),
            "data source" => async () => await (await db.ForTenant(Key(1)).OpenConnectionAsync()).DisposeAsync(),
            _ => () => Task.Run(() => db.ForTenant(Key(1)).OpenConnection().Dispose()),
        };
        var error = await Assert.ThrowsAnyAsync<Exception>(call);
        output.WriteLine($"after {clock.ElapsedMilliseconds} ms: {error.GetType().FullName}: {error.Message}");
        var failed = Assert.IsType<TenantConnectionFailedException>(error);
        Assert.True(failed.IsTransient);
        Assert.IsType<TimeoutException>(failed.InnerException);

        Assert.Equal(Key(1), await db.ExecuteScalarTenantAsync<string>(Key(1), "SELECT tenant FROM marker"));
        await db.WaitUntilAllReturnedAsync();
    }

    [Fact]
    [Trait("Guarantee", "10")]
    public async Task Sessions_the_server_ended_idle_for_wait_timeout_leave_the_whole_budget_to_lease_at_once()
    {
        await using var server = await MariaDbServer.StartAsync();
        await CreateTenantsAsync(server);
        await server.SetGlobalAsync("wait_timeout", 1);
        var run = new Run(Budget);
        var logs = new CapturedLogs();
        await using var db = CreateDatabase(server, Budget, configure: o => o.AcquireTimeout = TimeSpan.FromSeconds(15), logs: logs);
        try
        {
        for (var round = 0; round < 3; round++)
        {
            // The whole budget open, then idle past the server's wait_timeout: every session is ended by the server.
            var leases = await Task.WhenAll(Enumerable.Range(0, Budget).Select(i => db.GetConnectionAsync(Key(i)).AsTask()));
            foreach (var lease in leases)
            {
                await lease.DisposeAsync();
            }

            await db.WaitUntilAllReturnedAsync();
            await RuntimeTestExtensions.WaitUntilAsync(async () => await server.CountConnectionsAsync() == 0, TimeSpan.FromSeconds(10), "the server ended the idle sessions");
            var clock = Stopwatch.StartNew();
            await CheckWholeBudgetAsync(server, db, run, Budget);
            output.WriteLine($"round {round}: the whole budget leased and given back in {clock.ElapsedMilliseconds} ms");
        }
        }
        finally
        {
            foreach (var entry in logs.Entries)
            {
                output.WriteLine($"  {entry.EventId.Id} {entry.Level}: {entry.Message} {entry.Exception?.GetType().Name} {entry.Exception?.Message}");
            }
        }

        Assert.Empty(run.Findings);
    }
}
