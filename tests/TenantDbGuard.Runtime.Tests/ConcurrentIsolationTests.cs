using System.Collections.Concurrent;
using System.Data;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Dapper;
using MySqlConnector;
using TenantDbGuard.Runtime.Tests.Infrastructure;
using Xunit.Abstractions;

namespace TenantDbGuard.Runtime.Tests;

/// <summary>
/// Each isolation guarantee has a test of its own; these run them together. Sixteen callers over six to eight tenants
/// (each database holds a marker row naming it) share a budget of 2 to 4 connections for a few seconds, each doing random
/// operations through every API: leases, the query and execute helpers, <c>WithTenantConnectionAsync</c>, the transaction
/// helper, <see cref="TenantDbConnection"/> opened and closed twice, unbuffered queries left early, command timeouts, the
/// master helpers. Their SQL leaves what a session can keep (a user variable, a temporary table shadowing another tenant's
/// marker, <c>sql_mode</c>, the character set, an open transaction or XA transaction, <c>GET_LOCK</c>, <c>LOCK TABLES</c>, a
/// role, a <c>USE</c> of another tenant's database), leaves readers half read and statements not awaited, throws from the
/// work, and is cancelled at random moments (0-20 ms: waiting for the budget, during the <c>USE</c>, the query or the
/// reset), while tenants are invalidated at random. Every lease checks on arrival that it is on its tenant's database and
/// holds nothing another tenant left; the server's connections of the application never exceed the budget; afterwards
/// every slot is back and every tenant answers. The seeds are fixed: a failure names its seed.
/// </summary>
[Collection(MariaDbCollection.Name)]
public sealed class ConcurrentIsolationTests(ITestOutputHelper output)
{
    private const int MaxTenants = 8;

    private static string Key(int i) => "chaos-" + (char)('a' + i);

    private static string Db(int i) => "tdg_chaos_" + (char)('a' + i);

    public sealed class CheckRow
    {
        public string? Db { get; set; }
        public string? Marker { get; set; }
        public string? V { get; set; }
        public long ModeClean { get; set; }
        public long InTx { get; set; }
        public string? Role { get; set; }
        public long Id { get; set; }
        public string? Locks { get; set; }
        public long CharsetClean { get; set; }
    }

    private static readonly string CheckSql =
        "SELECT DATABASE() AS Db, (SELECT tenant FROM marker LIMIT 1) AS Marker, @v AS V, CAST(@@session.sql_mode = @@global.sql_mode AS SIGNED) AS ModeClean, " +
        "CAST(@@in_transaction AS SIGNED) AS InTx, CURRENT_ROLE() AS Role, CAST(CONNECTION_ID() AS SIGNED) AS Id, CAST(@@character_set_client = 'utf8mb4' AS SIGNED) AS CharsetClean, CONCAT_WS(',', " +
        string.Join(", ", Enumerable.Range(0, MaxTenants).Select(i => $"IF(IS_USED_LOCK('{Key(i)}') = CONNECTION_ID(), '{Key(i)}', NULL)")) + ") AS Locks";

    private sealed class ChaosException() : Exception("thrown by the caller's work");

    public sealed record Settings(int Seed, int Tenants, int Workers, int Budget, int PerTenant, bool Reset, TimeSpan Duration, bool Kills, bool Cancels, bool KillQuery = true, bool KillStorm = false);

    private sealed class Run(Settings settings)
    {
        public readonly Settings S = settings;
        public readonly ConcurrentBag<string> Findings = [];
        public readonly ConcurrentDictionary<string, int> Outcomes = new();
        public int Ops;
        public int MaxSeen;
        public int OverBudget;

        /// <summary>The sessions a <c>KILL QUERY</c> from outside went to, and when it was sent (a Stopwatch timestamp).</summary>
        public readonly ConcurrentQueue<(long Id, long Sent)> QueryKills = new();

        /// <summary>
        /// Whether a marker read as NULL on session <paramref name="id"/> is the server's cut-short answer: a
        /// <c>KILL QUERY</c> from outside was sent to that session at or after <paramref name="since"/> (less a margin for
        /// one on its way to the server when the operation started). Counted when it is.
        /// </summary>
        public bool MarkerCutByKillQuery(long id, long since)
        {
            var from = since - Stopwatch.Frequency / 20;
            if (!S.KillQuery || !QueryKills.Any(kill => kill.Id == id && kill.Sent >= from))
            {
                return false;
            }

            Count("check:marker-cut-short-by-kill-query");
            return true;
        }

