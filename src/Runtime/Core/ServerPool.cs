using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using MySqlConnector;

namespace TenantDbGuard.Core;

/// <summary>
/// The physical connections to one server, shared by every tenant database on it, and what the runtime knows about
/// the server's sessions. Counts and the idle list are guarded by the broker's lock.
/// </summary>
internal sealed class ServerPool
{
    private const int AffinityScan = 16;
    private readonly List<PhysicalConnection> _idle = new();
    private readonly MySqlConnectionStringBuilder _connectionSettings;
    private readonly string _connectionString;
    private readonly bool _resetOnRelease;
    private readonly object _profileGate = new();
    private Task<SessionProfile>? _profile;

    /// <summary>Creates the pool of one server from the master connection string's credentials and settings.</summary>
    public ServerPool(string key, MySqlConnectionStringBuilder master, string host, uint port, bool resetOnRelease, DataSourceSettings settings, TimeSpan? coordinateOpens = null)
    {
        Key = key;
        Host = host;
        Port = port;
        Settings = settings;
        _resetOnRelease = resetOnRelease;
        _connectionSettings = new MySqlConnectionStringBuilder(master.ConnectionString)
        {
            Server = host,
            Port = port,
            Database = string.Empty,

            // One MySqlConnector pool per physical connection, holding just it: a lease opens a new MySqlConnection
            // object over the session without a round trip (see PhysicalConnection).
            Pooling = true,
            MinimumPoolSize = 0,
            MaximumPoolSize = 1,
            ConnectionIdleTimeout = 0,
            ConnectionLifeTime = 0,
            DnsCheckInterval = 0,

            // The runtime resets the session when a lease ends, not MySqlConnector when one begins.
            ConnectionReset = false,

            // A statement prepared on the server stays in the session, which the next tenant gets; and MySqlConnector's
            // client-side cache of prepared statements survives a reset that the server's statements do not.
            IgnorePrepare = true,

            // A command timeout closes the socket instead of opening a connection outside the budget to send KILL QUERY;
            // the runtime kills the statement itself, within the budget.
            CancellationTimeout = -1,

            // A lease never joins an ambient TransactionScope: MySqlConnector would keep the session for the transaction
            // after the lease ends.
            AutoEnlist = false,
        };
        _connectionString = _connectionSettings.ConnectionString;
        if (coordinateOpens is { } answerTimeout)
        {
            // A session kept open for as long as the runtime runs, outside any pool.
            var coordination = new MySqlConnectionStringBuilder(_connectionString) { Pooling = false }.ConnectionString;
            Coordinator = new OpenCoordinator(Settings.CreateBuilder(coordination).Build(), answerTimeout);
        }
    }

    /// <summary>Opens new connections in agreement with the other processes on the server; null when that is switched off.</summary>
    public OpenCoordinator? Coordinator { get; }

    public string Key { get; }

    /// <summary>The server's name as the rows (or the master connection string) give it.</summary>
    public string Host { get; }

    public uint Port { get; }

    /// <summary>
    /// What the server said it is (see <c>TenantDatabase.ReadServerIdentityAsync</c>), once asked: two pools whose
    /// servers say the same are one server named two ways. Null until asked.
    /// </summary>
    public string? Identity { get; set; }

    /// <summary>What the application's <see cref="TenantDatabaseBuilder"/> gives every data source and session.</summary>
    public DataSourceSettings Settings { get; }

    /// <summary>Physical connections open or being opened, and room held for a cancellation.</summary>
    public int Open { get; set; }

    public int IdleCount => _idle.Count;

    public long LastUsedTicks { get; set; }

    /// <summary>A MySqlConnector pool for one physical connection, whose open callback is <paramref name="guard"/>.</summary>
    public MySqlDataSource CreateDataSource(MySqlConnectionOpenedCallback guard) =>
        Settings.CreateBuilder(_connectionString).UseConnectionOpenedCallback(guard).Build();

