using Microsoft.CodeAnalysis;
using TenantDbGuard.Analyzers.Tests.Verifiers;
using Verify = TenantDbGuard.Analyzers.Tests.Verifiers.CSharpAnalyzerVerifier<TenantDbGuard.Analyzers.ConnectionOwnerAnalyzer>;

namespace TenantDbGuard.Analyzers.Tests;

/// <summary>TDG005: a type that owns a connection in a field and does not release it on every path of its Dispose.</summary>
public sealed class ConnectionOwnerAnalyzerTests
{
    [Fact]
    public Task Type_that_owns_a_connection_and_is_not_disposable_is_reported() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        sealed class ReportSession
        {
            private readonly MySqlConnection {|#0:_connection|};

            public ReportSession(MySqlDataSource dataSource) => _connection = dataSource.OpenConnection();

            public object Count()
            {
                using var cmd = new MySqlCommand("select count(*) from invoices", _connection);
                return cmd.ExecuteScalar();
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("ReportSession", "_connection", "is not disposable, so nothing can release it"));

    [Fact]
    public Task Type_that_stores_a_connection_opened_into_a_local_first_and_is_not_disposable_is_reported() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        sealed class ReportSession
        {
            private readonly MySqlConnection {|#0:_connection|};

            public ReportSession(MySqlDataSource dataSource)
            {
                var opened = dataSource.OpenConnection();
                _connection = opened;
            }

            public object Count()
            {
                using var cmd = new MySqlCommand("select count(*) from invoices", _connection);
                return cmd.ExecuteScalar();
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("ReportSession", "_connection", "is not disposable, so nothing can release it"));

    [Fact]
    public Task Type_that_opens_a_connection_in_a_member_initializer_and_is_not_disposable_is_reported() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        sealed class ReportSession(MySqlDataSource dataSource)
        {
            private readonly MySqlConnection {|#0:_connection|} = dataSource.OpenConnection();

            public MySqlConnection {|#1:Audit|} { get; } = dataSource.OpenConnection();

            public object Count()
            {
                using var cmd = new MySqlCommand("select count(*) from invoices", _connection);
                return cmd.ExecuteScalar();
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("ReportSession", "_connection", "is not disposable, so nothing can release it"),
        Verify.Diagnostic().WithLocation(1).WithArguments("ReportSession", "Audit", "is not disposable, so nothing can release it"));

    /// <summary>A Dispose that gives the member back through <c>dynamic</c>: released on every path, as far as the analysis can tell.</summary>
    [Theory]
    [InlineData("((dynamic)_connection).Dispose();")]
    [InlineData("((dynamic)_connection)?.Dispose();")]
    [InlineData("dynamic connection = _connection;\n        connection.Dispose();")]
    [InlineData("((dynamic)this)._connection.Dispose();")]
    [InlineData("dynamic self = this;\n        self._connection?.Dispose();")]
    public Task Owner_that_releases_through_dynamic_is_not_reported(string release) => Verify.VerifyAnalyzerAsync($$"""
        using System;
        using MySqlConnector;

        sealed class ReportSession : IDisposable
        {
            private readonly MySqlConnection _connection;

            public ReportSession(MySqlDataSource dataSource) => _connection = dataSource.OpenConnection();

            public void Dispose()
            {
                {{release}}
            }
        }
        """);

    /// <summary>A Dispose that calls a method of the type which gives the member back through <c>dynamic</c>.</summary>
    [Fact]
    public Task Owner_whose_Dispose_calls_a_helper_that_releases_through_dynamic_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using MySqlConnector;

        sealed class ReportSession : IDisposable
        {
            private readonly MySqlConnection _connection;

            public ReportSession(MySqlDataSource dataSource) => _connection = dataSource.OpenConnection();

            public void Dispose() => Cleanup();

            private void Cleanup() => ((dynamic)this)._connection.Dispose();
        }
        """);

    /// <summary>A Dispose that reads another member through <c>dynamic</c>: the member it owns is still not released.</summary>
    [Fact]
    public Task Owner_whose_Dispose_reaches_only_another_member_through_dynamic_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using MySqlConnector;

        sealed class ReportSession : IDisposable
        {
            private readonly MySqlConnection {|#0:_connection|};
            private readonly IDisposable _timer;

            public ReportSession(MySqlDataSource dataSource, IDisposable timer)
            {
                _connection = dataSource.OpenConnection();
                _timer = timer;
            }

            public void Dispose()
            {
                ((dynamic)this)._timer.Dispose();
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("ReportSession", "_connection", "Dispose does not release it on the path that leaves at line 17"));

    [Fact]
    public Task Owner_that_opens_in_a_member_initializer_and_releases_in_Dispose_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using MySqlConnector;

        sealed class ReportSession(MySqlDataSource dataSource) : IDisposable
        {
            private readonly MySqlConnection _connection = dataSource.OpenConnection();

            public MySqlConnection Audit { get; } = dataSource.OpenConnection();

            public void Dispose()
            {
                try
                {
                    _connection.Dispose();
                }
                finally
                {
                    Audit.Dispose();
                }
            }
        }
        """);

    [Fact]
    public Task Owner_that_releases_in_Dispose_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Threading.Tasks;
        using MySqlConnector;

        sealed class ReportSession : IDisposable
        {
            private readonly MySqlConnection _connection;

            public ReportSession(MySqlDataSource dataSource) => _connection = dataSource.OpenConnection();

            public void Dispose() => _connection.Dispose();
        }

        sealed class AsyncSession : IAsyncDisposable
        {
            private MySqlConnection _connection;

            public async Task StartAsync(MySqlDataSource dataSource) => _connection = await dataSource.OpenConnectionAsync();

            public async ValueTask DisposeAsync()
            {
                if (_connection is not null)
                {
                    await _connection.DisposeAsync();
                }
            }
        }
        """);

    [Fact]
    public Task Sequential_disposes_without_finally_are_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using MySqlConnector;

        sealed class ImportJob : IDisposable
        {
            private readonly MySqlConnection {|#0:_connection|};
            private readonly MySqlTransaction _transaction;

            public ImportJob(MySqlDataSource dataSource)
            {
                _connection = dataSource.OpenConnection();
                _transaction = _connection.BeginTransaction();
            }

            public void Dispose()
            {
                _transaction.Dispose();
                _connection.Dispose();
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("ImportJob", "_connection", "Dispose does not release it if an exception is thrown at line 17"));

    [Fact]
    public Task Sequential_disposes_with_finally_are_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using MySqlConnector;

        sealed class ImportJob : IDisposable
        {
            private readonly MySqlConnection _connection;
            private readonly MySqlTransaction _transaction;
            private bool _disposed;

            public ImportJob(MySqlDataSource dataSource)
            {
                _connection = dataSource.OpenConnection();
                try
                {
                    _transaction = _connection.BeginTransaction();
                }
                catch
                {
                    _connection.Dispose();
                    throw;
                }
            }

            public void Dispose()
            {
                if (_disposed)
                {
                    return;
                }

                _disposed = true;
                try
                {
                    _transaction.Dispose();
                }
                finally
                {
                    _connection.Dispose();
                }
            }
        }
        """);

    [Fact]
    public Task Release_under_a_reentrancy_counter_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using MySqlConnector;

        sealed class Scope : IDisposable
        {
            private readonly MySqlConnection {|#0:_connection|};
            private int _depth = 1;

            public Scope(string connectionString)
            {
                _connection = new MySqlConnection(connectionString);
                _connection.Open();
            }

            public void Enter() => _depth++;

            public void Dispose()
            {
                _depth--;
                if (_depth == 0)
                {
                    _connection.Dispose();
                }
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("Scope", "_connection", "Dispose does not release it on the path that leaves at line 20"));

    [Fact]
    public Task Dispose_pattern_with_disposing_flag_and_ownership_flag_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Threading;
        using MySqlConnector;
        using Prelude;

        class Repository : IDisposable
        {
            private readonly MySqlConnection _connection;

            public Repository(MySqlDataSource dataSource) => _connection = dataSource.OpenConnection();

            public void Dispose()
            {
                Dispose(true);
                GC.SuppressFinalize(this);
            }

            protected virtual void Dispose(bool disposing)
            {
                if (disposing)
                {
                    _connection.Dispose();
                }
            }
        }

        sealed class Borrowing : IDisposable
        {
            private readonly ConnectionLease _lease;
            private readonly bool _ownsLease;
            private int _disposed;

            public Borrowing(LeasePool pool)
            {
                _lease = pool.GetConnection();
                _ownsLease = true;
            }

            public void Dispose()
            {
                if (Interlocked.Exchange(ref _disposed, 1) != 0)
                {
                    return;
                }

                if (_ownsLease)
                {
                    _lease.Dispose();
                }
            }
        }
        """);

    [Fact]
    public Task Static_field_initialized_with_a_connection_is_no_member_an_instance_must_release() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class Holder
        {
            private static readonly PooledConnection s_connection = new Pool().GetConnection();

            public int Run() => s_connection.Execute("select 1");
        }
        """);

    [Fact]
    public Task Dispose_guarded_by_an_interlocked_exchange_of_a_bool_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Threading;
        using Prelude;

        sealed class Borrowing : IDisposable
        {
            private readonly ConnectionLease _lease;
            private bool _disposed;

            public Borrowing(LeasePool pool) => _lease = pool.GetConnection();

            // The early return is taken only when an earlier call already disposed the lease.
            public void Dispose()
            {
                if (Interlocked.Exchange(ref _disposed, true))
                {
                    return;
                }

                _lease.Dispose();
            }
        }
        """);

    [Theory]
    [InlineData("if (Interlocked.Exchange(ref _disposed, 1) is not 0) return;")]
    [InlineData("if (Interlocked.Exchange(ref _disposed, 1) is 1) return;")]
    [InlineData("if (Interlocked.CompareExchange(ref _disposed, 1, 0) > 0) return;")]
    [InlineData("if (0 < Interlocked.Exchange(ref _disposed, 1)) return;")]
    [InlineData("if (Interlocked.Increment(ref _disposed) > 1) return;")]
    [InlineData("if (Interlocked.Increment(ref _disposed) is not 1) return;")]
    [InlineData("if (Interlocked.Increment(ref _disposed) != 1) return;")]
    public Task Dispose_guarded_by_an_interlocked_counter_in_any_spelling_is_not_reported(string guard) => Verify.VerifyAnalyzerAsync($$"""
        using System;
        using System.Threading;
        using Prelude;

        sealed class Borrowing : IDisposable
        {
            private readonly ConnectionLease _lease;
            private int _disposed;

            public Borrowing(LeasePool pool) => _lease = pool.GetConnection();

            public void Dispose()
            {
                {{guard}}
                _lease.Dispose();
            }
        }

        sealed class Guarded : IDisposable
        {
            private readonly ConnectionLease _lease;
            private int _disposed;

            public Guarded(LeasePool pool) => _lease = pool.GetConnection();

            public void Dispose()
            {
                if (Interlocked.Exchange(ref _disposed, 1) is 0)
                {
                    _lease.Dispose();
                }
            }
        }
        """);

    [Theory]
    [InlineData("switch (Interlocked.Exchange(ref _disposed, 1)) { case 0: _lease.Dispose(); break; }")]
    [InlineData("switch (Interlocked.Exchange(ref _disposed, 1)) { case 0: _lease.Dispose(); break; default: return; }")]
    [InlineData("switch (Interlocked.Exchange(ref _disposed, 1)) { case 1: return; default: _lease.Dispose(); break; }")]
    [InlineData("switch (Interlocked.CompareExchange(ref _disposed, 1, 0)) { case > 0: return; case 0: _lease.Dispose(); break; }")]
    [InlineData("switch (Interlocked.Increment(ref _disposed)) { case 1: _lease.Dispose(); break; }")]
    [InlineData("if (Interlocked.Exchange(ref _disposed, 1) switch { 0 => true, _ => false }) _lease.Dispose();")]
    [InlineData("var first = Interlocked.Exchange(ref _disposed, 1) switch { 0 => true, _ => false }; if (first) _lease.Dispose();")]
    public Task Dispose_guarded_by_a_switch_on_an_interlocked_counter_is_not_reported(string guard) => Verify.VerifyAnalyzerAsync($$"""
        using System;
        using System.Threading;
        using Prelude;

        sealed class Borrowing : IDisposable
        {
            private readonly ConnectionLease _lease;
            private int _disposed;

            public Borrowing(LeasePool pool) => _lease = pool.GetConnection();

            public void Dispose()
            {
                {{guard}}
            }
        }
        """);

    [Theory]
    [InlineData("if (Interlocked.Exchange(ref _disposed, 1) switch { 0 => false, _ => true }) _lease.Dispose();")]
    [InlineData("var again = Interlocked.Exchange(ref _disposed, 1) != 0; if (again) _lease.Dispose();")]
    [InlineData("var first = Interlocked.Exchange(ref _disposed, 1) == 0; first = !first; if (first) _lease.Dispose();")]
    public Task Dispose_that_releases_only_where_a_kept_or_switched_guard_means_a_later_call_is_reported(string guard) => Verify.VerifyAnalyzerAsync($$"""
        using System;
        using System.Threading;
        using Prelude;

        sealed class Borrowing : IDisposable
        {
            private readonly ConnectionLease {|#0:_lease|};
            private int _disposed;

            public Borrowing(LeasePool pool) => _lease = pool.GetConnection();

            public void Dispose()
            {
                {{guard}}
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("Borrowing", "_lease", "Dispose does not release it on the path that leaves at line 14"));

    [Fact]
    public Task Dispose_that_releases_only_in_a_switch_case_the_first_call_does_not_take_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Threading;
        using Prelude;

        sealed class Borrowing : IDisposable
        {
            private readonly ConnectionLease {|#0:_lease|};
            private int _disposed;

            public Borrowing(LeasePool pool) => _lease = pool.GetConnection();

            // The first call sees 0 and takes no case: the lease is never given back.
            public void Dispose()
            {
                switch (Interlocked.Exchange(ref _disposed, 1))
                {
                    case 1:
                        _lease.Dispose();
                        break;
                }
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("Borrowing", "_lease", "Dispose does not release it on the path that leaves at line 17"));

    [Fact]
    public Task Dispose_that_returns_on_a_count_that_the_first_call_can_reach_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Threading;
        using Prelude;

        sealed class Borrowing : IDisposable
        {
            private readonly ConnectionLease {|#0:_lease|};
            private int _calls;

            public Borrowing(LeasePool pool) => _lease = pool.GetConnection();

            // The first call sees 1, which is below 3: it returns without giving the lease back.
            public void Dispose()
            {
                if (Interlocked.Increment(ref _calls) < 3) return;
                _lease.Dispose();
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("Borrowing", "_lease", "Dispose does not release it on the path that leaves at line 15"));

    [Fact]
    public Task Field_only_given_to_the_type_is_not_owned() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        sealed class Reader
        {
            private readonly MySqlConnection _connection;

            public Reader(MySqlConnection connection) => _connection = connection;

            public object Count()
            {
                using var cmd = new MySqlCommand("select count(*) from invoices", _connection);
                return cmd.ExecuteScalar();
            }
        }
        """);

    [Fact]
    public Task Field_given_a_connection_by_a_method_of_the_code_that_does_not_open_one_is_not_owned() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        sealed class ConnectionHub
        {
            private readonly MySqlConnection _shared;

            public ConnectionHub(MySqlConnection shared) => _shared = shared;

            public MySqlConnection Current() => _shared;
        }

        sealed class Reader
        {
            private readonly MySqlConnection _connection;

            public Reader(ConnectionHub hub) => _connection = hub.Current();

            public object Count()
            {
                using var cmd = new MySqlCommand("select count(*) from invoices", _connection);
                return cmd.ExecuteScalar();
            }
        }
        """);

    // ---------------------------------------------------------------- constructors that throw after storing the connection

    [Fact]
    public Task Constructor_that_can_throw_after_storing_the_connection_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using MySqlConnector;

        sealed class ImportSession : IDisposable
        {
            private readonly MySqlConnection {|#0:_connection|};
            private readonly MySqlTransaction _transaction;

            public ImportSession(MySqlDataSource dataSource)
            {
                _connection = dataSource.OpenConnection();
                _transaction = _connection.BeginTransaction();
            }

            public void Dispose()
            {
                try
                {
                    _transaction.Dispose();
                }
                finally
                {
                    _connection.Dispose();
                }
            }
        }

        sealed class TenantSession : IDisposable
        {
            private readonly MySqlConnection {|#1:_connection|};

            public TenantSession(string connectionString, string tenant)
            {
                _connection = new MySqlConnection(connectionString);
                _connection.Open();
                if (_connection.ServerVersion.StartsWith("5.", StringComparison.Ordinal))
                {
                    throw new NotSupportedException("MySQL 5 is not supported for " + tenant);
                }
            }

            public void Dispose() => _connection.Dispose();
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("ImportSession", "_connection", "its constructor does not release it if an exception is thrown at line 12"),
        Verify.Diagnostic().WithLocation(1).WithArguments("TenantSession", "_connection", "its constructor does not release it if an exception is thrown at line 36"));

    [Fact]
    public Task Constructor_that_releases_before_it_throws_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Threading.Tasks;
        using MySqlConnector;

        sealed class ImportSession : IAsyncDisposable
        {
            private readonly MySqlConnection _connection;
            private readonly MySqlTransaction _transaction;

            public ImportSession(MySqlDataSource dataSource)
            {
                _connection = dataSource.OpenConnection();
                try
                {
                    _transaction = _connection.BeginTransaction();
                }
                catch
                {
                    _connection.Dispose();
                    throw;
                }
            }

            public async ValueTask DisposeAsync()
            {
                try
                {
                    await _transaction.DisposeAsync();
                }
                finally
                {
                    await _connection.DisposeAsync();
                }
            }
        }

        sealed class LazySession : IAsyncDisposable
        {
            private readonly MySqlDataSource _dataSource;
            private MySqlConnection? _connection;

            public LazySession(MySqlDataSource dataSource) => _dataSource = dataSource ?? throw new ArgumentNullException(nameof(dataSource));

            public async Task StartAsync() => _connection = await _dataSource.OpenConnectionAsync();

            public async ValueTask DisposeAsync()
            {
                if (_connection is not null)
                {
                    await _connection.DisposeAsync();
                }
            }
        }
        """);

    // ---------------------------------------------------------------- auto-properties

    [Fact]
    public Task Auto_property_that_owns_a_connection_and_is_not_released_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Threading.Tasks;
        using MySqlConnector;
        using Prelude;

        sealed class ReportScope : IAsyncDisposable
        {
            public MySqlConnection? {|#0:Connection|} { get; private set; }

            public async Task OpenAsync(MySqlDataSource dataSource) => Connection = await dataSource.OpenConnectionAsync();

            public ValueTask DisposeAsync() => default;
        }

        sealed class LeaseHolder
        {
            public LeaseHolder(LeasePool pool) => Lease = pool.GetConnection();

            public ConnectionLease {|#1:Lease|} { get; }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("ReportScope", "Connection", "DisposeAsync does not release it on the path that leaves at line 12"),
        Verify.Diagnostic().WithLocation(1).WithArguments("LeaseHolder", "Lease", "is not disposable, so nothing can release it"));

    [Fact]
    public Task Auto_property_overwritten_in_Dispose_is_reported_as_overwritten() => Verify.VerifyAnalyzerAsync("""
        using System;
        using Prelude;

        sealed class LeaseHolder : IDisposable
        {
            public LeaseHolder(LeasePool pool) => Lease = pool.GetConnection();

            public ConnectionLease? {|#0:Lease|} { get; private set; }

            public void Dispose()
            {
                Lease = null;
                Log.Info("disposed");
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("LeaseHolder", "Lease", "Dispose overwrites it at line 12 without releasing it"));

    [Fact]
    public Task Auto_property_released_in_Dispose_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Threading.Tasks;
        using MySqlConnector;
        using Prelude;

        sealed class ReportScope : IAsyncDisposable
        {
            public MySqlConnection? Connection { get; private set; }

            public async Task OpenAsync(MySqlDataSource dataSource) => Connection = await dataSource.OpenConnectionAsync();

            public async ValueTask DisposeAsync()
            {
                if (Connection is not null)
                {
                    await Connection.DisposeAsync();
                }
            }
        }

        sealed class LeaseHolder : IDisposable
        {
            public LeaseHolder(LeasePool pool) => Lease = pool.GetConnection();

            public ConnectionLease Lease { get; }

            public void Dispose() => Lease.Dispose();
        }

        sealed class Borrower
        {
            public Borrower(MySqlConnection connection) => Connection = connection;

            public MySqlConnection Connection { get; }
        }
        """);

    // ---------------------------------------------------------------- ownership flags, release methods and callbacks

    [Fact]
    public Task Get_only_bool_property_set_by_the_constructor_is_an_ownership_flag() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Data;
        using System.Threading.Tasks;

        abstract class DatabaseConnection : IAsyncDisposable
        {
            protected DatabaseConnection(IDbConnection connection, bool isExternallyOwned)
            {
                InnerConnection = connection;
                IsExternallyOwned = isExternallyOwned;
            }

            internal IDbConnection InnerConnection { get; }

            public bool IsExternallyOwned { get; }

            public void Open() => InnerConnection.Open();

            public ValueTask DisposeAsync()
            {
                if (!IsExternallyOwned)
                {
                    InnerConnection.Dispose();
                }

                return default;
            }
        }

        abstract class MutableFlag : IDisposable
        {
            protected MutableFlag(IDbConnection connection) => InnerConnection = connection;

            internal IDbConnection {|#0:InnerConnection|} { get; }

            public bool KeepOpen { get; set; }

            public void Open() => InnerConnection.Open();

            public void Dispose()
            {
                if (!KeepOpen)
                {
                    InnerConnection.Dispose();
                }
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("MutableFlag", "InnerConnection", "Dispose does not release it on the path that leaves at line 42"));

    [Fact]
    public Task Bool_field_set_only_by_the_constructors_is_an_ownership_flag() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Data;
        using MySqlConnector;

        static class Connections
        {
            public static IDbConnection OpenConnection(this string connectionString)
            {
                var connection = new MySqlConnection(connectionString);
                connection.Open();
                return connection;
            }
        }

        class EntityStore : IDisposable
        {
            protected bool DisposeConnection = true;
            protected IDbConnection connection;
            private readonly string _connectionString;

            public EntityStore(string connectionString) => _connectionString = connectionString;

            public EntityStore(IDbConnection connection)
            {
                this.connection = connection;
                this.DisposeConnection = false;
            }

            public IDbConnection Connection => connection ??= _connectionString.OpenConnection();

            public void Dispose()
            {
                if (!DisposeConnection) return;
                if (connection == null) return;
                connection.Dispose();
                connection = null;
            }
        }

        class FlagSetAfterConstruction : IDisposable
        {
            public bool DisposeConnection = true;
            private IDbConnection {|#0:connection|};
            private readonly string _connectionString;

            public FlagSetAfterConstruction(string connectionString) => _connectionString = connectionString;

            public IDbConnection Connection => connection ??= _connectionString.OpenConnection();

            public void KeepOpen() => DisposeConnection = false;

            public void Dispose()
            {
                if (!DisposeConnection) return;
                connection?.Dispose();
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("FlagSetAfterConstruction", "connection", "Dispose does not release it on the path that leaves at line 54"));

    [Fact]
    public Task Bool_field_set_right_after_the_type_opens_the_connection_is_an_ownership_flag() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Data;
        using System.Threading.Tasks;
        using MySqlConnector;

        sealed class ImportConnection : IDisposable
        {
            private bool _openedHere;
            private bool _disposed;

            public ImportConnection(MySqlConnection connection) => Connection = connection;

            public MySqlConnection Connection { get; }

            public void EnsureOpen()
            {
                if (Connection.State != ConnectionState.Open)
                {
                    Connection.Open();
                    _openedHere = true;
                }
            }

            public async Task EnsureOpenAsync()
            {
                await Connection.OpenAsync();
                this._openedHere = true;
            }

            public void Close()
            {
                if (_openedHere)
                {
                    Connection.Close();
                    _openedHere = false;
                }
            }

            public void Dispose()
            {
                if (!_disposed)
                {
                    Close();
                    _disposed = true;
                }
            }
        }

        sealed class FlagSetElsewhere : IDisposable
        {
            private bool _closeOnDispose;

            public FlagSetElsewhere(MySqlConnection connection) => Connection = connection;

            public MySqlConnection {|#0:Connection|} { get; }

            public void EnsureOpen() => Connection.Open();

            public void MarkForClose() => _closeOnDispose = true;

            public void Dispose()
            {
                if (_closeOnDispose)
                {
                    Connection.Close();
                }
            }
        }

        sealed class OpenedHereButNeverClosed : IDisposable
        {
            private bool _openedHere;

            public OpenedHereButNeverClosed(MySqlConnection connection) => Connection = connection;

            public MySqlConnection {|#1:Connection|} { get; }

            public void EnsureOpen()
            {
                Connection.Open();
                _openedHere = true;
            }

            public void Dispose()
            {
                if (_openedHere)
                {
                    Console.WriteLine("the connection stays open");
                }
            }
        }

        sealed class FlagTrueFromTheStart : IDisposable
        {
            private bool _openedHere = true;

            public FlagTrueFromTheStart(MySqlConnection connection) => Connection = connection;

            public MySqlConnection {|#2:Connection|} { get; }

            public void EnsureOpen()
            {
                Connection.Open();
                _openedHere = true;
            }

            public void Dispose()
            {
                if (_openedHere)
                {
                    Connection.Close();
                }
            }
        }

        sealed class FlagAlsoSetThroughThisElsewhere : IDisposable
        {
            private bool _openedHere;

            public FlagAlsoSetThroughThisElsewhere(MySqlConnection connection) => Connection = connection;

            public MySqlConnection {|#3:Connection|} { get; }

            public void EnsureOpen()
            {
                Connection.Open();
                _openedHere = true;
            }

            public void Adopt() => this._openedHere = true;

            public void Dispose()
            {
                if (_openedHere)
                {
                    Connection.Close();
                }
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("FlagSetElsewhere", "Connection", "Dispose does not release it on the path that leaves at line 63"),
        Verify.Diagnostic().WithLocation(1).WithArguments("OpenedHereButNeverClosed", "Connection", "Dispose does not release it on the path that leaves at line 88"),
        Verify.Diagnostic().WithLocation(2).WithArguments("FlagTrueFromTheStart", "Connection", "Dispose does not release it on the path that leaves at line 109"),
        Verify.Diagnostic().WithLocation(3).WithArguments("FlagAlsoSetThroughThisElsewhere", "Connection", "Dispose does not release it on the path that leaves at line 134"));

    [Fact]
    public Task Close_under_the_opened_here_flag_and_a_condition_of_the_type_is_the_type_closing_what_it_opened() => Verify.VerifyAnalyzerAsync("""
        using System;
        using MySqlConnector;

        sealed class KeptOpenOnRequest : IDisposable
        {
            private bool _openedHere;
            private bool _keepOpen;

            public KeptOpenOnRequest(MySqlConnection connection) => Connection = connection;

            public MySqlConnection Connection { get; }

            public void EnsureOpen()
            {
                Connection.Open();
                _openedHere = true;
            }

            public void KeepOpen() => _keepOpen = true;

            public void Dispose()
            {
                if (_openedHere && !_keepOpen)
                {
                    Connection.Close();
                }
            }
        }

        sealed class InMemoryDatabaseKeptOpen : IDisposable
        {
            private readonly MySqlConnection _connection;
            private bool _openedInternally;

            public InMemoryDatabaseKeptOpen(MySqlConnection connection) => _connection = connection;

            public bool InMemory => _connection.ConnectionString.Contains(":memory:");

            public void Open()
            {
                _connection.Open();
                _openedInternally = true;
            }

            public void Dispose()
            {
                if (!InMemory && (_openedInternally))
                {
                    _connection.Close();
                    _openedInternally = false;
                }
            }
        }

        sealed class LeavesEarlyUnlessOpenedHere : IDisposable
        {
            private bool _openedHere;
            private bool _keepOpen;

            public LeavesEarlyUnlessOpenedHere(MySqlConnection connection, bool keepOpen)
            {
                Connection = connection;
                _keepOpen = keepOpen;
            }

            public MySqlConnection Connection { get; }

            public void EnsureOpen()
            {
                Connection.Open();
                _openedHere = true;
            }

            public void Dispose()
            {
                if (!_openedHere || _keepOpen)
                {
                    return;
                }

                Connection.Close();
            }
        }

        sealed class FlagAtTheEndOfALongerCondition : IDisposable
        {
            private bool _openedHere;
            private bool _keepOpen;

            public FlagAtTheEndOfALongerCondition(MySqlConnection connection) => Connection = connection;

            public MySqlConnection Connection { get; }

            public void EnsureOpen()
            {
                Connection.Open();
                _openedHere = true;
            }

            public void KeepOpen() => _keepOpen = true;

            public void Dispose()
            {
                if (!_keepOpen && Connection.State != System.Data.ConnectionState.Closed && _openedHere)
                {
                    Connection.Close();
                }
            }
        }

        sealed class NeverClosesWhatItOpened : IDisposable
        {
            private bool _openedHere;
            private bool _keepOpen;

            public NeverClosesWhatItOpened(MySqlConnection connection) => Connection = connection;

            public MySqlConnection {|#0:Connection|} { get; }

            public void EnsureOpen()
            {
                Connection.Open();
                _openedHere = true;
            }

            public void KeepOpen() => _keepOpen = true;

            public void Dispose()
            {
                if (_openedHere && !_keepOpen)
                {
                    Console.WriteLine("the connection stays open");
                }
            }
        }

        sealed class NoOwnershipFlagInTheCondition : IDisposable
        {
            private bool _closeOnDispose;
            private bool _keepOpen;

            public NoOwnershipFlagInTheCondition(MySqlConnection connection) => Connection = connection;

            public MySqlConnection {|#1:Connection|} { get; }

            public void EnsureOpen() => Connection.Open();

            public void MarkForClose() => _closeOnDispose = true;

            public void KeepOpen() => _keepOpen = true;

            public void Dispose()
            {
                if (_closeOnDispose && !_keepOpen)
                {
                    Connection.Close();
                }
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("NeverClosesWhatItOpened", "Connection", "Dispose does not release it on the path that leaves at line 132"),
        Verify.Diagnostic().WithLocation(1).WithArguments("NoOwnershipFlagInTheCondition", "Connection", "Dispose does not release it on the path that leaves at line 154"));

    [Fact]
    public Task Type_that_releases_in_a_method_or_a_callback_of_its_own_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Data;
        using MySqlConnector;

        sealed class DelegateDisposable : IDisposable
        {
            private readonly Action _dispose;

            public DelegateDisposable(Action dispose) => _dispose = dispose;

            public void Dispose() => _dispose();
        }

        sealed class UpgradeConnectionManager
        {
            private readonly string _connectionString;
            private IDbConnection? _upgradeConnection;

            public UpgradeConnectionManager(string connectionString) => _connectionString = connectionString;

            public IDisposable OperationStarting()
            {
                _upgradeConnection = new MySqlConnection(_connectionString);
                _upgradeConnection.Open();
                return new DelegateDisposable(() =>
                {
                    _upgradeConnection.Dispose();
                    _upgradeConnection = null;
                });
            }
        }

        sealed class ScopedManager
        {
            private readonly string _connectionString;
            private MySqlConnection? _connection;

            public ScopedManager(string connectionString) => _connectionString = connectionString;

            public void Start()
            {
                _connection = new MySqlConnection(_connectionString);
                _connection.Open();
            }

            internal void CloseConnection()
            {
                _connection?.Dispose();
                _connection = null;
            }
        }
        """);

    [Fact]
    public Task Disposable_type_whose_inherited_Dispose_cannot_release_the_member_is_reported_even_beside_a_releasing_callback() => Verify.VerifyAnalyzerAsync("""
        using System;
        using MySqlConnector;

        class ServiceBase : IDisposable
        {
            public void Dispose() => Console.WriteLine("stopped");
        }

        sealed class DelegateDisposable : IDisposable
        {
            private readonly Action _dispose;

            public DelegateDisposable(Action dispose) => _dispose = dispose;

            public void Dispose() => _dispose();
        }

        sealed class UpgradeSession : ServiceBase
        {
            private readonly MySqlConnection {|#0:_connection|};

            public UpgradeSession(MySqlDataSource dataSource) => _connection = dataSource.OpenConnection();

            public IDisposable Lease() => new DelegateDisposable(() => _connection.Dispose());
        }

        // Not disposable: the callback it hands out is the way its connection goes back.
        sealed class UpgradeHandle
        {
            private readonly MySqlConnection _connection;

            public UpgradeHandle(MySqlDataSource dataSource) => _connection = dataSource.OpenConnection();

            public IDisposable Lease() => new DelegateDisposable(() => _connection.Dispose());
        }

        sealed class ReportSession : ServiceBase
        {
            private readonly MySqlConnection {|#1:_connection|};

            public ReportSession(MySqlDataSource dataSource) => _connection = dataSource.OpenConnection();
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("UpgradeSession", "_connection", "its Dispose, which it inherits, cannot release it"),
        Verify.Diagnostic().WithLocation(1).WithArguments("ReportSession", "_connection", "its Dispose, which it inherits, cannot release it"));

    [Fact]
    public Task Owner_released_by_the_hook_its_inherited_Dispose_calls_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Threading.Tasks;
        using MySqlConnector;

        abstract class OwnerBase : IDisposable, IAsyncDisposable
        {
            public void Dispose()
            {
                ReleaseResources();
                GC.SuppressFinalize(this);
            }

            public async ValueTask DisposeAsync()
            {
                await this.ReleaseResourcesAsync().ConfigureAwait(false);
                GC.SuppressFinalize(this);
            }

            protected abstract void ReleaseResources();

            protected virtual ValueTask ReleaseResourcesAsync()
            {
                ReleaseResources();
                return default;
            }
        }

        abstract class MiddleBase : OwnerBase
        {
        }

        sealed class ReportSession(MySqlDataSource dataSource) : MiddleBase
        {
            private readonly MySqlConnection _connection = dataSource.OpenConnection();

            protected override void ReleaseResources() => _connection.Dispose();

            protected override ValueTask ReleaseResourcesAsync() => _connection.DisposeAsync();
        }

        // The hook is overridden, but it does not release the connection.
        sealed class AuditSession(MySqlDataSource dataSource) : OwnerBase
        {
            private readonly MySqlConnection {|#0:_connection|} = dataSource.OpenConnection();

            protected override void ReleaseResources() => Console.WriteLine("audit closed");
        }

        // A virtual method the inherited Dispose never calls is no way to release it.
        sealed class UploadSession(MySqlDataSource dataSource) : OwnerBase
        {
            private readonly MySqlConnection {|#1:_connection|} = dataSource.OpenConnection();

            protected override void ReleaseResources() { }

            public override string ToString() { _connection.Dispose(); return "closed"; }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("AuditSession", "_connection", "ReleaseResources does not release it on the path that leaves at line 46"),
        Verify.Diagnostic().WithLocation(1).WithArguments("UploadSession", "_connection", "ReleaseResources does not release it on the path that leaves at line 54"));

    [Fact]
    public Task Dispose_that_calls_the_release_method_on_another_instance_of_the_type_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using MySqlConnector;

        sealed class NestedSession : IDisposable
        {
            private readonly MySqlConnection {|#0:_connection|};
            private readonly NestedSession? _parent;

            public NestedSession(MySqlDataSource dataSource, NestedSession? parent)
            {
                _parent = parent;
                _connection = dataSource.OpenConnection();
            }

            private void Close() => _connection.Dispose();

            public void Dispose() => _parent?.Close();
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("NestedSession", "_connection", "Dispose does not release it on the path that leaves at line 17"));

    [Fact]
    public Task Release_method_of_its_own_that_releases_only_sometimes_is_reported() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        sealed class ScopedManager
        {
            private readonly string _connectionString;
            private MySqlConnection? {|#0:_connection|};
            private int _users;

            public ScopedManager(string connectionString) => _connectionString = connectionString;

            public void Start()
            {
                _users++;
                _connection ??= new MySqlConnection(_connectionString);
                _connection.Open();
            }

            internal void CloseConnection()
            {
                if (--_users == 0)
                {
                    _connection?.Dispose();
                }
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("ScopedManager", "_connection", "CloseConnection does not release it on the path that leaves at line 20"));

    [Fact]
    public Task Pooled_object_that_goes_back_to_its_pool_with_its_connection_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Collections.Concurrent;
        using MySqlConnector;
        using Prelude;

        public sealed class PooledSession
        {
            private readonly SessionPool _owner;

            internal PooledSession(SessionPool owner, MySqlDataSource dataSource)
            {
                _owner = owner;
                Inner = dataSource.OpenConnection();
            }

            public MySqlConnection Inner { get; }

            public void Release() => _owner.Return(this);
        }

        public sealed class ForgetfulSession
        {
            internal ForgetfulSession(MySqlDataSource dataSource) => Inner = dataSource.OpenConnection();

            public MySqlConnection {|#0:Inner|} { get; }

            public void Release() => Log.Info("released " + this);
        }

        public sealed class SessionPool
        {
            private readonly ConcurrentBag<PooledSession> _idle = new();

            internal void Return(PooledSession session) => _idle.Add(session);
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("ForgetfulSession", "Inner", "Release does not release it on the path that leaves at line 26"));

    [Fact]
    public Task Pooled_object_that_gives_back_something_other_than_itself_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Collections.Generic;
        using MySqlConnector;

        public sealed class FlaggedSession
        {
            private readonly SessionPool _owner;

            internal FlaggedSession(SessionPool owner, MySqlDataSource dataSource)
            {
                _owner = owner;
                Inner = dataSource.OpenConnection();
            }

            public MySqlConnection Inner { get; }

            public void Release() => _owner.Return(this, broken: false);
        }

        public sealed class WatchedSession
        {
            private readonly Watcher _watcher;

            internal WatchedSession(Watcher watcher, MySqlDataSource dataSource)
            {
                _watcher = watcher;
                Inner = dataSource.OpenConnection();
            }

            public MySqlConnection {|#0:Inner|} { get; }

            public void Release() => _watcher.Forget(this);
        }

        public sealed class NamedSession
        {
            private readonly List<string> _released = new();

            internal NamedSession(MySqlDataSource dataSource) => Inner = dataSource.OpenConnection();

            public MySqlConnection {|#1:Inner|} { get; }

            public void Release() => _released.Add(Inner.Database);
        }

        public sealed class Watcher
        {
            internal void Forget(object session) { }
        }

        public sealed class SessionPool
        {
            private readonly Stack<FlaggedSession> _idle = new();

            internal void Return(FlaggedSession session, bool broken)
            {
                if (!broken)
                {
                    _idle.Push(session);
                }
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("WatchedSession", "Inner", "Release does not release it on the path that leaves at line 31"),
        Verify.Diagnostic().WithLocation(1).WithArguments("NamedSession", "Inner", "Release does not release it on the path that leaves at line 42"));

    [Fact]
    public void Descriptor_matches_the_contract()
    {
        var descriptor = Descriptors.OwnerDoesNotRelease;
        Assert.Equal("TDG005", descriptor.Id);
        Assert.Equal("Reliability", descriptor.Category);
        Assert.Equal(DiagnosticSeverity.Warning, descriptor.DefaultSeverity);
        Assert.Equal(Descriptors.HelpLinkBase + "TDG005.md", descriptor.HelpLinkUri);
    }

    // ---------------------------------------------------------------- a member opened only for the length of a call

    [Fact]
    public Task Type_whose_methods_open_the_member_and_close_it_again_on_every_path_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Data;
        using System.Threading.Tasks;
        using Dapper;
        using MySqlConnector;

        sealed class Repository
        {
            private readonly MySqlConnection _connection;

            public Repository(string connectionString) => _connection = new MySqlConnection(connectionString);

            public async Task<int> CountAsync()
            {
                await _connection.OpenAsync();
                try
                {
                    return await _connection.ExecuteScalarAsync<int>("select count(*) from customers");
                }
                finally
                {
                    await _connection.CloseAsync();
                }
            }

            public int Flagged()
            {
                var opened = false;
                if (_connection.State != ConnectionState.Open)
                {
                    _connection.Open();
                    opened = true;
                }

                try
                {
                    return _connection.Execute("select 1");
                }
                finally
                {
                    if (opened)
                    {
                        _connection.Close();
                    }
                }
            }
        }
        """);

    [Fact]
    public Task Type_with_one_method_that_leaves_the_member_open_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using Dapper;
        using MySqlConnector;

        sealed class Repository
        {
            private readonly MySqlConnection {|#0:_connection|};

            public Repository(string connectionString) => _connection = new MySqlConnection(connectionString);

            public async Task<int> CountAsync()
            {
                await _connection.OpenAsync();
                try
                {
                    return await _connection.ExecuteScalarAsync<int>("select count(*) from customers");
                }
                finally
                {
                    await _connection.CloseAsync();
                }
            }

            public void Warm() => _connection.Open();
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("Repository", "_connection", "is not disposable, so nothing can release it"));

    [Fact]
    public Task Type_whose_method_closes_the_member_only_when_nothing_fails_is_reported() => Verify.VerifyAnalyzerAsync("""
        using Dapper;
        using MySqlConnector;

        sealed class Repository
        {
            private readonly MySqlConnection {|#0:_connection|};

            public Repository(string connectionString) => _connection = new MySqlConnection(connectionString);

            public int Touch()
            {
                _connection.Open();
                var rows = _connection.Execute("update customers set seen = now()");
                _connection.Close();
                return rows;
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("Repository", "_connection", "Touch does not release it if an exception is thrown at line 12"));

    [FieldKeywordFact]
    public Task Type_that_keeps_a_connection_in_the_field_of_a_property_and_is_not_disposable_is_reported() => VerifyPreviewAsync("""
        using MySqlConnector;

        sealed class ReportSession(MySqlDataSource dataSource)
        {
            public MySqlConnection {|#0:Connection|} => field ??= dataSource.OpenConnection();
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("ReportSession", "Connection", "is not disposable, so nothing can release it"));

    [Theory]
    [InlineData("object")]
    [InlineData("System.Threading.Lock")]
    public Task Owner_that_releases_under_a_lock_in_Dispose_is_not_reported(string gate) => Verify.VerifyAnalyzerAsync($$"""
        using System;
        using MySqlConnector;

        sealed class PinnedSession : IDisposable
        {
            private readonly {{gate}} _gate = new();
            private MySqlConnection? _connection;

            public MySqlConnection Get(MySqlDataSource dataSource)
            {
                lock (_gate)
                {
                    return _connection ??= dataSource.OpenConnection();
                }
            }

            public void Dispose()
            {
                lock (_gate)
                {
                    _connection?.Dispose();
                    _connection = null;
                }
            }
        }
        """);

    [Theory]
    [InlineData("object")]
    [InlineData("System.Threading.Lock")]
    public Task Owner_whose_Dispose_calls_out_under_a_lock_before_the_release_is_reported(string gate) => Verify.VerifyAnalyzerAsync($$"""
        using System;
        using MySqlConnector;

        sealed class PinnedSession : IDisposable
        {
            private readonly {{gate}} _gate = new();
            private MySqlConnection? {|#0:_connection|};

            public MySqlConnection Get(MySqlDataSource dataSource)
            {
                lock (_gate)
                {
                    return _connection ??= dataSource.OpenConnection();
                }
            }

            public void Dispose()
            {
                lock (_gate)
                {
                    Console.Out.Flush();
                    _connection?.Dispose();
                }
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("PinnedSession", "_connection", "Dispose does not release it if an exception is thrown at line 21"));

    [Fact]
    public Task Service_that_releases_in_a_stop_method_taking_a_cancellation_token_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading;
        using System.Threading.Tasks;
        using MySqlConnector;

        interface IHostedService
        {
            Task StartAsync(CancellationToken cancellationToken);
            Task StopAsync(CancellationToken cancellationToken);
        }

        sealed class Listener(MySqlDataSource dataSource) : IHostedService
        {
            private MySqlConnection? _connection;

            public async Task StartAsync(CancellationToken cancellationToken) =>
                _connection = await dataSource.OpenConnectionAsync(cancellationToken);

            public async Task StopAsync(CancellationToken cancellationToken)
            {
                if (_connection is not null)
                {
                    await _connection.DisposeAsync();
                    _connection = null;
                }
            }
        }
        """);

    /// <summary>
    /// A stop method that takes the member into a local first (clearing the member, or swapping it out) and releases the
    /// local: the same release as in a Dispose method, which the walk already follows through the copy.
    /// </summary>
    [Theory]
    [InlineData("var c = _c;\n        _c = null;\n        if (c is not null) await c.DisposeAsync();")]
    [InlineData("var c = _c;\n        _c = null;\n        if (c != null)\n        {\n            await c.DisposeAsync();\n        }")]
    [InlineData("Interlocked.Exchange(ref _c, null)?.Dispose();\n        await Task.CompletedTask;")]
    [InlineData("var c = Interlocked.Exchange(ref _c, null);\n        if (c is not null) await c.DisposeAsync();")]
    [InlineData("var c = _c;\n        _c = null;\n        c?.Dispose();\n        await Task.CompletedTask;")]
    [InlineData("if (_c is { } c)\n        {\n            _c = null;\n            await c.DisposeAsync();\n        }")]
    public Task Hosted_service_that_releases_its_member_through_a_copy_in_StopAsync_is_not_reported(string release) => Verify.VerifyAnalyzerAsync($$"""
        using System.Threading;
        using System.Threading.Tasks;
        using Microsoft.Extensions.Hosting;
        using MySqlConnector;

        sealed class Holder(MySqlDataSource ds) : IHostedService
        {
            private MySqlConnection? _c;

            public async Task StartAsync(CancellationToken ct) => _c = await ds.OpenConnectionAsync(ct);

            public async Task StopAsync(CancellationToken ct)
            {
                {{release}}
            }
        }
        """);

    /// <summary>The same copies in a parameterless method of its own ('Shutdown()'), which whoever ends the object's life calls.</summary>
    [Theory]
    [InlineData("var c = _c;\n        _c = null;\n        c?.Dispose();")]
    [InlineData("Interlocked.Exchange(ref _c, null)?.Dispose();")]
    [InlineData("var c = _c;\n        if (c is null) return;\n        _c = null;\n        c.Close();")]
    public Task Type_that_releases_its_member_through_a_copy_in_a_method_of_its_own_is_not_reported(string release) => Verify.VerifyAnalyzerAsync($$"""
        using System.Threading;
        using MySqlConnector;

        sealed class Session(MySqlDataSource ds)
        {
            private MySqlConnection? _c;

            public void Open() => _c = ds.OpenConnection();

            public void Shutdown()
            {
                {{release}}
            }
        }
        """);

    /// <summary>A copy that is not released, or released only on some path: still reported, as the member itself would be.</summary>
    [Theory]
    [InlineData("var c = _c;\n        _c = null;\n        await Task.Delay(1, ct);", "is not disposable, so nothing can release it")]
    [InlineData("var c = _c;\n        _c = null;\n        await Task.Delay(1, ct);\n        c?.Dispose();", "StopAsync does not release it if an exception is thrown at line 16")]
    [InlineData("var c = _c;\n        _c = null;\n        if (ct.IsCancellationRequested) return;\n        c?.Dispose();", "StopAsync does not release it on the path that leaves at line 16")]
    [InlineData("var c = Interlocked.Exchange(ref _c, null);\n        c?.ToString();", "is not disposable, so nothing can release it")]
    public Task Hosted_service_whose_copy_in_StopAsync_is_not_released_on_every_path_is_reported(string release, string problem) => Verify.VerifyAnalyzerAsync($$"""
        using System.Threading;
        using System.Threading.Tasks;
        using Microsoft.Extensions.Hosting;
        using MySqlConnector;

        sealed class Holder(MySqlDataSource ds) : IHostedService
        {
            private MySqlConnection? {|#0:_c|};

            public async Task StartAsync(CancellationToken ct) => _c = await ds.OpenConnectionAsync(ct);

            public async Task StopAsync(CancellationToken ct)
            {
                {{release}}
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("Holder", "_c", problem));

    [Fact]
    public Task Service_whose_stop_method_can_skip_the_release_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading;
        using System.Threading.Tasks;
        using MySqlConnector;

        sealed class Listener(MySqlDataSource dataSource)
        {
            private MySqlConnection? {|#0:_connection|};

            public async Task StartAsync(CancellationToken cancellationToken) =>
                _connection = await dataSource.OpenConnectionAsync(cancellationToken);

            public async Task StopAsync(CancellationToken cancellationToken)
            {
                await Task.Delay(100, cancellationToken);
                await _connection!.DisposeAsync();
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("Listener", "_connection", "StopAsync does not release it if an exception is thrown at line 14"));

    [Fact]
    public Task Type_whose_only_release_takes_other_arguments_is_still_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using MySqlConnector;

        sealed class Listener(MySqlDataSource dataSource)
        {
            private MySqlConnection? {|#0:_connection|};

            public async Task StartAsync() => _connection = await dataSource.OpenConnectionAsync();

            public async Task StopAsync(bool drain)
            {
                if (drain)
                {
                    await _connection!.DisposeAsync();
                }
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("Listener", "_connection", "is not disposable, so nothing can release it"));

    [Theory]
    [InlineData("_connection!.Dispose()")]
    [InlineData("(_connection!).Dispose()")]
    [InlineData("this._connection!.Dispose()")]
    [InlineData("((System.IDisposable)_connection!).Dispose()")]
    [InlineData("(_connection as System.IDisposable)?.Dispose()")]
    public Task Type_that_releases_through_a_cast_or_the_null_forgiving_operator_in_a_method_of_its_own_is_not_reported(string release) => Verify.VerifyAnalyzerAsync($$"""
        using MySqlConnector;

        sealed class Session(MySqlDataSource dataSource)
        {
            private MySqlConnection? _connection;

            public void Open() => _connection = dataSource.OpenConnection();

            public void Shutdown() => {{release}};
        }
        """);

    [Theory]
    [InlineData("System.Data.Common.DbConnection?", "public void Open() => _connection = dataSource.OpenConnection();")]
    [InlineData("object?", "public void Open() => _connection = (object)dataSource.OpenConnection();")]
    [InlineData("MySqlConnection?", "public async Task OpenAsync() => _connection = await dataSource.OpenConnectionAsync().ConfigureAwait(false);")]
    [InlineData("System.IAsyncDisposable?", "public async Task OpenAsync() => _connection = await dataSource.OpenConnectionAsync().ConfigureAwait(false);")]
    public Task Connection_stored_through_a_conversion_or_ConfigureAwait_is_owned(string fieldType, string open) => Verify.VerifyAnalyzerAsync($$"""
        using System.Threading.Tasks;
        using MySqlConnector;

        sealed class Session(MySqlDataSource dataSource)
        {
            private {{fieldType}} {|#0:_connection|};

            {{open}}
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("Session", "_connection", "is not disposable, so nothing can release it"));

    private static Task VerifyPreviewAsync(string source, params Microsoft.CodeAnalysis.Testing.DiagnosticResult[] expected)
    {
        var test = Verify.CreateTest(source);
        test.SolutionTransforms.Add((solution, projectId) =>
        {
            var options = (Microsoft.CodeAnalysis.CSharp.CSharpParseOptions)solution.GetProject(projectId)!.ParseOptions!;
            return solution.WithProjectParseOptions(projectId, options.WithLanguageVersion(Microsoft.CodeAnalysis.CSharp.LanguageVersion.Preview));
        });
        test.ExpectedDiagnostics.AddRange(expected);
        return test.RunAsync(CancellationToken.None);
    }

    [Fact]
    public Task Type_whose_partial_Close_releases_the_connection_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using MySqlConnector;

        sealed partial class ReportSession
        {
            private readonly MySqlConnection _connection;

            public ReportSession(MySqlDataSource dataSource)
            {
                _connection = dataSource.OpenConnection();
            }

            public partial void Close();
        }

        sealed partial class ReportSession
        {
            public partial void Close() => _connection.Close();
        }
        """);

    [Fact]
    public Task Type_that_is_not_disposable_is_judged_by_its_Close_not_by_other_methods_that_close_the_connection() => Verify.VerifyAnalyzerAsync("""
        using System;
        using MySqlConnector;

        sealed class ReportSession
        {
            private readonly MySqlDataSource _dataSource;
            private MySqlConnection _connection;

            public ReportSession(MySqlDataSource dataSource)
            {
                _dataSource = dataSource;
                _connection = dataSource.OpenConnection();
            }

            public void Close() => _connection.Close();

            public void Reconnect()
            {
                Console.WriteLine("reconnecting");
                _connection.Close();
                _connection = _dataSource.OpenConnection();
            }
        }
        """);

    [Fact]
    public Task Connection_the_type_puts_in_a_collection_it_releases_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Collections.Generic;
        using MySqlConnector;

        sealed class ReportSession : IDisposable
        {
            private readonly List<IDisposable> _owned = new();
            private readonly MySqlConnection _connection;

            public ReportSession(MySqlDataSource dataSource)
            {
                _connection = dataSource.OpenConnection();
                _owned.Add(_connection);
            }

            public void Dispose()
            {
                foreach (var item in _owned)
                {
                    item.Dispose();
                }
            }
        }

        sealed class AuditedSession : IDisposable
        {
            private readonly List<string> _seen = new();
            private readonly Dictionary<string, object> _tags = new();
            private readonly MySqlConnection {|#0:_connection|};

            public AuditedSession(MySqlDataSource dataSource)
            {
                _connection = dataSource.OpenConnection();
                _seen.Add(_connection.Database);
                _tags["connection"] = _connection.ServerVersion;
            }

            public void Dispose() => _seen.Clear();
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("AuditedSession", "_connection", "Dispose does not release it on the path that leaves at line 38"));
}