        public void Finding(string what)
        {
            Findings.Add(what);
        }

        public void Count(string what) => Outcomes.AddOrUpdate(what, 1, (_, n) => n + 1);
    }

    [Theory]
    [Trait("Speed", "Slow")]
    [Trait("Guarantee", "1")]
    [Trait("Guarantee", "2")]
    [Trait("Guarantee", "5")]
    [Trait("Guarantee", "10")]
    [InlineData(11, 2, 1)]
    [InlineData(12, 3, 2)]
    [InlineData(13, 4, 2)]
    [InlineData(12, 3, 2, "query")]
    [InlineData(13, 4, 2, "query")]
    [InlineData(12, 3, 2, "connection")]
    [InlineData(14, 3, 2, "query-storm")]
    public async Task Sixteen_callers_mixing_every_API_with_cancellations_never_cross_tenants_exceed_the_budget_or_lose_a_slot(int seed, int budget, int perTenant, string outsideKills = "none")
    {
        await using var server = await MariaDbServer.StartAsync(maxConnections: 40);
        await CreateTenantsAsync(server);
        await server.SetGlobalAsync("lock_wait_timeout", 2);
        await server.SetGlobalAsync("innodb_lock_wait_timeout", 2);
        var s = new Settings(seed, 6 + new Random(seed).Next(3), 16, budget, perTenant, Reset: true, TimeSpan.FromSeconds(8), Kills: outsideKills == "connection", Cancels: true, KillQuery: outsideKills != "none", KillStorm: outsideKills == "query-storm");
        var run = new Run(s);
        await RunSeedAsync(server, run);
        output.WriteLine($"seed {seed}: {s}: {run.Ops} operations, at most {run.MaxSeen} connections seen by the server");
        output.WriteLine(string.Join("; ", run.Outcomes.OrderByDescending(o => o.Value).Select(o => $"{o.Key} x{o.Value}")));
        foreach (var finding in run.Findings.Distinct().Take(10))
        {
            output.WriteLine(finding);
        }

        Assert.Empty(run.Findings.Distinct().Take(10));
    }

    private static async Task CreateTenantsAsync(MariaDbServer server)
    {
        await TenantLayout.CreateTenantsAsync(server, 0);
        var sql = new StringBuilder();
        for (var i = 0; i < MaxTenants; i++)
        {
            sql.AppendLine($"CREATE DATABASE IF NOT EXISTS {Db(i)};");
            sql.AppendLine($"CREATE TABLE IF NOT EXISTS {Db(i)}.marker (tenant VARCHAR(64) NOT NULL);");
            sql.AppendLine($"INSERT INTO {Db(i)}.marker (tenant) SELECT '{Key(i)}' FROM DUAL WHERE NOT EXISTS (SELECT 1 FROM {Db(i)}.marker);");
            sql.AppendLine($"CREATE TABLE IF NOT EXISTS {Db(i)}.items (id INT AUTO_INCREMENT PRIMARY KEY, owner VARCHAR(64) NOT NULL);");
            sql.AppendLine($"INSERT INTO {TenantLayout.MasterDatabase}.tenants (tenant_key, database_name) VALUES ('{Key(i)}', '{Db(i)}') ON DUPLICATE KEY UPDATE database_name = VALUES(database_name), is_active = 1;");
        }

        sql.AppendLine($"CREATE ROLE IF NOT EXISTS chaos_role; GRANT SELECT ON {TenantLayout.MasterDatabase}.* TO chaos_role; GRANT chaos_role TO '{MariaDbServer.AppUser}'@'%';");
        await server.ExecuteAsync(sql.ToString());
    }