    /// <summary>The connection string a lease's connection object carries: the pool's, naming the lease's database.</summary>
    public string LeaseConnectionString(string database) =>
        new MySqlConnectionStringBuilder(_connectionString) { Database = database }.ConnectionString;

    public void PushIdle(PhysicalConnection connection) => _idle.Add(connection);

    /// <summary>
    /// Takes an idle connection for <paramref name="target"/>: one that still holds the target tenant's session (its
    /// reset was skipped) first, else a clean one, preferring one last on the target's database and the most recently
    /// used; a connection that holds another tenant's session only when nothing else is idle.
    /// </summary>
    public bool TryPopIdle(TenantTarget target, out PhysicalConnection connection)
    {
        var count = _idle.Count;
        if (count == 0)
        {
            connection = null!;
            return false;
        }

        var best = -1;
        var bestRank = int.MaxValue;
        for (var i = count - 1; i >= 0 && i >= count - AffinityScan; i--)
        {
            var candidate = _idle[i];
            var rank = candidate.DirtyTenantKey is { } dirty
                ? string.Equals(dirty, target.Key, StringComparison.Ordinal) ? 0 : 3
                : string.Equals(candidate.LastDatabase, target.DatabaseName, StringComparison.Ordinal) ? 1 : 2;
            if (rank < bestRank)
            {
                (best, bestRank) = (i, rank);
                if (rank == 0)
                {
                    break;
                }
            }
        }

        connection = _idle[best];
        _idle.RemoveAt(best);
        return true;
    }

    /// <summary>Takes the most recently used idle connection, whatever it holds (for the runtime's own statements).</summary>
    public bool TryPopAnyIdle(out PhysicalConnection connection)
    {
        if (_idle.Count == 0)
        {
            connection = null!;
            return false;
        }

        connection = _idle[^1];
        _idle.RemoveAt(_idle.Count - 1);
        return true;
    }

    /// <summary>The connection that has been idle longest, or null.</summary>
    public PhysicalConnection? PeekOldestIdle() => _idle.Count > 0 ? _idle[0] : null;

    /// <summary>Removes the idle connections chosen by <paramref name="remove"/> and returns them, to be closed outside the lock.</summary>
    public List<PhysicalConnection> RemoveIdle(Func<PhysicalConnection, bool> remove)
    {
        var removed = new List<PhysicalConnection>();
        for (var i = _idle.Count - 1; i >= 0; i--)
        {
            if (remove(_idle[i]))
            {
                removed.Add(_idle[i]);
                _idle.RemoveAt(i);
            }
        }

        return removed;
    }

    /// <summary>
    /// What the statement batch that starts a lease must restore besides the database, learnt once per server on the
    /// first connection (after MySqlConnector's own set-up): schema tracking, which the reset turns back on when the
    /// server has it on, and the character set, when the server's defaults (which the reset restores) are not the
    /// ones MySqlConnector uses. The reading gets <paramref name="answerTimeout"/> to answer (see
    /// <see cref="AnswerDeadline"/>): past it, <paramref name="fresh"/>'s session is ended and every caller waiting for
    /// the profile gets <see cref="TimeoutException"/>; the next call reads it again.
    /// </summary>
    public Task<SessionProfile> GetProfileAsync(MySqlConnection fresh, TimeSpan answerTimeout)
    {
        var profile = Volatile.Read(ref _profile);
        if (profile is { IsCompletedSuccessfully: true })
        {
            return profile;
        }

        lock (_profileGate)
        {
            if (_profile is null || _profile.IsFaulted || _profile.IsCanceled)
            {
                _profile = AnswerDeadline.WithinAsync(fresh, SessionProfile.ReadAsync(fresh, _resetOnRelease), answerTimeout);
            }

            return _profile;
        }
    }
}

/// <summary>Where a lease goes: a tenant's (or the master's) database on a server, and the cap on its leases.</summary>
internal sealed class TenantTarget
{
    private readonly string _use;
    private LeaseStart? _start;

