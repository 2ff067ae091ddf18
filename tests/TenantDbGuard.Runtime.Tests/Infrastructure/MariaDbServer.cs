using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;
using MySqlConnector;

namespace TenantDbGuard.Runtime.Tests.Infrastructure;

/// <summary>
/// A throwaway MariaDB server: its own data folder, its own free TCP port on 127.0.0.1, started
/// from the installed <c>mariadbd</c> with <c>--no-defaults</c>, so neither <c>/etc/mysql</c> nor a
/// system-wide service has any say in it.
/// </summary>
/// <remarks>
/// <para>
/// The data lives in <c>/dev/shm</c> when it has room, else in the temp folder: DDL on a disk waits
/// for fsync (300 tenant databases take ~9 s on disk, under 1 s in memory). <c>mariadb-install-db</c>
/// runs once per machine and MariaDB version; every server starts from a copy of that template.
/// </para>
/// <para>
/// Two accounts exist: <c>root</c> without a password (<see cref="ConnectionString"/>, for set-up and
/// inspection) and <see cref="AppUser"/>, which has every privilege on every database but no global
/// ones (<see cref="GetAppConnectionString"/>, for the code under test). The difference matters:
/// MariaDB keeps one connection beyond <c>max_connections</c> for accounts with CONNECTION ADMIN,
/// so only the application account sees error 1040 at exactly <see cref="MaxConnections"/>.
/// </para>
/// </remarks>
public sealed class MariaDbServer : IAsyncDisposable
{
    /// <summary>The account the code under test connects as.</summary>
    public const string AppUser = "tdg_app";

    /// <summary>The password of <see cref="AppUser"/>.</summary>
    public const string AppPassword = "tdg_app_password";

    /// <summary>The lowest <c>max_connections</c> MariaDB accepts; it silently raises smaller values.</summary>
    public const int MinimumMaxConnections = 10;

    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(30);
    private static readonly string BaseDirectory = ChooseBaseDirectory();
    private static readonly Lazy<Task<string>> TemplateDataDirectory = new(CreateTemplateDataDirectoryAsync);
    private static readonly List<MariaDbServer> Running = [];

    private readonly string _root;
    private readonly string _dataDirectory;
    private readonly string _errorLog;
    private readonly StringBuilder _output = new();
    private readonly IReadOnlyList<string> _extraArguments;
    private Process? _process;

    static MariaDbServer() => AppDomain.CurrentDomain.ProcessExit += (_, _) => KillAll();

    private MariaDbServer(string root, int maxConnections, IReadOnlyList<string> extraArguments)
    {
        _extraArguments = extraArguments;
        _root = root;
        _dataDirectory = Path.Combine(root, "data");
        _errorLog = Path.Combine(root, "mariadbd.err");
        MaxConnections = maxConnections;
    }

    /// <summary>The TCP port on 127.0.0.1; it stays the same across <see cref="RestartAsync"/>.</summary>
    public int Port { get; private set; }

    /// <summary>The <c>--max-connections</c> the server was started with (a <c>SET GLOBAL</c> lasts until the next restart).</summary>
    public int MaxConnections { get; }

    /// <summary>The folder that holds the data folder, the socket, the pid file and the error log.</summary>
    public string RootDirectory => _root;

    /// <summary>
    /// The CPU time the server process has used so far (user and system, from <c>/proc</c>; zero where that cannot be
    /// read), for benchmarks that split the cost of a query between the client and the server.
    /// </summary>
    public TimeSpan ProcessorTime
    {
        get
        {
            try
            {
                return _process is { HasExited: false } process ? process.TotalProcessorTime : TimeSpan.Zero;
            }
            catch (InvalidOperationException)
            {
                return TimeSpan.Zero;
            }
        }
    }

    /// <summary>Root, no database, no pooling: for set-up and inspection, not for the code under test.</summary>
    public string ConnectionString => new MySqlConnectionStringBuilder
    {
        Server = "127.0.0.1",
        Port = (uint)Port,
        UserID = "root",
        Pooling = false,
        SslMode = MySqlSslMode.None,
        ConnectionTimeout = 5,
    }.ConnectionString;

