using Microsoft.CodeAnalysis.CSharp;
using TenantDbGuard.Analyzers.Tests.FixExecution;
using TenantDbGuard.Analyzers.Tests.Verifiers;
using TenantDbGuard.CodeFixes;
using Verify = TenantDbGuard.Analyzers.Tests.Verifiers.CSharpCodeFixVerifier<TenantDbGuard.Analyzers.ConnectionOwnerAnalyzer, TenantDbGuard.CodeFixes.ConnectionOwnerCodeFixProvider>;

namespace TenantDbGuard.Analyzers.Tests;

/// <summary>TDG005's fix: release the owned member in Dispose in a finally, or make the type disposable.</summary>
public sealed class ConnectionOwnerCodeFixTests
{
    [Fact]
    public Task Type_that_is_not_disposable_becomes_IDisposable() => Verify.VerifyCodeFixAsync("""
        using MySqlConnector;

        sealed class ReportSession
        {
            private readonly MySqlConnection [|_connection|];

            public ReportSession(MySqlDataSource dataSource) => _connection = dataSource.OpenConnection();

            public object? Count()
            {
                using var cmd = new MySqlCommand("select count(*) from invoices", _connection);
                return cmd.ExecuteScalar();
            }
        }
        """, """
        using MySqlConnector;

        sealed class ReportSession : System.IDisposable
        {
            private readonly MySqlConnection _connection;

            public ReportSession(MySqlDataSource dataSource) => _connection = dataSource.OpenConnection();

            public object? Count()
            {
                using var cmd = new MySqlCommand("select count(*) from invoices", _connection);
                return cmd.ExecuteScalar();
            }

            public void Dispose()
            {
                _connection.Dispose();
            }
        }
        """);

    [Fact]
    public Task Type_with_a_base_type_keeps_its_own_layout() => Verify.VerifyCodeFixAsync("""
        using MySqlConnector;

        abstract class Benchmark
        {
            public virtual void SetUp() { }
        }

        class QueryBenchmark : Benchmark
        {
            MySqlConnection [|connection|];

            public void Open(MySqlDataSource dataSource)
            {
                connection = dataSource.OpenConnection();
            }
        BLANK
            public object? Count()
            {
                using var cmd = new MySqlCommand("select count(*) from invoices", connection);
        BLANK
                return cmd.ExecuteScalar();
            }
        }
        """.Replace("BLANK", "    "), """
        using MySqlConnector;

        abstract class Benchmark
        {
            public virtual void SetUp() { }
        }

        class QueryBenchmark : Benchmark, System.IDisposable
        {
            MySqlConnection connection;

            public void Open(MySqlDataSource dataSource)
            {
                connection = dataSource.OpenConnection();
            }
        BLANK
            public object? Count()
            {
                using var cmd = new MySqlCommand("select count(*) from invoices", connection);
        BLANK
                return cmd.ExecuteScalar();
            }

            public void Dispose()
            {
                connection?.Dispose();
            }
        }
        """.Replace("BLANK", "    "));