    public TenantTarget(string key, string databaseName, ServerPool server, int cap, ConnectionBudgetKind capKind)
    {
        Key = key;
        DatabaseName = databaseName;
        Server = server;
        Cap = cap;
        CapKind = capKind;
        LeaseConnectionString = server.LeaseConnectionString(databaseName);
        _use = "USE `" + databaseName.Replace("`", "``", StringComparison.Ordinal) + "`";
    }

    /// <summary>The tenant's identity: the key of its row in the tenants table (or <c>(master)</c>).</summary>
    public string Key { get; }

    public string DatabaseName { get; }

    public ServerPool Server { get; }

    public int Cap { get; }

    public ConnectionBudgetKind CapKind { get; }

    /// <summary>The settings of the lease's connection object: the server's, naming this database.</summary>
    public string LeaseConnectionString { get; }

    /// <summary>The statements that start a lease: restore what the reset changed and select the database.</summary>
    public LeaseStart Start(SessionProfile profile)
    {
        // A server has one profile for the life of the runtime: the statements are built once per target.
        var cached = _start;
        if (cached is not null && ReferenceEquals(cached.Profile, profile))
        {
            return cached;
        }

        var built = new LeaseStart(profile, string.Concat(profile.Prefix, _use));
        _start = built;
        return built;
    }

    /// <summary>Where the tenants table said the target is; see <see cref="TenantDatabase"/>'s target cache.</summary>
    public TenantInfo? Source { get; set; }
}

/// <summary>The statements that start a lease of one target, on a server of <see cref="Profile"/>.</summary>
internal sealed class LeaseStart
{
    public LeaseStart(SessionProfile profile, string sql)
    {
        Profile = profile;
        Alone = profile.ClearProfiles.Length == 0
            ? sql + ";" + SessionProfile.ClearFoundRows
            : sql + ";" + SessionProfile.ClearFoundRows + ";" + profile.ClearProfiles;
        Leading = new LeadingStatement(sql + ";");
    }

    public SessionProfile Profile { get; }

    /// <summary>The lease's own batch: the statements, <c>FOUND_ROWS()</c> set to 0 and the profiling history emptied
    /// (which the reset keeps).</summary>
    public string Alone { get; }

    /// <summary>The statements in front of a helper's own batch.</summary>
    public LeadingStatement Leading { get; }
}

/// <summary>
/// A statement that goes in front of a helper's SQL, in one batch. A helper runs the same SQL again and again: the batch
/// of the last SQL is kept, so that it is not built again for each query. Only a short one: the target lives as long as
/// the runtime, and a large text (a bulk insert written out) kept per tenant would add up over thousands of tenants.
/// </summary>
internal sealed class LeadingStatement(string text)
{
    /// <summary>The longest SQL (in characters) whose batch is kept.</summary>
    internal const int MaxKeptLength = 2048;

    private Batch? _last;

    public string Text { get; } = text;

    /// <summary>This statement followed by <paramref name="sql"/>.</summary>
    public string Before(string sql)
    {
        var last = Volatile.Read(ref _last);
        if (last is not null && string.Equals(last.Sql, sql, StringComparison.Ordinal))
        {
            return last.Text;
        }

        var text = string.Concat(Text, sql);
        if (sql.Length <= MaxKeptLength)
        {
            Volatile.Write(ref _last, new Batch(sql, text));
        }

        return text;
    }

    private sealed record Batch(string Sql, string Text);
}

/// <summary>What a server's sessions need restored when a lease starts; see <see cref="ServerPool.GetProfileAsync"/>.</summary>
internal sealed class SessionProfile
{
    /// <summary>A statement that sets what <c>FOUND_ROWS()</c> reports to 0 (any <c>SELECT</c> sets it; this one returns no row).</summary>
    public const string ClearFoundRows = "SELECT 0 FROM DUAL WHERE 0";

    private SessionProfile(string prefix, string scrub, string clearProfiles, bool roleMayChange)
    {
        Prefix = prefix;
        Scrub = scrub;
        ClearProfiles = clearProfiles;
        RoleMayChange = roleMayChange;
    }