    /// <summary>
    /// Starts a server with an empty data folder and waits until it accepts connections.
    /// </summary>
    /// <param name="maxConnections">The server's <c>max_connections</c>; MariaDB's default is 151.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    public static Task<MariaDbServer> StartAsync(int maxConnections = 151, CancellationToken cancellationToken = default) =>
        StartAsync(maxConnections, [], cancellationToken);

    /// <summary>
    /// Starts a server with an empty data folder and more <c>mariadbd</c> options (kept across
    /// <see cref="RestartAsync"/>), and waits until it accepts connections.
    /// </summary>
    /// <param name="maxConnections">The server's <c>max_connections</c>; MariaDB's default is 151.</param>
    /// <param name="extraArguments">Options added to the command line, such as <c>--ssl-cert=...</c>.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    public static async Task<MariaDbServer> StartAsync(int maxConnections, IReadOnlyList<string> extraArguments, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxConnections, MinimumMaxConnections);
        ArgumentNullException.ThrowIfNull(extraArguments);

        var template = await TemplateDataDirectory.Value.ConfigureAwait(false);
        var server = new MariaDbServer(CreateDirectory("tdg-mariadb-"), maxConnections, [.. extraArguments]);
        try
        {
            CopyDirectory(template, server._dataDirectory);

            // The port is free when picked but may be taken before mariadbd binds it: pick again then.
            for (var attempt = 1; ; attempt++)
            {
                server.Port = FindFreePort();
                try
                {
                    await server.StartProcessAsync(cancellationToken).ConfigureAwait(false);
                    break;
                }
                catch (MariaDbStartException ex) when (attempt < 3 && ex.PortInUse)
                {
                }
            }

            await server.CheckMaxConnectionsAsync(cancellationToken).ConfigureAwait(false);
            await server.ExecuteAsync(
                $"""
                CREATE USER '{AppUser}'@'%' IDENTIFIED BY '{AppPassword}';
                GRANT ALL PRIVILEGES ON `%`.* TO '{AppUser}'@'%';
                """).ConfigureAwait(false);
            return server;
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>A connection string for <see cref="AppUser"/>, with MySqlConnector's default pooling.</summary>
    /// <param name="database">The default database, or <see langword="null"/> for none.</param>
    public string GetAppConnectionString(string? database = null) => new MySqlConnectionStringBuilder
    {
        Server = "127.0.0.1",
        Port = (uint)Port,
        UserID = AppUser,
        Password = AppPassword,
        Database = database ?? string.Empty,
        SslMode = MySqlSslMode.None,
    }.ConnectionString;

    /// <summary>Opens a root connection (no pooling); the caller disposes it.</summary>
    /// <remarks>
    /// Root gets in even when the application holds every connection, but MariaDB reserves only one
    /// extra connection for it, and a closed connection leaves the server a moment after the client
    /// lets go of it; so a refusal with error 1040 is retried for a little while.
    /// </remarks>
    /// <param name="database">The default database, or <see langword="null"/> for none.</param>
    /// <param name="cancellationToken">Cancels the open.</param>
    public async Task<MySqlConnection> OpenConnectionAsync(string? database = null, CancellationToken cancellationToken = default)
    {
        var builder = new MySqlConnectionStringBuilder(ConnectionString) { Database = database ?? string.Empty };
        for (var attempt = 1; ; attempt++)
        {
            var connection = new MySqlConnection(builder.ConnectionString);
            try
            {
                await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
                return connection;
            }
            catch (MySqlException ex) when (ex.ErrorCode == MySqlErrorCode.ConnectionCountError && attempt < 40)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
                await Task.Delay(50, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                await connection.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }
    }

    /// <summary>Runs one or more statements as root and returns the rows they affected.</summary>
    public async Task<int> ExecuteAsync(string sql, string? database = null, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(database, cancellationToken).ConfigureAwait(false);
        await using var command = new MySqlCommand(sql, connection) { CommandTimeout = 120 };
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Creates an empty database.</summary>
    public Task CreateDatabaseAsync(string name, CancellationToken cancellationToken = default) =>
        ExecuteAsync($"CREATE DATABASE {QuoteIdentifier(name)}", cancellationToken: cancellationToken);

    /// <summary>
    /// Reads a global status counter such as <c>Max_used_connections</c> or <c>Threads_connected</c>.
    /// The root connection that asks is one of the <c>Threads_connected</c>.
    /// </summary>
    public async Task<long> GetStatusAsync(string name, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        await using var command = new MySqlCommand("SHOW GLOBAL STATUS LIKE @name", connection);
        command.Parameters.AddWithValue("@name", name);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            throw new ArgumentException($"MariaDB has no global status variable '{name}'.", nameof(name));
        }

        return long.Parse(reader.GetString(1), CultureInfo.InvariantCulture);
    }

    /// <summary>Counts the connections an account holds right now (from the process list).</summary>
    public async Task<int> CountConnectionsAsync(string user = AppUser, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        await using var command = new MySqlCommand("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = @user", connection);
        command.Parameters.AddWithValue("@user", user);
        return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// The sessions an account holds right now, one line each (id, command, state, milliseconds in it, the start of its
    /// statement): what a test shows when the server lists more of them than it should.
    /// </summary>
    public async Task<IReadOnlyList<string>> ListSessionsAsync(string user = AppUser, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        await using var command = new MySqlCommand(
            "SELECT CONCAT_WS(' ', ID, COMMAND, IFNULL(STATE, '-'), CONCAT(ROUND(TIME_MS), ' ms'), IFNULL(LEFT(INFO, 40), '-')) FROM information_schema.PROCESSLIST WHERE USER = @user ORDER BY ID",
            connection);
        command.Parameters.AddWithValue("@user", user);
        var sessions = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            sessions.Add(reader.GetString(0));
        }

        return sessions;
    }

    /// <summary>How many statements whose text contains <paramref name="fragment"/> the server runs right now, for any account (the asking one left out).</summary>
    public async Task<int> CountRunningAsync(string fragment, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        await using var command = new MySqlCommand("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND INFO LIKE CONCAT('%', @fragment, '%')", connection);
        command.Parameters.AddWithValue("@fragment", fragment);
        return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture);
    }

    /// <summary>Sets a global system variable until the next restart, e.g. <c>SetGlobalAsync("max_connections", 20)</c>.</summary>
    public Task SetGlobalAsync(string name, object value, CancellationToken cancellationToken = default)
    {
        if (!Regex.IsMatch(name, "^[A-Za-z_][A-Za-z0-9_]*$"))
        {
            throw new ArgumentException($"'{name}' is not a system variable name.", nameof(name));
        }

        var literal = value switch
        {
            string text => $"'{text.Replace("\\", "\\\\").Replace("'", "''")}'",
            bool flag => flag ? "ON" : "OFF",
            IFormattable number => number.ToString(null, CultureInfo.InvariantCulture),
            _ => throw new ArgumentException($"Cannot write a {value.GetType().Name} as a system variable value.", nameof(value)),
        };
        return ExecuteAsync($"SET GLOBAL {name} = {literal}", cancellationToken: cancellationToken);
    }

    /// <summary>Resets the status counters; <c>Max_used_connections</c> falls back to the connections open now.</summary>
    public Task FlushStatusAsync(CancellationToken cancellationToken = default) =>
        ExecuteAsync("FLUSH STATUS", cancellationToken: cancellationToken);

    /// <summary>
    /// Stops the server (every client connection breaks) and starts it again on the same port and
    /// data folder. Global variables set with <see cref="SetGlobalAsync"/> are lost; data is kept.
    /// </summary>
    public async Task RestartAsync(CancellationToken cancellationToken = default)
    {
        await StopAsync().ConfigureAwait(false);
        await StartProcessAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stops the server and deletes its folder.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        DeleteDirectory(_root);
    }

    /// <summary>Quotes a database, table or column name with backticks.</summary>
    public static string QuoteIdentifier(string name) => $"`{name.Replace("`", "``")}`";

    private async Task StartProcessAsync(CancellationToken cancellationToken)
    {
        var startInfo = new ProcessStartInfo(Binaries.Server)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in ServerArguments(_dataDirectory))
        {
            startInfo.ArgumentList.Add(argument);
        }

        startInfo.ArgumentList.Add($"--port={Port}");
        startInfo.ArgumentList.Add("--bind-address=127.0.0.1");
        startInfo.ArgumentList.Add($"--socket={Path.Combine(_root, "mariadbd.sock")}");
        startInfo.ArgumentList.Add($"--pid-file={Path.Combine(_root, "mariadbd.pid")}");
        // Internal temporary tables go to the server's own folder, not the machine's /tmp, where a cleanup by anything
        // else on the machine would fail a statement in the middle of a test ("Error on delete of '/tmp/#sql-...'").
        var temporary = Directory.CreateDirectory(Path.Combine(_root, "tmp")).FullName;
        startInfo.ArgumentList.Add($"--tmpdir={temporary}");
        startInfo.ArgumentList.Add($"--log-error={_errorLog}");
        startInfo.ArgumentList.Add($"--max-connections={MaxConnections}");
        foreach (var argument in _extraArguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        var logLength = File.Exists(_errorLog) ? new FileInfo(_errorLog).Length : 0;
        var process = new Process { StartInfo = startInfo };
        process.OutputDataReceived += (_, e) => AppendOutput(e.Data);
        process.ErrorDataReceived += (_, e) => AppendOutput(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
        lock (Running)
        {
            Running.Add(this);
        }

        await WaitUntilReadyAsync(process, logLength, cancellationToken).ConfigureAwait(false);
    }

    private async Task WaitUntilReadyAsync(Process process, long logLength, CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        Exception? lastError = null;
        while (stopwatch.Elapsed < ReadyTimeout)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (process.HasExited)
            {
                await StopAsync().ConfigureAwait(false);
                var log = ReadLogSince(logLength);
                throw new MariaDbStartException(
                    $"mariadbd exited with code {process.ExitCode} while starting on 127.0.0.1:{Port}.{Environment.NewLine}{log}",
                    portInUse: log.Contains("Address already in use", StringComparison.Ordinal));
            }

            try
            {
                // A connection proves readiness only if it reached this server, not whoever holds the port.
                await using var connection = await OpenConnectionAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
                await using var command = new MySqlCommand("SELECT @@datadir", connection);
                var dataDirectory = Convert.ToString(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false));
                // mariadbd may report the folder through resolved symbolic links: match on the unique name.
                if (dataDirectory?.Contains(Path.GetFileName(_root), StringComparison.Ordinal) == true)
                {
                    return;
                }

                lastError = new InvalidOperationException($"127.0.0.1:{Port} is another server (datadir {dataDirectory}).");
            }
            catch (MySqlException ex)
            {
                lastError = ex;
            }

            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }

        await StopAsync().ConfigureAwait(false);
        throw new MariaDbStartException(
            $"mariadbd did not accept connections on 127.0.0.1:{Port} within {ReadyTimeout.TotalSeconds:0} s " +
            $"(last error: {lastError?.Message}).{Environment.NewLine}{ReadLogSince(logLength)}",
            portInUse: false);
    }

