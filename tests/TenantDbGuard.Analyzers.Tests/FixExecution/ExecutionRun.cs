using System.Collections.Concurrent;
using MySqlConnector;

namespace TenantDbGuard.Analyzers.Tests.FixExecution;

/// <summary>What goes wrong during one run of the code under test.</summary>
internal enum FaultMode
{
    /// <summary>Nothing.</summary>
    Normal,

    /// <summary>The first command (a Prelude <c>Execute</c>, a MySqlConnector command) throws <see cref="InjectedFaultException"/>.</summary>
    FirstCommandThrows,

    /// <summary>The second acquisition (a Prelude pool, a MySqlConnector open) throws <see cref="InjectedFaultException"/>.</summary>
    SecondAcquisitionThrows,

    /// <summary>The run's token is cancelled once the first acquisition succeeded; later commands throw <see cref="OperationCanceledException"/>.</summary>
    Cancelled,

    /// <summary>The caller takes one item of a returned sequence (or one row of a returned reader) and drops the rest.</summary>
    SequenceAbandoned,

    /// <summary>The caller calls the member twice on one instance.</summary>
    CalledTwice,
}

/// <summary>The exception a run injects; its type is what the original and the fixed code must both let through.</summary>
public sealed class InjectedFaultException(string message) : Exception(message);

/// <summary>
/// One run of the code under test: the fault it injects, the leases the runnable Prelude handed out, the commands and
/// log lines it saw. The code under test finds it through an async-local, so every run is isolated from the others.
/// </summary>
internal sealed class ExecutionRun
{
    private static readonly AsyncLocal<ExecutionRun?> Ambient = new();

    private readonly ConcurrentQueue<string> _trace = new();
    private readonly ConcurrentQueue<Lease> _leases = new();
    private int _acquisitions;
    private int _commands;
    private int _doubleReleases;
    private int _cancelPending;
    private int _held;
    private int _peakHeld;

    public ExecutionRun(FaultMode mode, string? connectionString)
    {
        Mode = mode;
        ConnectionString = connectionString;
    }

    public static ExecutionRun? Current => Ambient.Value;

    public FaultMode Mode { get; }

    /// <summary>The MariaDB connection string of this run (its own pool), or <c>null</c> when the Prelude pool is in memory.</summary>
    public string? ConnectionString { get; }

    public CancellationTokenSource Cancellation { get; } = new();

    /// <summary>The code under test calls TenantDbGuard.Runtime, whose own MySqlConnector calls are not the code's.</summary>
    public bool CallsRuntime { get; set; }

    public int Acquisitions => Volatile.Read(ref _acquisitions);

    /// <summary>Leases given back twice: harmless for a lease's <c>Dispose</c>, a corrupted pool for <c>Release</c>.</summary>
    public int DoubleReleases => Volatile.Read(ref _doubleReleases);

    /// <summary>Commands and log lines in the order they happened.</summary>
    public IReadOnlyList<string> Trace => _trace.ToArray();

    public IEnumerable<Lease> Leases => _leases;

    /// <summary>The most leases the code held at one time: a fix must not make it take a connection while holding another.</summary>
    public int PeakHeld => Volatile.Read(ref _peakHeld);

    public static ExecutionRun Require() =>
        Current ?? throw new InvalidOperationException("The runnable Prelude works only inside a fix-execution run.");

    /// <summary>Makes this run the current one for the calling flow.</summary>
    public void Enter() => Ambient.Value = this;

    public void BeforeAcquire()
    {
        if (Interlocked.Increment(ref _acquisitions) == 2 && Mode == FaultMode.SecondAcquisitionThrows)
        {
            throw new InjectedFaultException("The second acquisition failed (injected).");
        }
    }

    /// <summary>
    /// An acquisition the run sees only from inside the library that makes it (a TenantDatabase lease): counted, never
    /// failed, and a cancellation waits for the code under test's next command, once the lease is in its hands.
    /// </summary>
    public void Acquired()
    {
        Interlocked.Increment(ref _acquisitions);
        if (Mode == FaultMode.Cancelled)
        {
            Volatile.Write(ref _cancelPending, 1);
        }
    }

    public void AfterAcquire()
    {
        if (Mode == FaultMode.Cancelled)
        {
            Cancellation.Cancel();
        }
    }

    public void BeforeCommand(string? text, CancellationToken cancellationToken)
    {
        if (text is not null)
        {
            _trace.Enqueue("command: " + text);
        }

        if (Interlocked.Increment(ref _commands) == 1 && Mode == FaultMode.FirstCommandThrows)
        {
            throw new InjectedFaultException("The first command failed (injected).");
        }

        if (Interlocked.Exchange(ref _cancelPending, 0) == 1)
        {
            Cancellation.Cancel();
        }

        Cancellation.Token.ThrowIfCancellationRequested();
        cancellationToken.ThrowIfCancellationRequested();
    }

    public void Record(string entry) => _trace.Enqueue(entry);

    public void Track(Lease lease)
    {
        _leases.Enqueue(lease);
        var held = Interlocked.Increment(ref _held);
        for (var peak = Volatile.Read(ref _peakHeld); held > peak; peak = Volatile.Read(ref _peakHeld))
        {
            if (Interlocked.CompareExchange(ref _peakHeld, held, peak) == peak)
            {
                break;
            }
        }
    }

    public void Untrack() => Interlocked.Decrement(ref _held);

    public void CountDoubleRelease() => Interlocked.Increment(ref _doubleReleases);
}

/// <summary>
/// One connection lent by the runnable Prelude: in memory, or a real MySqlConnector connection to the run's MariaDB.
/// Using it after its release throws, as a real pooled connection would.
/// </summary>
internal sealed class Lease
{
    private readonly ExecutionRun _run;
    private readonly bool _real;
    private int _released;

    private Lease(ExecutionRun run, MySqlConnection connection, bool real)
    {
        _run = run;
        Connection = connection;
        _real = real;
    }

    public MySqlConnection Connection { get; }

    public bool IsReleased => Volatile.Read(ref _released) != 0;

    public static Lease Acquire()
    {
        var run = ExecutionRun.Require();
        run.BeforeAcquire();
        var connection = new MySqlConnection(run.ConnectionString ?? string.Empty);
        if (run.ConnectionString is not null)
        {
            using (MySqlProbe.Quiet())
            {
                connection.Open();
            }
        }

        var lease = new Lease(run, connection, run.ConnectionString is not null);
        run.Track(lease);
        run.AfterAcquire();
        return lease;
    }

    public int Command(string sql, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(IsReleased, this);
        _run.BeforeCommand(sql, cancellationToken);
        if (_real)
        {
            // The round trip proves the physical connection is still there; the test's SQL is only recorded.
            using (MySqlProbe.Quiet())
            using (var command = new MySqlCommand("DO 0", Connection))
            {
                command.ExecuteNonQuery();
            }
        }

        return 0;
    }

    /// <summary>Gives the lease back; a second time is counted unless the release is a <c>Dispose</c>.</summary>
    public void Release(bool idempotent)
    {
        if (Interlocked.Exchange(ref _released, 1) != 0)
        {
            if (!idempotent)
            {
                _run.CountDoubleRelease();
            }

            return;
        }

        _run.Untrack();
        Connection.Dispose();
    }

    public override string ToString() => IsReleased ? "lease(released)" : "lease(held)";
}