    [Fact]
    public Task Async_owner_that_is_not_disposable_becomes_IAsyncDisposable() => Verify.VerifyCodeFixAsync("""
        using System;
        using System.Threading.Tasks;
        using MySqlConnector;

        sealed class ReportSession
        {
            private MySqlConnection? [|_connection|];

            public async Task StartAsync(MySqlDataSource dataSource) => _connection = await dataSource.OpenConnectionAsync();
        }
        """, """
        using System;
        using System.Threading.Tasks;
        using MySqlConnector;

        sealed class ReportSession : IAsyncDisposable
        {
            private MySqlConnection? _connection;

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
    public Task Release_moved_into_finally_keeps_ConfigureAwait_false_where_DisposeAsync_uses_it() => Verify.VerifyCodeFixAsync("""
        using System;
        using System.Threading.Tasks;
        using Prelude;

        sealed class Session : IAsyncDisposable
        {
            private readonly ConnectionLease [|_lease|];

            public Session(LeasePool pool) => _lease = pool.GetConnection();

            private Task FlushAsync() => Task.CompletedTask;

            public async ValueTask DisposeAsync()
            {
                await FlushAsync().ConfigureAwait(false);
                await _lease.DisposeAsync().ConfigureAwait(false);
            }
        }
        """, """
        using System;
        using System.Threading.Tasks;
        using Prelude;

        sealed class Session : IAsyncDisposable
        {
            private readonly ConnectionLease _lease;

            public Session(LeasePool pool) => _lease = pool.GetConnection();

            private Task FlushAsync() => Task.CompletedTask;

            public async ValueTask DisposeAsync()
            {
                try
                {
                    await FlushAsync().ConfigureAwait(false);
                }
                finally
                {
                    await _lease.DisposeAsync().ConfigureAwait(false);
                }
            }
        }
        """);

    // A false argument of another call is not a ConfigureAwait(false) the release should keep to.
    [Fact]
    public Task Release_moved_into_finally_takes_no_ConfigureAwait_from_another_call_s_false() => Verify.VerifyCodeFixAsync("""
        using System;
        using System.Threading.Tasks;
        using Prelude;

        sealed class Session : IAsyncDisposable
        {
            private readonly ConnectionLease [|_lease|];

            public Session(LeasePool pool) => _lease = pool.GetConnection();

            private Task FlushAsync(bool force) => Task.CompletedTask;

            public async ValueTask DisposeAsync()
            {
                await FlushAsync(false);
                await _lease.DisposeAsync();
            }
        }
        """, """
        using System;
        using System.Threading.Tasks;
        using Prelude;

        sealed class Session : IAsyncDisposable
        {
            private readonly ConnectionLease _lease;

            public Session(LeasePool pool) => _lease = pool.GetConnection();

            private Task FlushAsync(bool force) => Task.CompletedTask;

            public async ValueTask DisposeAsync()
            {
                try
                {
                    await FlushAsync(false);
                }
                finally
                {
                    await _lease.DisposeAsync();
                }
            }
        }
        """);

    [Fact]
    public Task Release_goes_into_the_dispose_method_that_forgets_it_when_the_type_has_both() => Verify.VerifyCodeFixAsync("""
        using System;
        using System.Threading.Tasks;
        using Prelude;

        sealed class Session : IDisposable, IAsyncDisposable
        {
            private readonly ConnectionLease [|_lease|];

            public Session(LeasePool pool) => _lease = pool.GetConnection();

            private Task FlushAsync() => Task.CompletedTask;

            public void Dispose() => _lease.Dispose();

            public async ValueTask DisposeAsync()
            {
                await FlushAsync();
                await _lease.DisposeAsync();
            }
        }
        """, """
        using System;
        using System.Threading.Tasks;
        using Prelude;

        sealed class Session : IDisposable, IAsyncDisposable
        {
            private readonly ConnectionLease _lease;

            public Session(LeasePool pool) => _lease = pool.GetConnection();

            private Task FlushAsync() => Task.CompletedTask;

            public void Dispose() => _lease.Dispose();

            public async ValueTask DisposeAsync()
            {
                try
                {
                    await FlushAsync();
                }
                finally
                {
                    await _lease.DisposeAsync();
                }
            }
        }
        """);

    // A return inside a lambda or a local function leaves that function, not Dispose: the release still moves into a finally.
    [Theory]
    [InlineData("Notify(() =>\n        {\n            if (_closed)\n            {\n                return;\n            }\n\n            _closed = true;\n        });")]
    [InlineData("Mark();\n\n        void Mark()\n        {\n            if (_closed)\n            {\n                return;\n            }\n\n            _closed = true;\n        }")]
    public Task Release_moves_into_finally_past_a_return_inside_a_function_of_Dispose(string before) => Verify.VerifyCodeFixAsync($$"""
        using System;
        using Prelude;

        sealed class Session : IDisposable
        {
            private readonly ConnectionLease [|_lease|];
            private bool _closed;

            public Session(LeasePool pool) => _lease = pool.GetConnection();

            private static void Notify(Action action) => action();

            public void Dispose()
            {
                {{before}}
                _lease.Dispose();
            }
        }
        """, $$"""
        using System;
        using Prelude;

        sealed class Session : IDisposable
        {
            private readonly ConnectionLease _lease;
            private bool _closed;

            public Session(LeasePool pool) => _lease = pool.GetConnection();

            private static void Notify(Action action) => action();

            public void Dispose()
            {
                try
                {
                    {{before.Replace("\n", "\n    ").Replace("\n    \n", "\n\n")}}
                }
                finally
                {
                    _lease.Dispose();
                }
            }
        }
        """);

    // A return before the release, inside an if that does more than return: the release does not run on that path
    // today, and a finally would add it there.
    // A member that is only IAsyncDisposable has no Dispose to call: the type becomes IAsyncDisposable.
    [Fact]
    public Task Member_that_is_only_async_disposable_makes_the_type_async_disposable() => Verify.VerifyCodeFixAsync("""
        using System;
        using System.Threading.Tasks;
        using MySqlConnector;

        sealed class Channel : IAsyncDisposable
        {
            public Channel(MySqlConnection connection) => Connection = connection;

            public MySqlConnection Connection { get; }

            public ValueTask DisposeAsync() => Connection.DisposeAsync();
        }

        sealed class ReportScope
        {
            private readonly Channel [|_channel|];

            public ReportScope(MySqlDataSource dataSource) => _channel = new Channel(dataSource.OpenConnection());

            public int Count() => 1;
        }
        """, """
        using System;
        using System.Threading.Tasks;
        using MySqlConnector;

        sealed class Channel : IAsyncDisposable
        {
            public Channel(MySqlConnection connection) => Connection = connection;

            public MySqlConnection Connection { get; }

            public ValueTask DisposeAsync() => Connection.DisposeAsync();
        }

        sealed class ReportScope : IAsyncDisposable
        {
            private readonly Channel _channel;

            public ReportScope(MySqlDataSource dataSource) => _channel = new Channel(dataSource.OpenConnection());

            public int Count() => 1;

            public async ValueTask DisposeAsync()
            {
                await _channel.DisposeAsync();
            }
        }
        """);

    // Disposable through its base class, whose Dispose is not this type's to change: IDisposable again with a Dispose of
    // its own would take the interface from the base's (explicit) Dispose, which would no longer run.
    [Fact]
    public Task Member_of_a_type_disposable_through_its_base_class_gets_no_fix() => NoFixVerifier.VerifyOwnerAsync("""
        using System;
        using Prelude;

        abstract class Unit : IDisposable
        {
            void IDisposable.Dispose() => Log.Info("unit done");
        }

        sealed class Session : Unit
        {
            private readonly ConnectionLease [|_lease|];

            public Session(LeasePool pool) => _lease = pool.GetConnection();

            public int Count() => _lease.Execute("select count(*) from sessions");
        }
        """);

    [Fact]
    public Task Release_after_a_return_nested_in_an_if_gets_no_fix() => NoFixVerifier.VerifyOwnerAsync("""
        using System;
        using Prelude;

        sealed class Session : IDisposable
        {
            private readonly ConnectionLease [|_lease|];
            private bool _closed;

            public Session(LeasePool pool) => _lease = pool.GetConnection();

            private static void Flush() { }

            public void Dispose()
            {
                if (_closed)
                {
                    Log.Info("closed twice");
                    return;
                }

                Flush();
                _lease.Dispose();
            }
        }
        """);

    // A return on the connection's own state ('already closed'): the code chose not to release it on that path. A guard
    // kept before a try would still skip the release there, and one moved into the try would release what the code
    // skips: no fix either way. (A guard on anything else, or on the member being null, stays before the try.)
    [Fact]
    public Task Release_after_a_return_on_the_member_s_own_state_gets_no_fix() => NoFixVerifier.VerifyOwnerAsync("""
        using System;
        using System.Data;
        using MySqlConnector;

        sealed class ImportJob : IDisposable
        {
            private readonly MySqlConnection [|_connection|];
            private MySqlTransaction? _transaction;

            public ImportJob(MySqlDataSource dataSource) => _connection = dataSource.OpenConnection();

            public void Begin() => _transaction = _connection.BeginTransaction();

            public void Dispose()
            {
                if (_connection.State == ConnectionState.Closed)
                {
                    return;
                }

                _transaction?.Dispose();
                _connection.Dispose();
            }
        }
        """);

    // 'Interlocked.Exchange(ref _lease, null)?.Dispose()' gives the member back under another name: a release of the
    // fix's own in a finally would be the second.
    [Fact]
    public Task Member_given_back_through_a_ref_argument_gets_no_fix() => NoFixVerifier.VerifyOwnerAsync("""
        using System;
        using System.Threading;
        using Prelude;

        sealed class Session : IDisposable
        {
            private ConnectionLease? [|_lease|];

            public Session(LeasePool pool) => _lease = pool.GetConnection();

            private static void Flush() { }

            public void Dispose()
            {
                Flush();
                Interlocked.Exchange(ref _lease, null)?.Dispose();
            }
        }
        """);

    // Also in a file written with CRLF line ends: the Dispose the fix writes, and the line break before it, end the same way.
    [Theory]
    [InlineData("\n")]
    [InlineData("\r\n")]
    public Task Pooled_connection_without_Dispose_is_released_with_Release(string lineEnd) => Verify.VerifyCodeFixAsync("""
        using System;
        using Prelude;

        sealed class ImportBatch
        {
            public ImportBatch(Pool pool) => Connection = pool.GetConnection();

            public PooledConnection [|Connection|] { get; }
        }
        """.ReplaceLineEndings(lineEnd), """
        using System;
        using Prelude;

        sealed class ImportBatch : IDisposable
        {
            public ImportBatch(Pool pool) => Connection = pool.GetConnection();

            public PooledConnection Connection { get; }

            public void Dispose()
            {
                Connection.Release();
            }
        }
        """.ReplaceLineEndings(lineEnd));

    [Theory]
    [InlineData("ImportBatch(Pool pool)", "ImportBatch(Pool pool) : IDisposable")]
    [InlineData("ImportBatch(Pool pool) // owns a connection", "ImportBatch(Pool pool) : IDisposable // owns a connection")]
    public Task Type_made_disposable_gets_its_base_list_after_its_primary_constructor(string header, string fixedHeader) =>
        Verify.VerifyCodeFixAsync($$"""
            using System;
            using Prelude;

            sealed class {{header}}
            {
                public PooledConnection [|Connection|] { get; } = pool.GetConnection();
            }
            """, $$"""
            using System;
            using Prelude;

            sealed class {{fixedHeader}}
            {
                public PooledConnection Connection { get; } = pool.GetConnection();

                public void Dispose()
                {
                    Connection.Release();
                }
            }
            """);

    [Fact]
    public async Task Member_whose_type_has_no_release_of_its_own_gets_no_fix()
    {
        // Given back only by a method of its pool ('pool.Return(connection)'): the owner has no pool to call, and the
        // member's type has neither Dispose nor Release.
        const string source = """
            sealed class LegacyConnection
            {
                public int Execute(string sql) => 0;
            }

            sealed class LegacyPool
            {
                public LegacyConnection Rent() => new LegacyConnection();

                public void Return(LegacyConnection connection) { }
            }

            sealed class ImportBatch
            {
                public ImportBatch(LegacyPool pool) => Connection = pool.Rent();

                public LegacyConnection [|Connection|] { get; }
            }
            """;
        await Verify.VerifyCodeFixWithEditorConfigAsync(source, source, "tenantdbguard.acquire_methods = LegacyPool.Rent\ntenantdbguard.release_methods = LegacyPool.Return\n");
    }

    [Fact]
    public Task A_diagnostic_on_something_other_than_a_field_or_a_property_gets_no_fix() => NoFixVerifier.VerifyOwnerAsync("""
        using MySqlConnector;

        sealed class Session
        {
            private readonly MySqlConnection _connection;

            public Session(MySqlDataSource dataSource) => _connection = dataSource.OpenConnection();

            public object? [|Count|]() => new MySqlCommand("select count(*) from invoices", _connection).ExecuteScalar();

            public event System.Action [|Opened|] { add { } remove { } }
        }
        """);

    [Fact]
    public Task Sequential_disposes_get_the_release_in_a_finally() => Verify.VerifyCodeFixAsync("""
        using System;
        using MySqlConnector;

        sealed class ImportJob : IDisposable
        {
            private readonly MySqlConnection [|_connection|];
            private MySqlTransaction? _transaction;
            private bool _disposed;

            public ImportJob(MySqlDataSource dataSource) => _connection = dataSource.OpenConnection();

            public void Begin() => _transaction = _connection.BeginTransaction();

            public void Dispose()
            {
                if (_disposed)
                {
                    return;
                }

                _disposed = true;
                _transaction?.Dispose();
                _connection.Dispose();
            }
        }
        """, """
        using System;
        using MySqlConnector;

        sealed class ImportJob : IDisposable
        {
            private readonly MySqlConnection _connection;
            private MySqlTransaction? _transaction;
            private bool _disposed;

            public ImportJob(MySqlDataSource dataSource) => _connection = dataSource.OpenConnection();

            public void Begin() => _transaction = _connection.BeginTransaction();

            public void Dispose()
            {
                if (_disposed)
                {
                    return;
                }

                try
                {
                    _disposed = true;
                    _transaction?.Dispose();
                }
                finally
                {
                    _connection.Dispose();
                }
            }
        }
        """);

    /// <summary>A job whose <c>Dispose</c> releases its connection after its transaction, as <paramref name="release"/>.</summary>
    private static string ImportJob(string release, bool marked = true) => $$"""
        using System;
        using MySqlConnector;

        sealed class ImportJob : IDisposable
        {
            private readonly MySqlConnection {{(marked ? "[|_connection|]" : "_connection")}};
            private MySqlTransaction? _transaction;

            public ImportJob(MySqlDataSource dataSource) => _connection = dataSource.OpenConnection();

            public void Begin() => _transaction = _connection.BeginTransaction();

            private static void Close(MySqlConnection connection) => connection.Dispose();

            public void Dispose()
            {
                {{release}}
            }
        }
        """;

    // The member's own release, written with parentheses or '!', is the one that moves into the finally.
    [Theory]
    [InlineData("_connection!.Dispose();")]
    [InlineData("(_connection).Dispose();")]
    [InlineData("this._connection!.Dispose();")]
    public Task Release_written_with_parentheses_or_a_null_forgiving_operator_moves_into_finally(string release) => Verify.VerifyCodeFixAsync(
        ImportJob("_transaction?.Dispose();\n        " + release),
        ImportJob("try\n        {\n            _transaction?.Dispose();\n        }\n        finally\n        {\n            _connection.Dispose();\n        }", marked: false));

    // Released through a value the fix cannot follow (a call bound when it runs, a helper of the type, a local): a
    // release in a finally would be a second one.
    [Theory]
    [InlineData("((dynamic)_connection).Dispose();")]
    [InlineData("((IDisposable)_connection).Dispose();")]
    [InlineData("Close(_connection);")]
    [InlineData("var connection = _connection;\n        connection.Dispose();")]
    [InlineData("if (_connection is { } open)\n        {\n            open.Dispose();\n        }\n")]
    public Task Release_through_a_value_the_fix_cannot_follow_gets_no_fix(string release) => NoFixVerifier.VerifyOwnerAsync(
        ImportJob("_transaction?.Dispose();\n        " + release));

    [Theory]
    [InlineData("public ValueTask DisposeAsync() => _audit?.DisposeAsync() ?? default;", "await (_audit?.DisposeAsync() ?? default);")]
    [InlineData("public async ValueTask DisposeAsync() => await (_audit?.DisposeAsync() ?? default);", "await (_audit?.DisposeAsync() ?? default);")]
    // A call needs no parentheses under the await.
    [InlineData("public ValueTask DisposeAsync() => _audit!.DisposeAsync();", "await _audit!.DisposeAsync();")]
    public Task DisposeAsync_that_forgets_the_connection_releases_it(string disposeAsync, string awaited) => Verify.VerifyCodeFixAsync($$"""
        using System;
        using System.Threading.Tasks;
        using MySqlConnector;

        sealed class ReportScope : IAsyncDisposable
        {
            private readonly MySqlTransaction? _audit;

            public MySqlConnection? [|Connection|] { get; private set; }

            public async Task OpenAsync(MySqlDataSource dataSource) => Connection = await dataSource.OpenConnectionAsync();

            {{disposeAsync}}
        }
        """, $$"""
        using System;
        using System.Threading.Tasks;
        using MySqlConnector;

        sealed class ReportScope : IAsyncDisposable
        {
            private readonly MySqlTransaction? _audit;

            public MySqlConnection? Connection { get; private set; }

            public async Task OpenAsync(MySqlDataSource dataSource) => Connection = await dataSource.OpenConnectionAsync();

            public async ValueTask DisposeAsync()
            {
                try
                {
                    {{awaited}}
                }
                finally
                {
                    if (Connection is not null)
                    {
                        await Connection.DisposeAsync();
                    }
                }
            }
        }
        """);

    [Fact]
    public Task Expression_bodied_Dispose_that_forgets_the_connection_releases_it_in_finally() => Verify.VerifyCodeFixAsync("""
        using System;
        using System.Threading.Tasks;
        using MySqlConnector;

        sealed class ReportScope : IDisposable
        {
            private readonly MySqlTransaction? _audit;

            public MySqlConnection? [|Connection|] { get; private set; }

            public async Task OpenAsync(MySqlDataSource dataSource) => Connection = await dataSource.OpenConnectionAsync();

            public void Dispose() => _audit?.Dispose();
        }
        """, """
        using System;
        using System.Threading.Tasks;
        using MySqlConnector;

        sealed class ReportScope : IDisposable
        {
            private readonly MySqlTransaction? _audit;

            public MySqlConnection? Connection { get; private set; }

            public async Task OpenAsync(MySqlDataSource dataSource) => Connection = await dataSource.OpenConnectionAsync();

            public void Dispose()
            {
                try
                {
                    _audit?.Dispose();
                }
                finally
                {
                    Connection?.Dispose();
                }
            }
        }
        """);

    [Theory]
    [InlineData("ValueTask.CompletedTask")]
    [InlineData("default")]
    [InlineData("default(ValueTask)")]
    public Task DisposeAsync_that_does_nothing_gets_only_the_release(string nothing) => Verify.VerifyCodeFixAsync($$"""
        using System;
        using System.Threading.Tasks;
        using MySqlConnector;

        sealed class ReportScope : IAsyncDisposable
        {
            public MySqlConnection? [|Connection|] { get; private set; }

            public async Task OpenAsync(MySqlDataSource dataSource) => Connection = await dataSource.OpenConnectionAsync();

            public ValueTask DisposeAsync() => {{nothing}};
        }
        """, """
        using System;
        using System.Threading.Tasks;
        using MySqlConnector;

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
        """);

    [Fact]
    public Task Of_Dispose_and_DisposeAsync_the_one_that_forgets_the_connection_gets_the_release() => Verify.VerifyCodeFixAsync("""
        using System;
        using System.Threading.Tasks;
        using MySqlConnector;

        sealed class ReportScope : IDisposable, IAsyncDisposable
        {
            private readonly MySqlTransaction? _audit;

            public MySqlConnection? [|Connection|] { get; private set; }

            public async Task OpenAsync(MySqlDataSource dataSource) => Connection = await dataSource.OpenConnectionAsync();

            public void Dispose() => Connection?.Dispose();

            public ValueTask DisposeAsync() => _audit?.DisposeAsync() ?? default;
        }
        """, """
        using System;
        using System.Threading.Tasks;
        using MySqlConnector;

        sealed class ReportScope : IDisposable, IAsyncDisposable
        {
            private readonly MySqlTransaction? _audit;

            public MySqlConnection? Connection { get; private set; }

            public async Task OpenAsync(MySqlDataSource dataSource) => Connection = await dataSource.OpenConnectionAsync();

            public void Dispose() => Connection?.Dispose();

            public async ValueTask DisposeAsync()
            {
                try
                {
                    await (_audit?.DisposeAsync() ?? default);
                }
                finally
                {
                    if (Connection is not null)
                    {
                        await Connection.DisposeAsync();
                    }
                }
            }
        }
        """);

    [Fact]
    public Task Two_owned_members_are_released_by_one_Dispose() => Verify.VerifyCodeFixAsync("""
        using System;
        using MySqlConnector;
        using Prelude;

        sealed class CopyJob
        {
            private readonly MySqlConnection [|_source|];
            private readonly ConnectionLease [|_target|];

            public CopyJob(MySqlDataSource dataSource, LeasePool pool)
            {
                _source = dataSource.OpenConnection();
                try
                {
                    _target = pool.GetConnection();
                }
                catch
                {
                    _source.Dispose();
                    throw;
                }
            }
        }
        """, """
        using System;
        using MySqlConnector;
        using Prelude;

        sealed class CopyJob : IDisposable
        {
            private readonly MySqlConnection _source;
            private readonly ConnectionLease _target;

            public CopyJob(MySqlDataSource dataSource, LeasePool pool)
            {
                _source = dataSource.OpenConnection();
                try
                {
                    _target = pool.GetConnection();
                }
                catch
                {
                    _source.Dispose();
                    throw;
                }
            }

            public void Dispose()
            {
                try
                {
                    _source.Dispose();
                }
                finally
                {
                    _target.Dispose();
                }
            }
        }
        """);

    [Fact]
    public async Task Release_under_a_counter_or_a_constructor_that_throws_gets_no_fix()
    {
        // The same counter, releasing with '.' and with '?.'.
        var source = """
            using System;
            using MySqlConnector;


            """ + CountedScope("Scope", "_connection.Dispose();") + CountedScope("NullSafeScope", "_connection?.Dispose();") + """
            sealed class Session : IDisposable
            {
                private readonly MySqlConnection [|_connection|];
                private readonly MySqlTransaction _transaction;

                public Session(MySqlDataSource dataSource)
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
            """;
        await Verify.VerifyCodeFixAsync(source, source);
    }

    /// <summary>A type that releases its connection only when a re-entrancy counter comes back to zero, by <paramref name="release"/>.</summary>
    private static string CountedScope(string name, string release) => $$"""
        sealed class {{name}} : IDisposable
        {
            private readonly MySqlConnection [|_connection|];
            private int _depth = 1;

            public {{name}}(MySqlDataSource dataSource) => _connection = dataSource.OpenConnection();

            public void Enter() => _depth++;

            public void Dispose()
            {
                _depth--;
                if (_depth == 0)
                {
                    {{release}}
                }
            }
        }


        """;

    [Fact]
    public async Task Type_whose_name_for_the_new_method_is_taken_gets_no_fix()
    {
        // A base type's Dispose() that callers reach today would be hidden (CS0108, and those calls would skip the base's
        // clean-up); a property named Dispose would clash (CS0102); a Dispose(bool) that derived types override would
        // never be called by the new Dispose(). So would a DisposeAsync of any kind for an async owner.
        const string source = """
            using System.Threading.Tasks;
            using MySqlConnector;

            class Session
            {
                public void Dispose() { }
            }

            sealed class InheritsDispose : Session
            {
                private readonly MySqlConnection [|_connection|];

                public InheritsDispose(MySqlDataSource dataSource) => _connection = dataSource.OpenConnection();

                public object? Count() => new MySqlCommand("select count(*) from invoices", _connection).ExecuteScalar();
            }

            sealed class PropertyNamedDispose
            {
                private readonly MySqlConnection [|_connection|];

                public PropertyNamedDispose(MySqlDataSource dataSource) => _connection = dataSource.OpenConnection();

                public bool Dispose { get; set; }

                public object? Count() => new MySqlCommand("select count(*) from invoices", _connection).ExecuteScalar();
            }

            class DisposeWithFlag
            {
                private readonly MySqlConnection [|_connection|];

                public DisposeWithFlag(MySqlDataSource dataSource) => _connection = dataSource.OpenConnection();

                public object? Count() => new MySqlCommand("select count(*) from invoices", _connection).ExecuteScalar();

                protected virtual void Dispose(bool disposing)
                {
                }
            }

            sealed class AsyncWithDisposeAsyncOverload
            {
                private MySqlConnection? [|_connection|];

                public async Task OpenAsync(MySqlDataSource dataSource) => _connection = await dataSource.OpenConnectionAsync();

                public ValueTask DisposeAsync(bool force) => default;
            }
            """;
        await Verify.VerifyCodeFixAsync(source, source);
    }

    [Fact]
    public Task Private_Dispose_of_a_base_type_does_not_stop_the_fix() => Verify.VerifyCodeFixAsync("""
        using MySqlConnector;

        class Session
        {
            private void Dispose() { }
        }

        sealed class ReportSession : Session
        {
            private readonly MySqlConnection [|_connection|];

            public ReportSession(MySqlDataSource dataSource) => _connection = dataSource.OpenConnection();

            public object? Count() => new MySqlCommand("select count(*) from invoices", _connection).ExecuteScalar();
        }
        """, """
        using MySqlConnector;

        class Session
        {
            private void Dispose() { }
        }

        sealed class ReportSession : Session, System.IDisposable
        {
            private readonly MySqlConnection _connection;

            public ReportSession(MySqlDataSource dataSource) => _connection = dataSource.OpenConnection();

            public object? Count() => new MySqlCommand("select count(*) from invoices", _connection).ExecuteScalar();

            public void Dispose()
            {
                _connection.Dispose();
            }
        }
        """);

    [Theory]
    [InlineData("GlobalSetup")]
    [InlineData("IterationSetup")]
    public async Task Benchmark_that_opens_in_its_setup_gets_no_fix(string setup)
    {
        // BenchmarkDotNet calls [GlobalCleanup] or [IterationCleanup], never Dispose: making the type disposable would
        // leave the leak.
        var source = """
            using System;
            using MySqlConnector;

            namespace BenchmarkDotNet.Attributes
            {
                [AttributeUsage(AttributeTargets.Method, Inherited = true)]
                sealed class SETUPAttribute : Attribute { }
            }

            abstract class BenchmarkBase
            {
                [BenchmarkDotNet.Attributes.SETUP]
                public virtual void SetUp() { }
            }

            class QueryBenchmark : BenchmarkBase
            {
                MySqlConnection [|connection|];

                public override void SetUp()
                {
                    base.SetUp();
                    connection = new MySqlConnection("Server=localhost");
                    connection.Open();
                }

                public object? Count() => new MySqlCommand("select count(*) from invoices", connection).ExecuteScalar();
            }
            """.Replace("SETUP", setup, StringComparison.Ordinal);
        await Verify.VerifyCodeFixAsync(source, source);
    }

    [Fact]
    public async Task Type_that_opens_a_connection_it_was_given_gets_no_fix()
    {
        // The connection object is the caller's, who may use it after this type is done: disposing it would change that.
        const string source = """
            using System;
            using MySqlConnector;

            static class Guard
            {
                public static T NotNull<T>(T value, string name) where T : class => value ?? throw new ArgumentNullException(name);
            }

            sealed class MigrationConnection : IDisposable
            {
                public MigrationConnection(MySqlConnection connection) => Connection = Guard.NotNull(connection, nameof(connection));

                public MySqlConnection [|Connection|] { get; }

                public void Open() => Connection.Open();

                public void Dispose() => Console.WriteLine("migrated");
            }

            sealed class ImportSession
            {
                private readonly MySqlConnection [|_connection|];

                public ImportSession(MySqlConnection connection) => _connection = connection ?? throw new ArgumentNullException(nameof(connection));

                public void Start() => _connection.Open();
            }
            """;
        await Verify.VerifyCodeFixAsync(source, source);
    }

    [Fact]
    public void Fix_is_exported_under_its_key() =>
        Assert.Equal("TDG005.ReleaseInDispose", ConnectionOwnerCodeFixProvider.ReleaseInDisposeKey);

    [Fact]
    public Task Part_of_a_partial_type_whose_other_part_has_the_Dispose_gets_the_release_in_that_Dispose() => Verify.VerifyCodeFixAsync("""
        using MySqlConnector;

        partial class ReportSession
        {
            private readonly MySqlConnection [|_connection|];

            public ReportSession(MySqlDataSource dataSource) => _connection = dataSource.OpenConnection();
        }

        partial class ReportSession : System.IDisposable
        {
            public void Dispose()
            {
                System.Console.WriteLine("closing");
            }
        }
        """, """
        using MySqlConnector;

        partial class ReportSession
        {
            private readonly MySqlConnection _connection;

            public ReportSession(MySqlDataSource dataSource) => _connection = dataSource.OpenConnection();
        }

        partial class ReportSession : System.IDisposable
        {
            public void Dispose()
            {
                try
                {
                    System.Console.WriteLine("closing");
                }
                finally
                {
                    _connection.Dispose();
                }
            }
        }
        """);

    [Fact]
    public Task Ref_struct_gets_a_Dispose_method_and_no_interface() => Verify.VerifyCodeFixAsync("""
        using MySqlConnector;

        ref struct ReportSession
        {
            private MySqlConnection [|_connection|];

            public ReportSession(MySqlDataSource dataSource) => _connection = dataSource.OpenConnection();
        }
        """, """
        using MySqlConnector;

        ref struct ReportSession
        {
            private MySqlConnection _connection;

            public ReportSession(MySqlDataSource dataSource) => _connection = dataSource.OpenConnection();

            public void Dispose()
            {
                _connection?.Dispose();
            }
        }
        """, execution: Execution.Skip("A ref struct cannot be boxed for the check's reflection; 'using' calls its Dispose by pattern."));

    [Fact]
    public Task Under_CSharp_8_a_member_that_may_be_null_is_tested_without_a_not_pattern()
    {
        var test = Verify.CreateTest("""
            #nullable enable
            using System;
            using System.Threading.Tasks;
            using MySqlConnector;

            sealed class ReportSession
            {
                private MySqlConnection? [|_connection|];

                public async Task StartAsync(MySqlDataSource dataSource) => _connection = await dataSource.OpenConnectionAsync();
            }
            """, """
            #nullable enable
            using System;
            using System.Threading.Tasks;
            using MySqlConnector;

            sealed class ReportSession : IAsyncDisposable
            {
                private MySqlConnection? _connection;

                public async Task StartAsync(MySqlDataSource dataSource) => _connection = await dataSource.OpenConnectionAsync();

                public async ValueTask DisposeAsync()
                {
                    if (!(_connection is null))
                    {
                        await _connection.DisposeAsync();
                    }
                }
            }
            """);
        test.SolutionTransforms.Add((solution, projectId) =>
            solution.WithProjectParseOptions(projectId, new CSharpParseOptions(LanguageVersion.CSharp8)));
        return test.RunAsync();
    }

    [Fact]
    public Task An_if_directive_group_above_the_release_stays_in_Dispose_when_the_release_moves_into_finally() => Verify.VerifyCodeFixAsync("""
        using System;
        using MySqlConnector;
        using Prelude;

        sealed class ReportSession : IDisposable
        {
            private readonly MySqlTransaction? _audit;
            private readonly MySqlConnection [|_connection|];

            public ReportSession(MySqlDataSource dataSource) => _connection = dataSource.OpenConnection();

            public void Dispose()
            {
                _audit?.Dispose();
        #if TRACE_SQL
                Log.Info("closing");
        #endif
                _connection.Dispose();
            }
        }
        """, """
        using System;
        using MySqlConnector;
        using Prelude;

        sealed class ReportSession : IDisposable
        {
            private readonly MySqlTransaction? _audit;
            private readonly MySqlConnection _connection;

            public ReportSession(MySqlDataSource dataSource) => _connection = dataSource.OpenConnection();

            public void Dispose()
            {
                try
                {
                    _audit?.Dispose();
        #if TRACE_SQL
                Log.Info("closing");
        #endif
                }
                finally
                {
                    _connection.Dispose();
                }
            }
        }
        """);

    [Fact]
    public async Task A_release_under_an_if_group_that_opens_right_after_another_ends_is_not_moved()
    {
        // The release is under its own #if (the author's choice of builds); the group of the statement above it, which
        // ends just before that one opens, does not make it a release for every build.
        var source = """
            using System;
            using MySqlConnector;
            using Prelude;

            sealed class ReportSession : IDisposable
            {
                private readonly MySqlTransaction? _audit;
                private readonly MySqlConnection [|_connection|];

                public ReportSession(MySqlDataSource dataSource) => _connection = dataSource.OpenConnection();

                public void Dispose()
                {
            #if !NO_AUDIT
                    _audit?.Dispose();
            #endif
            #if !KEEP_OPEN
                    _connection.Dispose();
            #endif
                }
            }
            """;
        await Verify.VerifyCodeFixAsync(source, source);
    }

    [Theory]
    [InlineData("Dispose(true);")]
    [InlineData("DisposeCore();")]
    [InlineData("this.Shutdown(true);")]
    public async Task Dispose_that_releases_through_a_method_of_its_own_type_gets_no_fix(string call)
    {
        // The public Dispose releases the member through the method it calls; a release added to its finally would
        // release the lease a second time on every normal path (a pool would then hand the same connection out twice).
        var source = $$"""
            using System;
            using Prelude;

            class Owner : IDisposable
            {
                protected PooledConnection [|Connection|] { get; }

                public Owner(Pool pool) => Connection = pool.GetConnection();

                protected virtual void Dispose(bool disposing)
                {
                    if (disposing)
                    {
                        Log.Info("disposing");
                        Connection.Release();
                    }
                }

                private void DisposeCore()
                {
                    Log.Info("disposing");
                    Connection.Release();
                }

                private void Shutdown(bool now)
                {
                    Log.Info("shutting down");
                    if (now)
                    {
                        DisposeCore();
                    }
                }

                public void Dispose()
                {
                    {{call}}
                    GC.SuppressFinalize(this);
                }
            }
            """;
        await Verify.VerifyCodeFixAsync(source, source);
    }

    [Fact]
    public Task Partial_Dispose_releases_the_member_in_its_implementing_part() => Verify.VerifyCodeFixAsync("""
        using System;
        using MySqlConnector;

        sealed partial class ReportSession : IDisposable
        {
            private readonly MySqlConnection [|_connection|];

            public ReportSession(MySqlDataSource dataSource) => _connection = dataSource.OpenConnection();

            public partial void Dispose();
        }

        sealed partial class ReportSession
        {
            public partial void Dispose()
            {
                Console.WriteLine("closing");
            }
        }
        """, """
        using System;
        using MySqlConnector;

        sealed partial class ReportSession : IDisposable
        {
            private readonly MySqlConnection _connection;

            public ReportSession(MySqlDataSource dataSource) => _connection = dataSource.OpenConnection();

            public partial void Dispose();
        }

        sealed partial class ReportSession
        {
            public partial void Dispose()
            {
                try
                {
                    Console.WriteLine("closing");
                }
                finally
                {
                    _connection.Dispose();
                }
            }
        }
        """);

    // The comments are the author's notes on the release: a fix that moves it would have to decide where they go.
    [Fact]
    public Task Release_with_a_comment_gets_no_fix()
    {
        const string source = """
            using System;
            using System.IO;
            using MySqlConnector;

            sealed class Session : IDisposable
            {
                private readonly MySqlConnection [|_connection|];
                private readonly MemoryStream _buffer = new MemoryStream();

                public Session(MySqlDataSource dataSource) => _connection = dataSource.OpenConnection();

                public void Dispose()
                {
                    _buffer.Dispose();
                    // Last: the buffer flushes through it.
                    _connection.Dispose(); // owned since the constructor
                }
            }
            """;
        return Verify.VerifyCodeFixAsync(source, source);
    }

    [Fact]
    public Task Region_and_comment_that_end_Dispose_stay_when_the_release_moves_into_finally() =>
        Verify.VerifyCodeFixAsync("""
        using System;
        using System.IO;
        using MySqlConnector;

        sealed class Session : IDisposable
        {
            private readonly MySqlConnection [|_connection|];
            private readonly MemoryStream _buffer = new MemoryStream();

            public Session(MySqlDataSource dataSource) => _connection = dataSource.OpenConnection();

            public void Dispose()
            { // in the order they were made
                _buffer.Dispose();
                #region Connection
                _connection.Dispose();
                #endregion
                // nothing else is owned
            }
        }
        """, """
        using System;
        using System.IO;
        using MySqlConnector;

        sealed class Session : IDisposable
        {
            private readonly MySqlConnection _connection;
            private readonly MemoryStream _buffer = new MemoryStream();

            public Session(MySqlDataSource dataSource) => _connection = dataSource.OpenConnection();

            public void Dispose()
            { // in the order they were made
                try
                {
                    _buffer.Dispose();
                    #region Connection
                }
                finally
                {
                    _connection.Dispose();
                }
                #endregion
                // nothing else is owned
            }
        }
        """);

    // Which base list the type has depends on the build: IDisposable added after its name would give it two.
    [Fact]
    public Task Type_whose_base_list_is_under_an_if_directive_gets_no_fix()
    {
        const string source = """
            using MySqlConnector;

            sealed class Session
            #if NET8_0_OR_GREATER
                : System.ICloneable
            #endif
            {
                private readonly MySqlConnection [|_connection|];

                public Session(MySqlDataSource dataSource) => _connection = dataSource.OpenConnection();
            #if NET8_0_OR_GREATER
                public object Clone() => this;
            #endif
            }
            """;
        return Verify.VerifyCodeFixAsync(source, source);
    }

    // The '#if' would stand in the try and its '#endif' after the finally: a build without TRACE would lose the end
    // of the try.
    [Fact]
    public Task Dispose_that_ends_in_an_if_group_gets_no_fix()
    {
        const string source = """
            #define TRACE
            using System;
            using System.IO;
            using MySqlConnector;

            sealed class Session : IDisposable
            {
                private readonly MySqlConnection [|_connection|];
                private readonly MemoryStream _buffer = new MemoryStream();

                public Session(MySqlDataSource dataSource) => _connection = dataSource.OpenConnection();

                public void Dispose()
                {
                    _buffer.Dispose();
                    _connection.Dispose();
            #if TRACE
                    Console.WriteLine("disposed");
            #endif
                }
            }
            """;
        return Verify.VerifyCodeFixAsync(source, source);
    }
}