    /// <summary>What the batch starts with, before the <c>USE</c>: whole statements (each ending in ';'), then
    /// possibly a <c>SET STATEMENT ... FOR</c> that applies to the <c>USE</c> alone.</summary>
    public string Prefix { get; }

    /// <summary>
    /// The batch sent before a reset after a lease that may have left what the server's reset (<c>COM_RESET_CONNECTION</c>)
    /// leaves as it was (see <see cref="KeptState"/>):
    /// an XA transaction (its <c>ROLLBACK</c> fails with <c>XAER_RMFAIL</c>, and the session is closed instead: MariaDB's
    /// reset detaches a prepared one but leaves the session unable to use InnoDB), the current role (put back to the
    /// one the session opened with), the count <c>FOUND_ROWS()</c> reports and the profiling history (emptied).
    /// </summary>
    public string Scrub { get; }

    /// <summary>
    /// Statements (separated by ';', none after the last) that empty the profiling history and leave profiling as a
    /// reset session has it: in the batch of a lease's own <c>USE</c>, so that code that reads the history
    /// (<c>SHOW PROFILES</c>) never reads another lease's statements, whatever turned profiling on (a trigger or stored
    /// function may). Empty where the server has no profiling.
    /// </summary>
    public string ClearProfiles { get; }

    /// <summary>
    /// Whether the account can make a role current (MariaDB lists one in <c>information_schema.APPLICABLE_ROLES</c>):
    /// then any statement may have done so (a trigger or a stored function the account defined runs <c>SET ROLE</c>
    /// unseen, and the server's reset keeps the role), and every lease is scrubbed before its reset.
    /// </summary>
    public bool RoleMayChange { get; }