    private async Task RunSeedAsync(MariaDbServer server, Run run)
    {
        var s = run.S;
        await server.WaitForAppConnectionsAsync();
        await server.ExecuteAsync(string.Concat(Enumerable.Range(0, MaxTenants).Select(i => $"DELETE FROM {Db(i)}.items;")));
        // A command timeout well under the test's 15 s for a hang: MariaDB does not answer a batch at all when a KILL QUERY
        // from outside lands between two of its statements (a helper's batch starts with the tenant's USE), and such a
        // call ends only when its command timeout gives up on it (see the README's "A statement whose answer never comes").
        var connectionString = new MySqlConnectionStringBuilder(server.GetAppConnectionString(MariaDbFixture.MasterDatabase)) { AllowUserVariables = true, DefaultCommandTimeout = 8 }.ConnectionString;
        var db = server.CreateTenantDatabase(o =>
        {
            o.MasterConnectionString = connectionString;
            o.MaxConnections = s.Budget;
            o.MaxConnectionsPerTenant = s.PerTenant;
            o.ResetSessionOnRelease = s.Reset;
            o.AcquireTimeout = TimeSpan.FromSeconds(3);
        });
        using var stop = new CancellationTokenSource(s.Duration);
        await using var monitorConnection = await server.OpenConnectionAsync();
        await using var admin = await server.OpenConnectionAsync();

        // The count of used connections holds the monitor's, the administrator's and the application's, none of the setup's.
        await monitorConnection.FlushStatusWhenSettledAsync(remaining: 2);
        var monitor = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var n = await monitorConnection.ExecuteScalarAsync<int>($"SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = '{MariaDbServer.AppUser}'");
                run.MaxSeen = Math.Max(run.MaxSeen, n);
                if (n > s.Budget)
                {
                    Interlocked.Increment(ref run.OverBudget);
                    var list = (await monitorConnection.QueryAsync<(long, string, long, string, string)>($"SELECT ID, COMMAND, CAST(TIME_MS AS SIGNED), COALESCE(STATE, ''), COALESCE(LEFT(INFO, 60), '') FROM information_schema.PROCESSLIST WHERE USER = '{MariaDbServer.AppUser}'")).AsList();
                    run.Finding($"the server sees {n} app connections, budget {s.Budget}: " + string.Join(" | ", list));
                }

                await Task.Delay(3);
            }
        });
        var chaos = Task.Run(async () =>
        {
            var random = new Random(s.Seed * 7919);
            while (!stop.IsCancellationRequested)
            {
                // A storm: a KILL QUERY every few milliseconds, landing on whatever the sessions are doing.
                await Task.Delay(s.KillStorm ? 1 + random.Next(8) : 30 + random.Next(200));
                var roll = s.KillStorm && random.Next(8) > 0 ? 4 : random.Next(10);
                try
                {
                    if ((roll < 4 && s.Kills) || (roll == 4 && s.KillQuery))
                    {
                        var ids = (await admin.QueryAsync<long>($"SELECT ID FROM information_schema.PROCESSLIST WHERE USER = '{MariaDbServer.AppUser}' ORDER BY ID")).AsList();
                        if (ids.Count > 0)
                        {
                            var id = ids[random.Next(ids.Count)];
                            if (roll == 4)
                            {
                                run.QueryKills.Enqueue((id, Stopwatch.GetTimestamp()));
                            }

                            await admin.ExecuteAsync($"KILL {(roll < 4 ? "CONNECTION" : "QUERY")} {id}");
                            run.Count(roll < 4 ? "chaos:kill-connection" : "chaos:kill-query");
                        }
                    }
                    else if (roll < 8)
                    {
                        db.InvalidateTenant(Key(random.Next(s.Tenants)));
                        run.Count("chaos:invalidate");
                    }
                }
                catch (MySqlException e) when (e.ErrorCode == MySqlErrorCode.NoSuchThread)
                {
                }
            }
        });

        var workers = Enumerable.Range(0, s.Workers).Select(w => Task.Run(async () =>
        {
            var random = new Random(s.Seed * 1000 + w);
            while (!stop.IsCancellationRequested)
            {
                var tenant = random.Next(s.Tenants);
                var op = random.Next(11);
                var opSeed = random.Next();
                var opTask = RunOpAsync(db, run, op, tenant, new Random(opSeed));
                var finished = await Task.WhenAny(opTask, Task.Delay(TimeSpan.FromSeconds(15)));
                Interlocked.Increment(ref run.Ops);
                if (finished != opTask)
                {
                    run.Finding($"op {op} on {Key(tenant)} still running after 15 s (hang)");
                    _ = opTask.ContinueWith(t => t.Exception, TaskScheduler.Default);
                    continue;
                }

                try
                {
                    await opTask;
                    run.Count($"op{op}:ok");
                }
                catch (Exception e)
                {
                    Classify(run, op, e);
                }
            }
        })).ToList();

        await Task.WhenAll(workers);
        await monitor;
        await chaos;

        // Settle: every lease back, the budget whole, and one helper per tenant answers.
        var settle = Stopwatch.StartNew();
        ConnectionBudgetSnapshot snapshot;
        while (true)
        {
            snapshot = db.GetBudgetSnapshot();
            if (snapshot is { InUse: 0, TenantsInUse: 0, Waiting: 0 } || settle.Elapsed > TimeSpan.FromSeconds(8))
            {
                break;
            }

            await Task.Delay(20);
        }

        if (snapshot is not { InUse: 0, TenantsInUse: 0, Waiting: 0 } || snapshot.Limit != s.Budget)
        {
            run.Finding($"after the run: Limit {snapshot.Limit} (budget {s.Budget}), Open {snapshot.Open}, InUse {snapshot.InUse}, TenantsInUse {snapshot.TenantsInUse}, Waiting {snapshot.Waiting}");
        }

        for (var i = 0; i < s.Tenants; i++)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                var row = (await db.QueryTenantAsync<CheckRow>(Key(i), CheckSql, cancellationToken: timeout.Token)).Single();
                CheckRowFor(run, "final", row, i, inTransactionAllowed: false, since: long.MaxValue);
            }
            catch (Exception e)
            {
                run.Finding($"final helper for {Key(i)} failed: {e.GetType().Name}: {e.Message}");
            }
        }

        var usedRow = await monitorConnection.QuerySingleAsync<(string, string)>("SHOW GLOBAL STATUS LIKE 'Max_used_connections'");
        var maxUsed = long.Parse(usedRow.Item2, CultureInfo.InvariantCulture);
        run.Count($"max_used_connections={maxUsed}");
        if (maxUsed > s.Budget + 2)
        {
            run.Finding($"Max_used_connections {maxUsed} > budget {s.Budget} + 2 admin");
        }

        var disposing = Stopwatch.StartNew();
        var dispose = db.DisposeAsync().AsTask();
        if (await Task.WhenAny(dispose, Task.Delay(TimeSpan.FromSeconds(10))) != dispose)
        {
            // How far past: the thread pool's state now, and when (if ever) it returns.
            var threads = $"thread pool: {ThreadPool.ThreadCount} threads, {ThreadPool.PendingWorkItemCount} items queued";
            await Task.WhenAny(dispose, Task.Delay(TimeSpan.FromSeconds(50)));
            run.Finding($"DisposeAsync did not return within 10 s ({threads}); " +
                (dispose.IsCompleted ? $"it returned after {disposing.Elapsed.TotalSeconds:F1} s" : "not within 60 s either"));
        }

        // Once the runtime has let go of every session: nothing a lease left open was committed by another holder, and no
        // session still holds a lock (reset on: nothing at all).
        if (s.Reset)
        {
            for (var i = 0; i < s.Tenants; i++)
            {
                long open;
                try
                {
                    open = await monitorConnection.ExecuteScalarAsync<long>($"SELECT COUNT(*) FROM {Db(i)}.items WHERE owner LIKE 'open by %'");
                }
                catch (MySqlException e) when (e.ErrorCode == MySqlErrorCode.LockWaitTimeout)
                {
                    var sessions = await monitorConnection.QueryAsync<(long, string, long, string)>($"SELECT ID, COMMAND, CAST(TIME_MS AS SIGNED), COALESCE(STATE, '') FROM information_schema.PROCESSLIST WHERE USER = '{MariaDbServer.AppUser}'");
                    run.Finding($"after the run a session still locks {Db(i)}.items: " + string.Join(" | ", sessions));
                    continue;
                }

                if (open > 0)
                {
                    run.Finding($"{open} rows left uncommitted in {Db(i)} were committed");
                }
            }
        }
    }

    private static void Classify(Run run, int op, Exception e)
    {
        var inner = e is AggregateException { InnerExceptions.Count: 1 } a ? a.InnerException! : e;
        var name = inner.GetType().Name;
        switch (inner)
        {
            case OperationCanceledException:
            case TenantConnectionFailedException:
            case ConnectionBudgetExhaustedException:
            case CommandTimeoutException:
            case ChaosException:
                run.Count($"op{op}:{name}");
                return;
            case MySqlException m when m.ErrorCode is MySqlErrorCode.LockWaitTimeout or MySqlErrorCode.LockDeadlock:
                run.Count($"op{op}:Mysql{(int)m.ErrorCode}");
                return;
            case MySqlException { ErrorCode: MySqlErrorCode.QueryInterrupted } when run.S.KillQuery:
                // A KILL QUERY from outside reaches the caller as the server's error, as it would with MySqlConnector alone.
                run.Count($"op{op}:Mysql1317");
                return;
            case MySqlException m when !run.S.Reset && (int)m.ErrorCode is 1399 or 1400 or 1100:
                // The tenant's own state, kept between its leases without a reset.
                run.Count($"op{op}:Mysql{(int)m.ErrorCode}");
                return;
            case MySqlException { InnerException: System.IO.EndOfStreamException } when op == 8 && run.S.Kills:
                // A KILL CONNECTION from outside while the caller streams rows: the rows already read are the caller's,
                // so the read that follows fails as it would with MySqlConnector alone.
                run.Count($"op{op}:killed-while-streaming");
                return;
            case MySqlException m when RawOp(op):
                // The caller's own use of the driver on a session the probe killed.
                run.Count($"op{op}:raw-Mysql{(int)m.ErrorCode}:{Short(m.Message)}");
                return;
            case InvalidOperationException when RawOp(op):
                run.Count($"op{op}:raw-IOE:{Short(inner.Message)}");
                return;
            case InvariantException:
                run.Finding($"op {op}: {inner.Message}");
                return;
            default:
                run.Finding($"op {op}: unexpected {name}: {Short(inner.Message)} {(inner.InnerException is { } ie ? "<- " + ie.GetType().Name + ": " + Short(ie.Message) : "")}\n{inner.StackTrace?.Split('\n').Take(6).Aggregate("", (x, y) => x + "\n    " + y.Trim())}");
                return;
        }
    }

    private static bool RawOp(int op) => op is 0 or 4 or 5 or 6 or 7;

    private static string Short(string message) => message.Length > 90 ? message[..90] : message;

    private sealed class InvariantException(string message) : Exception(message);

    /// <summary>
    /// Checks what a lease found on arrival. <paramref name="since"/> is when the operation started: a marker read as NULL
    /// on a session that a <c>KILL QUERY</c> from outside was sent to since then is the server's, not the runtime's.
    /// MariaDB answers a statement whose scalar subquery such a kill cuts short with the subquery's value as NULL and no
    /// error, up to one time in ten (see TenantTableLookup). An empty temporary table another tenant left in the
    /// database would read NULL too: this excuses only a check that such a kill may have reached, a few in a run.
    /// </summary>
    private static void CheckRowFor(Run run, string where, CheckRow row, int tenant, bool inTransactionAllowed, long since)
    {
        var me = Key(tenant);
        var problems = new List<string>();
        if (row.Db != Db(tenant))
        {
            problems.Add($"DATABASE() {row.Db}");
        }

        if (row.Marker != me && !(row.Marker is null && run.MarkerCutByKillQuery(row.Id, since)))
        {
            problems.Add($"marker {row.Marker}");
        }

        if (row.V is not null && row.V != me)
        {
            problems.Add($"@v {row.V}");
        }

        var ownKept = !run.S.Reset && row.V == me;
        if (!ownKept)
        {
            if (row.ModeClean != 1)
            {
                problems.Add("sql_mode");
            }

            if (row.CharsetClean != 1)
            {
                problems.Add("charset");
            }

            if (row.InTx != 0 && !inTransactionAllowed)
            {
                problems.Add("in transaction");
            }

            if (row.Role is not null)
            {
                problems.Add($"role {row.Role}");
            }

            if (!string.IsNullOrEmpty(row.Locks))
            {
                problems.Add($"locks {row.Locks}");
            }
        }
        else if (!string.IsNullOrEmpty(row.Locks) && row.Locks != me)
        {
            problems.Add($"locks {row.Locks}");
        }

        if (problems.Count > 0)
        {
            throw new InvariantException($"{where} for {me} (conn {row.Id}, reset {run.S.Reset}): {string.Join(", ", problems)}");
        }
    }

    private static string StateSql(Random random, int tenant, int tenants, bool allowXa)
    {
        var me = Key(tenant);
        var other = Db((tenant + 1 + random.Next(tenants - 1)) % tenants);
        var parts = new List<string> { $"SET @v = '{me}'" };
        if (random.Next(4) == 0)
        {
            parts.Add("SET ROLE chaos_role");
        }

        if (random.Next(3) == 0)
        {
            parts.Add("SET SESSION sql_mode = 'ANSI_QUOTES,PIPES_AS_CONCAT'");
        }

        if (random.Next(5) == 0)
        {
            parts.Add("SET NAMES latin1");
        }

        if (random.Next(3) == 0)
        {
            parts.Add($"DO GET_LOCK('{me}', 0)");
        }

        if (random.Next(3) == 0)
        {
            parts.Add($"CREATE TEMPORARY TABLE IF NOT EXISTS {other}.marker (tenant VARCHAR(64)); INSERT INTO {other}.marker VALUES ('planted by {me}')");
        }

        switch (random.Next(6))
        {
            case 0:
            case 1:
                parts.Add($"START TRANSACTION; INSERT INTO items (owner) VALUES ('open by {me}')");
                break;
            case 2 when allowXa:
                parts.Add($"XA START 'chaos-{me}-{random.Next(1000000)}'; INSERT INTO items (owner) VALUES ('open by {me}')");
                break;
            case 3:
                parts.Add("LOCK TABLES items WRITE, marker READ");
                break;
        }

        if (random.Next(3) == 0)
        {
            parts.Add($"DO SLEEP(0.0{random.Next(1, 5)})");
        }

        if (random.Next(3) == 0)
        {
            // Last: what follows in the lease runs on another tenant's database, as the code asked.
            parts.Add($"USE {other}");
        }

        return string.Join("; ", parts);
    }

    private static CancellationTokenSource? MaybeCancel(Run run, Random random)
    {
        if (!run.S.Cancels || random.Next(5) >= 2)
        {
            return null;
        }

        var cts = new CancellationTokenSource();
        var delay = random.Next(21);
        if (delay == 0)
        {
            cts.Cancel();
        }
        else
        {
            cts.CancelAfter(delay);
        }

        return cts;
    }

    private static async Task<CheckRow> Checked(Task<CheckRow> check)
    {
        try
        {
            return await check;
        }
        catch (MySqlException e) when ((int)e.ErrorCode is 1100 or 1146 or 1399 or 1400)
        {
            throw new InvariantException($"the check itself failed: {e.ErrorCode}: {e.Message}");
        }
    }

    private static async Task RunOpAsync(TenantDatabase db, Run run, int op, int tenant, Random random)
    {
        await Task.Yield();
        var started = Stopwatch.GetTimestamp();
        var key = Key(tenant);
        using var cts = MaybeCancel(run, random);
        var ct = cts?.Token ?? CancellationToken.None;
        var state = StateSql(random, tenant, run.S.Tenants, allowXa: true);
        switch (op)
        {
            case 0:
            {
                // A lease: check, shape the session, maybe leave something running.
                var lease = await db.GetConnectionAsync(key, ct);
                try
                {
                    var row = await Checked(lease.Connection.QuerySingleAsync<CheckRow>(new CommandDefinition(CheckSql, cancellationToken: lease.CancellationToken)));
                    CheckRowFor(run, "lease", row, tenant, false, started);
                    await lease.Connection.ExecuteAsync(new CommandDefinition(state, cancellationToken: random.Next(2) == 0 ? lease.CancellationToken : default));
                    switch (random.Next(4))
                    {
                        case 0:
                            var reader = await lease.Connection.ExecuteReaderAsync("SELECT seq FROM seq_1_to_200000");
                            await reader.ReadAsync();
                            break;
                        case 1:
                            var pending = lease.Connection.ExecuteAsync($"DO SLEEP(0.0{random.Next(1, 9)})");
                            _ = pending.ContinueWith(t => t.Exception, TaskScheduler.Default);
                            break;
                    }
                }
                finally
                {
                    if (random.Next(4) == 0)
                    {
                        lease.Dispose();
                    }
                    else
                    {
                        await lease.DisposeAsync();
                    }
                }

                break;
            }

            case 1:
            {
                var row = (await db.QueryTenantAsync<CheckRow>(key, CheckSql + "; " + state, cancellationToken: ct)).Single();
                CheckRowFor(run, "query helper+state", row, tenant, false, started);
                break;
            }

            case 2:
            {
                var row = (await db.QueryTenantAsync<CheckRow>(key, CheckSql, cancellationToken: ct)).Single();
                CheckRowFor(run, "query helper", row, tenant, false, started);
                var read = await db.ExecuteScalarTenantAsync<string>(key, "SELECT CONCAT(DATABASE(), '|', COALESCE((SELECT tenant FROM marker), '(null)'), '|', CONNECTION_ID())", cancellationToken: ct);
                var parts = read?.Split('|') ?? [];
                var cut = parts is [var database, "(null)", var id] && database == Db(tenant) && run.MarkerCutByKillQuery(long.Parse(id, CultureInfo.InvariantCulture), started);
                if (!cut && (parts is not [var database2, var marker, _] || database2 != Db(tenant) || marker != key))
                {
                    throw new InvariantException($"scalar helper for {key} read {read}");
                }

                break;
            }

            case 3:
                await db.ExecuteTenantAsync(key, state, cancellationToken: ct);
                break;
            case 4:
                await db.WithTenantConnectionAsync(key, async (connection, token) =>
                {
                    var row = await Checked(connection.QuerySingleAsync<CheckRow>(new CommandDefinition(CheckSql, cancellationToken: token)));
                    CheckRowFor(run, "WithTenantConnection", row, tenant, false, started);
                    await connection.ExecuteAsync(new CommandDefinition(state, cancellationToken: token));
                    if (random.Next(3) == 0)
                    {
                        throw new ChaosException();
                    }
                }, ct);
                break;
            case 5:
                await db.WithTenantTransactionAsync(key, async (connection, transaction, token) =>
                {
                    var row = await Checked(connection.QuerySingleAsync<CheckRow>(new CommandDefinition(CheckSql, transaction: transaction, cancellationToken: token)));
                    CheckRowFor(run, "WithTenantTransaction", row, tenant, true, started);
                    await connection.ExecuteAsync(new CommandDefinition($"INSERT INTO items (owner) VALUES ('committed by {key}'); DO SLEEP(0.0{random.Next(1, 5)})", transaction: transaction, cancellationToken: token));
                    if (random.Next(3) == 0)
                    {
                        throw new ChaosException();
                    }
                }, cancellationToken: ct);
                break;
            case 6:
            case 7:
            {
                // EF-style: open, close, open again on one TenantDbConnection.
                await using var connection = db.ForTenant(key).CreateConnection();
                for (var round = 0; round < 2; round++)
                {
                    await connection.OpenAsync(ct);
                    var row = await Checked(connection.QuerySingleAsync<CheckRow>(new CommandDefinition(CheckSql, cancellationToken: ct)));
                    CheckRowFor(run, $"data source open {round}", row, tenant, false, started);
                    await connection.ExecuteAsync(new CommandDefinition(StateSql(random, tenant, run.S.Tenants, allowXa: true), cancellationToken: ct));
                    if (random.Next(3) == 0)
                    {
                        var reader = await connection.ExecuteReaderAsync("SELECT seq FROM seq_1_to_200000");
                        await reader.ReadAsync();
                    }

                    await connection.CloseAsync();
                }

                break;
            }

            case 8:
            {
                var n = 0;
                await foreach (var _ in db.QueryTenantUnbufferedAsync<long>(key, "SELECT seq FROM seq_1_to_200000", cancellationToken: ct))
                {
                    if (++n > random.Next(1, 50))
                    {
                        break;
                    }
                }

                break;
            }

            case 9:
                await db.ExecuteScalarTenantAsync<long>(key, $"SELECT SLEEP(0.{random.Next(1, 4)})", null, new CommandOptions { Timeout = TimeSpan.FromMilliseconds(10 + random.Next(150)) }, ct);
                break;
            default:
                await db.ExecuteScalarMasterAsync<long>("SELECT COUNT(*) FROM tenants", cancellationToken: ct);
                break;
        }
    }
}