    private async Task CheckMaxConnectionsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        await using var command = new MySqlCommand("SELECT @@max_connections", connection);
        var actual = Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture);
        if (actual != MaxConnections)
        {
            // mariadbd lowers max_connections to fit the open-files limit (see "Changed limits" in the log).
            throw new InvalidOperationException(
                $"mariadbd was asked for max_connections={MaxConnections} but runs with {actual}; " +
                $"raise the open-files limit (ulimit -n) or ask for fewer.{Environment.NewLine}{ReadLogSince(0)}");
        }
    }

    private async Task StopAsync()
    {
        var process = _process;
        if (process is null)
        {
            return;
        }

        _process = null;
        try
        {
            if (!process.HasExited)
            {
                // SIGTERM is mariadbd's clean shutdown: InnoDB flushes, so a restart finds every row. A frozen server
                // (see Freeze) runs again first.
                if (OperatingSystem.IsWindows() || Kill(process.Id, SigCont) != 0 || Kill(process.Id, SigTerm) != 0)
                {
                    process.Kill(entireProcessTree: true);
                }

                using var timeout = new CancellationTokenSource(StopTimeout);
                try
                {
                    await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    process.Kill(entireProcessTree: true);
                    await process.WaitForExitAsync().ConfigureAwait(false);
                }
            }
        }
        finally
        {
            process.Dispose();
            lock (Running)
            {
                Running.Remove(this);
            }
        }
    }

    private void AppendOutput(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    private string ReadLogSince(long offset)
    {
        var text = new StringBuilder();
        lock (_output)
        {
            if (_output.Length > 0)
            {
                text.Append("mariadbd output:").AppendLine().Append(_output);
            }
        }

        if (File.Exists(_errorLog))
        {
            using var stream = new FileStream(_errorLog, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            stream.Seek(Math.Min(offset, stream.Length), SeekOrigin.Begin);
            var lines = new StreamReader(stream).ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            text.Append($"Last lines of {_errorLog}:").AppendLine();
            foreach (var line in lines.TakeLast(30))
            {
                text.AppendLine(line);
            }
        }

        return text.ToString();
    }

    /// <summary>Options shared by the install step and the server, so both agree on the InnoDB files.</summary>
    private static IEnumerable<string> ServerArguments(string dataDirectory)
    {
        // --no-defaults must come first: mariadbd reads it only there.
        yield return "--no-defaults";
        if (Environment.IsPrivilegedProcess)
        {
            // mariadbd refuses to run as root unless told to.
            yield return "--user=root";
        }

        yield return $"--datadir={dataDirectory}";
        yield return "--skip-name-resolve";
        yield return "--skip-log-bin";
        // Compiled-in defaults are latin1; servers in the field run utf8mb4.
        yield return "--character-set-server=utf8mb4";
        yield return "--collation-server=utf8mb4_general_ci";
        yield return "--innodb-buffer-pool-size=64M";
        yield return "--innodb-log-file-size=16M";
        // Durability is worth nothing in a throwaway server; these make DDL and inserts cheap where
        // the data folder is on a disk. debug-no-sync (what MariaDB's own test suite uses) turns off
        // the fsync of the DDL log, which InnoDB's options do not reach.
        yield return "--innodb-flush-log-at-trx-commit=0";
        yield return "--innodb-doublewrite=0";
        yield return "--loose-innodb-flush-method=nosync";
        yield return "--loose-skip-sync-frm";
        yield return "--loose-debug-no-sync";
    }

    private static async Task<string> CreateTemplateDataDirectoryAsync()
    {
        // The template depends on the server binary and on the options that shape the InnoDB files.
        var server = new FileInfo(Binaries.Server);
        var key = string.Join('\n', [server.FullName, server.Length.ToString(CultureInfo.InvariantCulture), server.LastWriteTimeUtc.Ticks.ToString(CultureInfo.InvariantCulture), .. ServerArguments("")]);
        var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(key))).ToLowerInvariant()[..16];
        var template = Path.Combine(BaseDirectory, $"tdg-mariadb-template-{hash}");
        if (Directory.Exists(template))
        {
            return Path.Combine(template, "data");
        }

        // Installed aside and renamed into place, so a template that exists is complete.
        var staging = CreateDirectory($"tdg-mariadb-template-{hash}-");
        var startInfo = new ProcessStartInfo(Binaries.InstallDb)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in ServerArguments(Path.Combine(staging, "data")))
        {
            startInfo.ArgumentList.Add(argument);
        }

        startInfo.ArgumentList.Add("--auth-root-authentication-method=normal");
        startInfo.ArgumentList.Add("--skip-test-db");

        using var process = Process.Start(startInfo)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().ConfigureAwait(false);
        if (process.ExitCode != 0)
        {
            DeleteDirectory(staging);
            throw new InvalidOperationException(
                $"{Binaries.InstallDb} failed with exit code {process.ExitCode}:{Environment.NewLine}{await output.ConfigureAwait(false)}{await error.ConfigureAwait(false)}");
        }

        try
        {
            Directory.Move(staging, template);
        }
        catch (IOException) when (Directory.Exists(template))
        {
            // Another test process installed the same template first.
            DeleteDirectory(staging);
        }

        return Path.Combine(template, "data");
    }

    private static string ChooseBaseDirectory()
    {
        const long Room = 1L << 30;
        try
        {
            var shm = new DriveInfo("/dev/shm");
            if (OperatingSystem.IsLinux() && shm.IsReady && shm.AvailableFreeSpace >= Room)
            {
                return "/dev/shm";
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
        }

        return Path.GetTempPath();
    }

    private static string CreateDirectory(string prefix)
    {
        var path = Path.Combine(BaseDirectory, prefix + Path.GetRandomFileName().Replace(".", "", StringComparison.Ordinal));
        Directory.CreateDirectory(path);
        return path;
    }

    private static void KillAll()
    {
        MariaDbServer[] running;
        lock (Running)
        {
            running = [.. Running];
        }

        // Only servers whose test run ended without disposing them: a crash or an aborted run.
        foreach (var server in running)
        {
            try
            {
                server._process?.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
            }
        }
    }

    private static int FindFreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        finally
        {
            listener.Stop();
        }
    }

    private static void CopyDirectory(string source, string target)
    {
        Directory.CreateDirectory(target);
        foreach (var directory in Directory.EnumerateDirectories(source, "*", SearchOption.AllDirectories))
        {
            Directory.CreateDirectory(Path.Combine(target, Path.GetRelativePath(source, directory)));
        }

        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            File.Copy(file, Path.Combine(target, Path.GetRelativePath(source, file)));
        }
    }

    private static void DeleteDirectory(string path)
    {
        for (var attempt = 1; attempt <= 3 && Directory.Exists(path); attempt++)
        {
            try
            {
                Directory.Delete(path, recursive: true);
            }
            catch (IOException) when (attempt < 3)
            {
                Thread.Sleep(200);
            }
        }
    }

    private const int SigTerm = 15;
    private const int SigStop = 19;
    private const int SigCont = 18;

    /// <summary>
    /// Stops the server process where it stands (SIGSTOP) until the result is disposed (SIGCONT): connections stay open and
    /// the kernel takes what clients send, but nothing answers, as with a server that hangs. Linux only.
    /// </summary>
    public IDisposable Freeze()
    {
        var process = _process ?? throw new InvalidOperationException("The server is not running.");
        if (!OperatingSystem.IsLinux() || Kill(process.Id, SigStop) != 0)
        {
            throw new PlatformNotSupportedException("Freezing the server needs Linux signals.");
        }

        return new Thaw(process.Id);
    }

    private sealed class Thaw(int pid) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0)
            {
                _ = Kill(pid, SigCont);
            }
        }
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    /// <summary>Finds the installed binaries once: on PATH first, then where distributions put them.</summary>
    private static class Binaries
    {
        private static readonly string[] Folders = ["/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/mysql/bin", "/usr/local/mysql/scripts", "/opt/homebrew/bin", "/opt/homebrew/sbin"];
        private static readonly Lazy<string> ServerPath = new(() => Find("mariadbd", "mysqld"));
        private static readonly Lazy<string> InstallDbPath = new(() => Find("mariadb-install-db", "mysql_install_db"));

        public static string Server => ServerPath.Value;

        public static string InstallDb => InstallDbPath.Value;

        private static string Find(params string[] names)
        {
            var path = Environment.GetEnvironmentVariable("PATH") ?? string.Empty;
            var folders = path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries).Concat(Folders).ToList();
            foreach (var name in names)
            {
                foreach (var folder in folders)
                {
                    var candidate = Path.Combine(folder, name);
                    if (File.Exists(candidate))
                    {
                        return candidate;
                    }
                }
            }

            throw new InvalidOperationException(
                $"None of {string.Join(", ", names)} was found on PATH or in {string.Join(", ", Folders)}. " +
                "Install the MariaDB server package (eng/test.sh does: apt-get install mariadb-server); " +
                "the tests start their own server and need no running service.");
        }
    }

    private sealed class MariaDbStartException(string message, bool portInUse) : Exception(message)
    {
        public bool PortInUse { get; } = portInUse;
    }
}