    public static async Task<SessionProfile> ReadAsync(MySqlConnection connection, bool resetOnRelease)
    {
        var prefix = string.Empty;
        var forUse = string.Empty;
        string? tracking;
        try
        {
            var command = new MySqlCommand("SELECT @@global.session_track_schema", connection);
            await using var disposeCommand = command.ConfigureAwait(false);
            tracking = Convert.ToString(await command.ExecuteScalarAsync(CancellationToken.None).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (MySqlException exception) when (exception.ErrorCode == MySqlErrorCode.UnknownSystemVariable)
        {
            tracking = null;
        }

        // Without a reset between leases of one tenant, its code may have turned tracking on; turn it off every time.
        // MariaDB can turn it off for the USE alone, which saves the batch a statement (and the client a wake-up);
        // elsewhere it stays off for the lease.
        if (tracking is not null && (!resetOnRelease || !string.Equals(tracking, "0", StringComparison.Ordinal) && !string.Equals(tracking, "OFF", StringComparison.OrdinalIgnoreCase)))
        {
            try
            {
                var command = new MySqlCommand("SET STATEMENT session_track_schema=OFF FOR DO 0", connection);
                await using var disposeCommand = command.ConfigureAwait(false);
                await command.ExecuteNonQueryAsync(CancellationToken.None).ConfigureAwait(false);
                forUse = "SET STATEMENT session_track_schema=OFF FOR ";
            }
            catch (MySqlException)
            {
                prefix += "SET SESSION session_track_schema=OFF;";
            }
        }

        var charsets = new MySqlCommand(
            "SELECT @@character_set_client, @@character_set_connection, @@character_set_results, @@collation_connection, " +
            "@@global.character_set_client, @@global.character_set_connection, @@global.character_set_results, @@global.collation_connection",
            connection);
        await using (charsets.ConfigureAwait(false))
        {
            var reader = await charsets.ExecuteReaderAsync(CancellationToken.None).ConfigureAwait(false);
            await using var disposeReader = reader.ConfigureAwait(false);
            await reader.ReadAsync(CancellationToken.None).ConfigureAwait(false);
            var session = new[] { reader.GetValue(0), reader.GetValue(1), reader.GetValue(2), reader.GetValue(3) };
            var global = new[] { reader.GetValue(4), reader.GetValue(5), reader.GetValue(6), reader.GetValue(7) };
            if (!resetOnRelease || !Same(session, global))
            {
                prefix += $"SET NAMES {session[1]} COLLATE {session[3]};";
            }
        }

        var (scrub, clearProfiles, roleMayChange) = await ReadScrubAsync(connection).ConfigureAwait(false);
        return new SessionProfile(prefix + forUse, scrub, clearProfiles, roleMayChange);

        static async Task<(string Scrub, string ClearProfiles, bool RoleMayChange)> ReadScrubAsync(MySqlConnection connection)
        {
            var scrub = "ROLLBACK;";
            var roleMayChange = false;
            if (connection.ServerVersion.Contains("MariaDB", StringComparison.OrdinalIgnoreCase))
            {
                // The session is new: its role is the user's default one, if any.
                var role = await TryReadAsync(connection, "SELECT CURRENT_ROLE()").ConfigureAwait(false);
                if (role.Supported)
                {
                    scrub += role.Value is string name ? "SET ROLE `" + name.Replace("`", "``", StringComparison.Ordinal) + "`;" : "SET ROLE NONE;";

                    // SET ROLE names a role granted to the account (directly or through another role); with none
                    // there is nothing to make current, whatever runs.
                    var applicable = await TryReadAsync(connection, "SELECT COUNT(*) FROM information_schema.APPLICABLE_ROLES").ConfigureAwait(false);
                    roleMayChange = !applicable.Supported || Convert.ToInt64(applicable.Value ?? 0L, System.Globalization.CultureInfo.InvariantCulture) > 0;
                }
            }

            scrub += ClearFoundRows + ";";
            var clearProfiles = string.Empty;
            // Only where the session may set both (a scrub that fails closes the session it was for).
            if ((await TryReadAsync(connection, "SET profiling = @@profiling, profiling_history_size = @@profiling_history_size").ConfigureAwait(false)).Supported)
            {
                // The next statement is profiled and the history cut to its new size, none, and the last profile goes
                // with profiling off (information_schema.PROFILING shows it); the reset restores both settings, and
                // the lease's own batch puts back the size a reset session has.
                scrub += "SET profiling = 1, profiling_history_size = 0;DO 0;SET profiling = 0;";
                clearProfiles = "SET profiling = 1, profiling_history_size = 0;DO 0;SET profiling = 0, profiling_history_size = @@global.profiling_history_size";
            }

            return (scrub, clearProfiles, roleMayChange);
        }

        static async Task<(bool Supported, object? Value)> TryReadAsync(MySqlConnection connection, string sql)
        {
            try
            {
                var command = new MySqlCommand(sql, connection);
                await using var disposeCommand = command.ConfigureAwait(false);
                var value = await command.ExecuteScalarAsync(CancellationToken.None).ConfigureAwait(false);
                return (true, value is DBNull ? null : value);
            }
            catch (MySqlException exception) when (exception.ErrorCode is MySqlErrorCode.ParseError or MySqlErrorCode.StoredProcedureDoesNotExist
                or MySqlErrorCode.FunctionNotDefined or MySqlErrorCode.UnknownSystemVariable or MySqlErrorCode.IncorrectGlobalLocalVariable
                or MySqlErrorCode.NotSupportedYet)
            {
                // The server lacks it. Any other error (the session lost, the statement killed, a resource limit) says
                // nothing of that: it fails the reading, which the next lease does again, so that the profile never goes
                // without what this session could not read (a role never put back would reach the next tenant).
                return (false, null);
            }
        }

        static bool Same(object[] session, object[] global)
        {
            for (var i = 0; i < session.Length; i++)
            {
                if (!string.Equals(Convert.ToString(session[i], System.Globalization.CultureInfo.InvariantCulture), Convert.ToString(global[i], System.Globalization.CultureInfo.InvariantCulture), StringComparison.OrdinalIgnoreCase))
                {
                    return false;
                }
            }

            return true;
        }
    }
}
