using TenantDbGuard.Analyzers.Tests.Verifiers;
using Verify = TenantDbGuard.Analyzers.Tests.Verifiers.CSharpAnalyzerVerifier<TenantDbGuard.Analyzers.ConnectionLeakAnalyzer>;

namespace TenantDbGuard.Analyzers.Tests;

/// <summary>
/// Who owns the connection: readers opened with <c>CommandBehavior.CloseConnection</c>, Dapper's readers, wrappers
/// that leave it open, holders and callbacks returned to the caller, and the precision shapes of the rule (pattern
/// releases, exception filters, Interlocked, checked arithmetic, deconstruction, <c>.Result</c>, constructor chaining).
/// </summary>
public sealed class ConnectionLeakOwnershipTests
{
    // ---------------------------------------------------------------- readers that own the connection

    [Fact]
    public Task Closing_reader_returned_hands_the_connection_to_the_caller() => Verify.VerifyAnalyzerAsync("""
        using System.Data;
        using System.Data.Common;
        using System.Threading;
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            DbDataReader Read(string cs, string sql)
            {
                var conn = new MySqlConnection(cs);
                conn.Open();
                try
                {
                    var cmd = conn.CreateCommand();
                    cmd.CommandText = sql;
                    return cmd.ExecuteReader(CommandBehavior.CloseConnection);
                }
                catch
                {
                    conn.Dispose();
                    throw;
                }
            }

            async Task<DbDataReader> ReadAsync(MySqlDataSource ds, string sql, CancellationToken ct)
            {
                var conn = await ds.OpenConnectionAsync(ct);
                try
                {
                    var cmd = new MySqlCommand(sql, conn);
                    return await cmd.ExecuteReaderAsync(CommandBehavior.CloseConnection | CommandBehavior.SequentialAccess, ct);
                }
                catch
                {
                    await conn.DisposeAsync();
                    throw;
                }
            }
        }
        """);

    [Fact]
    public Task Closing_reader_returned_without_protection_is_reported_where_it_throws() => Verify.VerifyAnalyzerAsync("""
        using System.Data;
        using System.Data.Common;
        using MySqlConnector;

        class C
        {
            DbDataReader Read(MySqlDataSource ds, string sql)
            {
                var conn = {|#0:ds.OpenConnection()|};
                var cmd = new MySqlCommand(sql, conn);
                return cmd.ExecuteReader(CommandBehavior.CloseConnection);
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "if an exception is thrown at line 10"));

    [Fact]
    public Task Closing_reader_of_a_command_made_before_the_connection_is_reported_where_it_throws() => Verify.VerifyAnalyzerAsync("""
        using System.Data;
        using System.Data.Common;
        using MySqlConnector;

        class C
        {
            // If ExecuteReader throws, no reader exists to close the connection.
            DbDataReader Read(MySqlDataSource ds, string sql)
            {
                var cmd = new MySqlCommand(sql);
                var conn = {|#0:ds.OpenConnection()|};
                cmd.Connection = conn;
                return cmd.ExecuteReader(CommandBehavior.CloseConnection);
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "if an exception is thrown at line 13"));

    [Fact]
    public Task Closing_reader_disposed_releases_the_connection() => Verify.VerifyAnalyzerAsync("""
        using System.Data;
        using System.Data.Common;
        using System.Threading;
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            async Task<long> CountAsync(MySqlDataSource ds, CancellationToken ct)
            {
                var conn = await ds.OpenConnectionAsync(ct);
                DbDataReader reader;
                try
                {
                    var cmd = new MySqlCommand("select id from invoices", conn);
                    reader = await cmd.ExecuteReaderAsync(CommandBehavior.CloseConnection, ct);
                }
                catch
                {
                    await conn.DisposeAsync();
                    throw;
                }

                await using (reader)
                {
                    long count = 0;
                    while (await reader.ReadAsync(ct))
                    {
                        count++;
                    }

                    return count;
                }
            }

            long CountInUsing(string cs)
            {
                using var conn = new MySqlConnection(cs);
                conn.Open();
                using var cmd = new MySqlCommand("select id from invoices", conn);
                using var reader = cmd.ExecuteReader(CommandBehavior.CloseConnection);
                return reader.Read() ? reader.GetInt64(0) : 0;
            }
        }
        """);

    [Fact]
    public Task Closing_reader_neither_disposed_nor_returned_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Data;
        using MySqlConnector;

        class C
        {
            long Count(string cs)
            {
                var conn = new MySqlConnection(cs);
                {|#0:conn.Open()|};
                var cmd = new MySqlCommand("select id from invoices", conn);
                var reader = cmd.ExecuteReader(CommandBehavior.CloseConnection);
                long count = 0;
                while (reader.Read())
                {
                    count++;
                }

                return count;
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 18"));

    [Fact]
    public Task Catch_that_returns_an_empty_result_after_a_closing_reader_is_the_path_named() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Data;
        using System.Data.Common;
        using MySqlConnector;
        using Prelude;

        class C
        {
            IDataReader Read(string cs, string sql)
            {
                var conn = new MySqlConnection(cs);
                try
                {
                    {|#0:conn.Open()|};
                    var cmd = new MySqlCommand(sql, conn);
                    return cmd.ExecuteReader(CommandBehavior.CloseConnection);
                }
                catch (MySqlException e)
                {
                    Log.Info(e.Message);
                    return new DataTable().CreateDataReader();
                }
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 21"));

    [Fact]
    public Task Reader_without_CloseConnection_returned_leaks_the_connection() => Verify.VerifyAnalyzerAsync("""
        using System.Data.Common;
        using MySqlConnector;

        class C
        {
            DbDataReader Read(MySqlDataSource ds, string sql)
            {
                var conn = {|#0:ds.OpenConnection()|};
                var cmd = new MySqlCommand(sql, conn);
                return cmd.ExecuteReader();
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 10"));

    [Fact]
    public Task Reader_with_another_CommandBehavior_returned_leaks_the_connection() => Verify.VerifyAnalyzerAsync("""
        using System.Data;
        using System.Data.Common;
        using MySqlConnector;

        class C
        {
            DbDataReader Read(MySqlDataSource ds, string sql)
            {
                var conn = {|#0:ds.OpenConnection()|};
                try
                {
                    var cmd = new MySqlCommand(sql, conn);
                    return cmd.ExecuteReader(CommandBehavior.SequentialAccess);
                }
                catch
                {
                    conn.Dispose();
                    throw;
                }
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 13"));

    [Fact]
    public Task Closing_reader_of_a_command_not_made_on_the_connection_does_not_take_it() => Verify.VerifyAnalyzerAsync("""
        using System.Data;
        using System.Data.Common;
        using MySqlConnector;

        class C
        {
            DbDataReader ReadOnOther(MySqlDataSource ds, MySqlConnection other, string sql)
            {
                var conn = {|#0:ds.OpenConnection()|};
                try
                {
                    var cmd = new MySqlCommand(sql, other);
                    return cmd.ExecuteReader(CommandBehavior.CloseConnection);
                }
                catch
                {
                    conn.Dispose();
                    throw;
                }
            }

            DbDataReader ReadGiven(MySqlDataSource ds, MySqlCommand cmd)
            {
                var conn = {|#1:ds.OpenConnection()|};
                try
                {
                    return cmd.ExecuteReader(CommandBehavior.CloseConnection);
                }
                catch
                {
                    conn.Dispose();
                    throw;
                }
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 13"),
        Verify.Diagnostic().WithLocation(1).WithArguments("'conn'", "on the path that returns at line 27"));

    [Fact]
    public Task Dapper_reader_on_a_connection_it_opens_is_an_acquisition() => Verify.VerifyAnalyzerAsync("""
        using System.Data;
        using Dapper;
        using MySqlConnector;

        class C
        {
            int Count(string cs)
            {
                var conn = new MySqlConnection(cs);
                var reader = {|#0:conn.ExecuteReader("select id from invoices")|};
                var count = 0;
                while (reader.Read())
                {
                    count++;
                }

                return count;
            }

            int CountWithUsing(string cs)
            {
                var conn = new MySqlConnection(cs);
                using var reader = conn.ExecuteReader("select id from invoices");
                var count = 0;
                while (reader.Read())
                {
                    count++;
                }

                return count;
            }

            int CountOnADisposedConnection(string cs)
            {
                using var conn = new MySqlConnection(cs);
                var reader = conn.ExecuteReader("select id from invoices");
                return reader.Read() ? 1 : 0;
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'reader'", "on the path that returns at line 17"));

    [Fact]
    public Task Dapper_reader_on_a_connection_the_method_opened_is_not_an_acquisition() => Verify.VerifyAnalyzerAsync("""
        using Dapper;
        using MySqlConnector;

        class C
        {
            int Count(string cs)
            {
                using var conn = new MySqlConnection(cs);
                conn.Open();
                var reader = conn.ExecuteReader("select id from invoices");
                return reader.Read() ? 1 : 0;
            }
        }
        """);

    [Fact]
    public Task Dapper_reader_on_a_connection_that_is_already_open_is_not_an_acquisition() => Verify.VerifyAnalyzerAsync("""
        using System.Data;
        using Dapper;
        using MySqlConnector;

        class C
        {
            private readonly MySqlConnection _connection = new MySqlConnection("server=db");

            int CountOpened(string cs)
            {
                var conn = new MySqlConnection(cs);
                {|#0:conn.Open()|};
                var reader = conn.ExecuteReader("select id from invoices");
                return reader.Read() ? 1 : 0;
            }

            int CountOnTheField()
            {
                var conn = _connection;
                var reader = conn.ExecuteReader("select id from invoices");
                return reader.Read() ? 1 : 0;
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 14"));

    private const string Session = """
        using System;
        using Prelude;

        sealed class Session : IDisposable
        {
            private readonly ConnectionLease _lease;
            private readonly bool _leaveOpen;

            public Session(ConnectionLease lease, bool leaveOpen = false)
            {
                _lease = lease;
                _leaveOpen = leaveOpen;
            }

            public int Run(string sql) => _lease.Execute(sql);

            public void Dispose()
            {
                if (!_leaveOpen)
                {
                    _lease.Dispose();
                }
            }
        }

        """;

    [Fact]
    public Task Wrapper_that_leaves_the_connection_open_releases_nothing() => Verify.VerifyAnalyzerAsync(Session + """
        class C
        {
            int M(LeasePool pool)
            {
                var lease = {|#0:pool.GetConnection()|};
                using (var session = new Session(lease, leaveOpen: true))
                {
                    return session.Run("select 1");
                }
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'lease'", "on the path that returns at line 32"));

    [Theory]
    [InlineData("board.Switch(new Session(lease, leaveOpen: true));")]
    [InlineData("var session = new Session(lease, leaveOpen: true); board.Switch(session);")]
    public Task Wrapper_that_leaves_the_connection_open_given_to_a_call_takes_the_connection_along(string call) =>
        Verify.VerifyAnalyzerAsync(Session + $$"""
            interface IBoard
            {
                void Switch(Session session);
            }

            class C
            {
                void M(LeasePool pool, IBoard board)
                {
                    var lease = pool.GetConnection();
                    {{call}}
                }
            }
            """);

    [Fact]
    public Task Wrapper_that_owns_the_connection_releases_it() => Verify.VerifyAnalyzerAsync(Session + """
        class C
        {
            int M(LeasePool pool)
            {
                using (var session = new Session(pool.GetConnection()))
                {
                    return session.Run("select 1");
                }
            }
        }
        """);

    [Theory]
    [InlineData("keepOpen", "true", "!_flag")]
    [InlineData("borrowed", "true", "!_flag")]
    [InlineData("ownsConnection", "false", "_flag")]
    [InlineData("disposeConnection", "false", "_flag")]
    [InlineData("closeConnection", "false", "_flag")]
    public Task Wrapper_told_by_another_flag_name_to_leave_the_connection_open_releases_nothing(string parameter, string value, string releases) =>
        Verify.VerifyAnalyzerAsync($$"""
        using System;
        using Prelude;

        sealed class Session : IDisposable
        {
            private readonly ConnectionLease _lease;
            private readonly bool _flag;

            public Session(ConnectionLease lease, bool {{parameter}})
            {
                _lease = lease;
                _flag = {{parameter}};
            }

            public int Run(string sql) => _lease.Execute(sql);

            public void Dispose()
            {
                if ({{releases}})
                {
                    _lease.Dispose();
                }
            }
        }

        class C
        {
            int M(LeasePool pool)
            {
                var lease = {|#0:pool.GetConnection()|};
                using (var session = new Session(lease, {{parameter}}: {{value}}))
                {
                    return session.Run("select 1");
                }
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'lease'", "on the path that returns at line 33"));

    [Theory]
    [InlineData("ownsConnection", "true")]
    [InlineData("disposeConnection", "true")]
    [InlineData("leaveOpen", "false")]
    public Task Wrapper_told_by_its_flag_to_own_the_connection_releases_it(string parameter, string value) => Verify.VerifyAnalyzerAsync($$"""
        using System;
        using Prelude;

        sealed class Session : IDisposable
        {
            private readonly ConnectionLease _lease;
            private readonly bool _flag;

            public Session(ConnectionLease lease, bool {{parameter}})
            {
                _lease = lease;
                _flag = {{parameter}};
            }

            public int Run(string sql) => _lease.Execute(sql);

            public void Dispose()
            {
                if (_flag == {{value}})
                {
                    _lease.Dispose();
                }
            }
        }

        class C
        {
            int M(LeasePool pool)
            {
                using (var session = new Session(pool.GetConnection(), {{parameter}}: {{value}}))
                {
                    return session.Run("select 1");
                }
            }
        }
        """);

    // ---------------------------------------------------------------- holders and callbacks returned to the caller

    [Fact]
    public Task Plain_holder_returned_hands_the_connection_to_the_caller() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Data.Common;
        using System.Threading.Tasks;
        using MySqlConnector;

        sealed class OutboxConnection
        {
            public OutboxConnection(DbConnection connection, DbTransaction transaction)
            {
                Connection = connection;
                Transaction = transaction;
            }

            public DbConnection Connection { get; }

            public DbTransaction Transaction { get; }
        }

        sealed class Result
        {
            public Result(int rows, Func<ValueTask> release)
            {
                Rows = rows;
                Release = release;
            }

            public int Rows { get; }

            public Func<ValueTask> Release { get; }
        }

        class C
        {
            async Task<OutboxConnection> BeginAsync(MySqlDataSource ds)
            {
                var conn = await ds.OpenConnectionAsync();
                try
                {
                    var tx = await conn.BeginTransactionAsync();
                    return new OutboxConnection(conn, tx);
                }
                catch
                {
                    await conn.DisposeAsync();
                    throw;
                }
            }

            async Task<Result> CountAsync(MySqlDataSource ds)
            {
                var conn = await ds.OpenConnectionAsync();
                return new Result(1, async () => await conn.DisposeAsync());
            }
        }
        """);

    [Fact]
    public Task Holder_of_a_releasing_callback_yielded_hands_the_connection_to_the_caller() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Collections.Generic;
        using MySqlConnector;

        sealed class Result
        {
            public Result(int rows, Action release)
            {
                Rows = rows;
                Release = release;
            }

            public int Rows { get; }

            public Action Release { get; }
        }

        class C
        {
            IEnumerable<Result> Counts(MySqlDataSource ds)
            {
                var conn = ds.OpenConnection();
                yield return new Result(1, () => conn.Dispose());
            }
        }
        """);

    [Theory]
    [InlineData("object", "new Result(1, () => conn.Dispose())")]
    [InlineData("IResult", "new Result(1, () => conn.Dispose())")]
    [InlineData("Envelope", "new Envelope(new Result(1, () => conn.Dispose()))")]
    [InlineData("object", "new Envelope(new Result(1, () => conn.Dispose()))")]
    public Task Holder_of_a_releasing_callback_returned_as_another_type_or_inside_another_holder_hands_the_connection_to_the_caller(string returnType, string returned) =>
        Verify.VerifyAnalyzerAsync($$"""
            using System;
            using MySqlConnector;

            interface IResult
            {
            }

            sealed class Result : IResult
            {
                public Result(int rows, Action release)
                {
                    Rows = rows;
                    Release = release;
                }

                public int Rows { get; }

                public Action Release { get; }
            }

            sealed class Envelope
            {
                public Envelope(Result result) => Result = result;

                public Result Result { get; }
            }

            class C
            {
                {{returnType}} Count(MySqlDataSource ds)
                {
                    var conn = ds.OpenConnection();
                    return {{returned}};
                }
            }
            """);

    [Fact]
    public Task Object_returned_or_passed_on_without_the_connection_does_not_take_it() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Threading.Tasks;
        using MySqlConnector;

        sealed class Result
        {
            public Result(int rows, Func<ValueTask> release)
            {
                Rows = rows;
                Release = release;
            }

            public int Rows { get; }

            public Func<ValueTask> Release { get; }
        }

        sealed class Entry
        {
            public Entry(string text) => Text = text;

            public string Text { get; }
        }

        static class Audit
        {
            public static void Write(Entry entry) => Console.WriteLine(entry.Text);
        }

        class C
        {
            async Task<Result> CountAsync(MySqlDataSource ds)
            {
                var conn = await {|#0:ds.OpenConnectionAsync()|};
                return new Result(1, () => ValueTask.CompletedTask);
            }

            int Count(MySqlDataSource ds)
            {
                var conn = {|#1:ds.OpenConnection()|};
                Audit.Write(new Entry("count"));
                return 1;
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 35"),
        Verify.Diagnostic().WithLocation(1).WithArguments("'conn'", "on the path that returns at line 42"));

    // ---------------------------------------------------------------- precision: releases the rule must see

    [Fact]
    public Task Release_through_an_IDisposable_pattern_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using MySqlConnector;

        class C
        {
            object M(MySqlDataSource ds)
            {
                var conn = ds.OpenConnection();
                try
                {
                    using var cmd = new MySqlCommand("select 1", conn);
                    return cmd.ExecuteScalar();
                }
                finally
                {
                    if (conn is IDisposable disposable)
                    {
                        disposable.Dispose();
                    }
                }
            }
        }
        """);

    [Fact]
    public Task Filtered_catch_clauses_that_all_release_are_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using MySqlConnector;
        using Prelude;

        class C
        {
            MySqlConnection Open(MySqlDataSource ds, bool retry)
            {
                var conn = ds.OpenConnection();
                try
                {
                    using var cmd = new MySqlCommand("set names utf8mb4", conn);
                    cmd.ExecuteNonQuery();
                    return conn;
                }
                catch (MySqlException e) when (retry && e.IsTransient)
                {
                    conn.Dispose();
                    Log.Info("transient");
                    throw;
                }
                catch
                {
                    conn.Dispose();
                    throw;
                }
            }
        }
        """);

    [Fact]
    public Task Filtered_catch_without_a_catch_all_behind_it_is_reported() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        class C
        {
            MySqlConnection Open(MySqlDataSource ds, bool retry)
            {
                var conn = {|#0:ds.OpenConnection()|};
                try
                {
                    using var cmd = new MySqlCommand("set names utf8mb4", conn);
                    cmd.ExecuteNonQuery();
                    return conn;
                }
                catch (MySqlException e) when (retry && e.IsTransient)
                {
                    conn.Dispose();
                    throw;
                }
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "if an exception is thrown at line 10"));

    [Theory]
    [InlineData("")]
    [InlineData("catch { throw; }")]
    [InlineData("catch (System.Exception) { return 3; }")]
    [InlineData("catch (System.TimeoutException) when (retry) { return 3; }")]
    public Task A_filter_that_releases_before_it_declines_lets_nothing_leak(string later) =>
        // The filter ran before the exception went on: the later handlers and the caller get it released.
        Verify.VerifyAnalyzerAsync($$"""
            using System;
            using MySqlConnector;

            class C
            {
                int Run(MySqlDataSource ds, bool retry)
                {
                    var conn = ds.OpenConnection();
                    try
                    {
                        using var cmd = new MySqlCommand("set names utf8mb4", conn);
                        cmd.ExecuteNonQuery();
                    }
                    catch (MySqlException e) when (Disposed(conn, e))
                    {
                        return 2;
                    }
                    {{later}}

                    conn.Dispose();
                    return 0;
                }

                static bool Disposed(MySqlConnection connection, MySqlException e)
                {
                    connection.Dispose();
                    return e.IsTransient;
                }
            }
            """);

    [Fact]
    public Task An_exception_inside_a_filter_goes_on_to_the_later_handlers() =>
        // 'conn.Ping()' in the filter may throw: the filter then says no, and the first exception goes to the catch-all.
        Verify.VerifyAnalyzerAsync(FilterThatMayThrow("""
                    catch
                    {
                        conn.Dispose();
                        throw;
                    }
            """));

    [Fact]
    public Task An_exception_inside_a_filter_sends_the_first_one_on_from_where_it_was_thrown() =>
        Verify.VerifyAnalyzerAsync(FilterThatMayThrow(string.Empty).Replace("var conn = ds.OpenConnection();", "var conn = {|#0:ds.OpenConnection()|};"),
            Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "if an exception is thrown at line 10"));

    private static string FilterThatMayThrow(string later) => $$"""
        using MySqlConnector;

        class C
        {
            int Run(MySqlDataSource ds)
            {
                var conn = ds.OpenConnection();
                try
                {
                    using var cmd = new MySqlCommand("set names utf8mb4", conn);
                    cmd.ExecuteNonQuery();
                }
                catch (MySqlException e)
                    when (e.IsTransient && conn.Ping())
                {
                    conn.Dispose();
                    return 2;
                }
        {{later}}

                conn.Dispose();
                return 0;
            }
        }
        """;

    [Fact]
    public Task Interlocked_publication_into_a_field_is_a_hand_off() => Verify.VerifyAnalyzerAsync("""
        using System.Threading;
        using MySqlConnector;

        class C
        {
            private MySqlConnection _current;
            private MySqlConnection _shared;

            void Swap(MySqlDataSource ds)
            {
                var conn = ds.OpenConnection();
                Interlocked.Exchange(ref _current, conn)?.Dispose();
            }

            void Publish(MySqlDataSource ds)
            {
                var conn = ds.OpenConnection();
                if (Interlocked.CompareExchange(ref _shared, conn, null) != null)
                {
                    conn.Dispose();
                }
            }
        }
        """);

    [Fact]
    public Task Chained_constructor_takes_the_connection() => Verify.VerifyAnalyzerAsync("""
        using System;
        using Prelude;

        sealed class Unit : IDisposable
        {
            private readonly ConnectionLease _lease;

            public Unit(LeasePool pool)
                : this(pool.GetConnection())
            {
            }

            private Unit(ConnectionLease lease) => _lease = lease;

            public void Dispose() => _lease.Dispose();
        }
        """);

    [Fact]
    public Task Result_and_GetResult_pass_the_connection_through() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            int Sync(LeasePool pool)
            {
                using (var lease = pool.GetConnectionAsync("t1").AsTask().Result)
                {
                    return lease.Execute("select 1");
                }
            }

            int Blocking(LeasePool pool)
            {
                using var lease = pool.GetConnectionAsync("t1").GetAwaiter().GetResult();
                return lease.Execute("select 1");
            }
        }
        """);

    [Fact]
    public Task Pattern_variable_over_a_field_or_parameter_is_not_the_methods_connection() => Verify.VerifyAnalyzerAsync("""
        using System.Data.Common;
        using System.Threading;
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            public DbConnection Inner { get; set; }

            async Task EnsureOpenAsync(CancellationToken ct)
            {
                if (Inner is MySqlConnection db)
                {
                    await db.OpenAsync(ct);
                }
            }

            void EnsureOpen(DbConnection connection)
            {
                if (connection is not MySqlConnection mysql)
                {
                    return;
                }

                mysql.Open();
            }
        }
        """);

    [Fact]
    public Task Factory_GetConnection_then_Open_on_the_same_variable_is_one_acquisition() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;
        using Prelude;

        class C
        {
            object M(ConnectionFactory factory)
            {
                var conn = factory.GetConnection();
                {|#0:conn.Open()|};
                using var cmd = new MySqlCommand("select 1", conn);
                return cmd.ExecuteScalar();
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 11"));

    // ---------------------------------------------------------------- precision: paths the rule must report

    [Fact]
    public Task Checked_conversion_between_acquisition_and_try_is_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            int M(LeasePool pool, long rows)
            {
                var lease = {|#0:pool.GetConnection()|};
                var count = checked((int)rows);
                try
                {
                    return lease.Execute("select " + count);
                }
                finally
                {
                    lease.Dispose();
                }
            }

            int N(LeasePool pool, int a, int b)
            {
                var lease = {|#1:pool.GetConnection()|};
                var total = checked(a + b);
                using (lease)
                {
                    return total;
                }
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'lease'", "if an exception is thrown at line 8"),
        Verify.Diagnostic().WithLocation(1).WithArguments("'lease'", "if an exception is thrown at line 22"));

    [Theory]
    [InlineData("count = checked(-count);")]
    [InlineData("checked { count += 1; }")]
    [InlineData("checked { count++; }")]
    public Task Checked_negation_compound_assignment_or_increment_before_the_release_is_reported(string statement) => Verify.VerifyAnalyzerAsync($$"""
        using Prelude;

        class C
        {
            int M(Pool pool, int count)
            {
                var conn = {|#0:pool.GetConnection()|};
                {{statement}}
                conn.Release();
                return count;
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "if an exception is thrown at line 8"));

    [Fact]
    public Task Deconstructed_lease_is_followed_by_its_variable() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> Released(LeasePool pool)
            {
                var (lease, attempts) = (await pool.GetConnectionAsync("t1"), 1);
                await using (lease)
                {
                    return await lease.ExecuteAsync("select 1") + attempts;
                }
            }

            async Task<int> NotReleased(LeasePool pool)
            {
                var (lease, attempts) = (await {|#0:pool.GetConnectionAsync("t1")|}, 1);
                return await lease.ExecuteAsync("select 1") + attempts;
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'lease'", "on the path that returns at line 18"));

    [Fact]
    public Task Lease_moved_by_a_tuple_swap_is_followed_into_the_other_variable() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            int Swapped(LeasePool pool)
            {
                ConnectionLease? spare = null;
                var lease = pool.GetConnection();
                (lease, spare) = (spare!, lease);
                try
                {
                    return spare.Execute("select 1");
                }
                finally
                {
                    spare.Dispose();
                }
            }

            int ReleasedThroughTheOldName(LeasePool pool, ConnectionLease other)
            {
                ConnectionLease? spare = null;
                var lease = {|#0:pool.GetConnection()|};
                (lease, spare) = (other, lease);
                lease.Dispose();
                return 1;
            }

            int Overwritten(LeasePool pool, ConnectionLease other)
            {
                var lease = {|#1:pool.GetConnection()|};
                var count = 0;
                (lease, count) = (other, 1);
                return count;
            }

            int SameVariableTwice(LeasePool pool)
            {
                var lease = pool.GetConnection();
                ConnectionLease? none = null;
                (lease, lease) = (none!, lease);
                try
                {
                    return lease.Execute("select 1");
                }
                finally
                {
                    lease.Dispose();
                }
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'lease'", "on the path that returns at line 26"),
        Verify.Diagnostic().WithLocation(1).WithArguments("'lease'", "when 'lease' is overwritten at line 33"));

    [Theory]
    [InlineCSharp(12)] // 'Task.WhenAll(source, target)' binds to 'params Task<T>[]'
    [InlineCSharp(13)] // and to 'params ReadOnlySpan<Task<T>>'
    public Task Leases_from_WhenAll_released_only_on_success_are_reported(int languageVersion) => Verify.VerifyAnalyzerAsync(languageVersion, """
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> Copy(LeasePool pool)
            {
                var source = {|#0:pool.GetConnectionAsync("t1")|}.AsTask();
                var target = {|#1:pool.GetConnectionAsync("t2")|}.AsTask();
                await Task.WhenAll(source, target);
                var from = await source;
                var to = await target;
                var rows = await from.ExecuteAsync("select 1") + await to.ExecuteAsync("select 1");
                await from.DisposeAsync();
                await to.DisposeAsync();
                return rows;
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'source'", "if an exception is thrown at line 9"),
        Verify.Diagnostic().WithLocation(1).WithArguments("'target'", "if an exception is thrown at line 10"));

    [Fact]
    public Task Tasks_of_async_methods_started_together_and_released_in_finally_are_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            static async Task<MySqlConnection> OpenAsync(string cs)
            {
                var conn = new MySqlConnection(cs);
                try
                {
                    await conn.OpenAsync();
                    return conn;
                }
                catch
                {
                    await conn.DisposeAsync();
                    throw;
                }
            }

            async Task<int> Both(string cs)
            {
                // An async method cannot throw on the call: the second call never loses the first connection.
                var acquisitions = new[] { OpenAsync(cs), this.OpenAgainAsync(cs) };
                try
                {
                    var conns = await Task.WhenAll(acquisitions);
                    return conns.Length;
                }
                finally
                {
                    foreach (var acquisition in acquisitions)
                    {
                        if (acquisition.IsCompletedSuccessfully)
                        {
                            await acquisition.Result.DisposeAsync();
                        }
                    }
                }
            }

            private async Task<MySqlConnection> OpenAgainAsync(string cs) => await OpenAsync(cs);
        }
        """);

    [Fact]
    public Task A_second_call_that_can_throw_before_its_task_exists_still_loses_the_first_connection() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            static async Task<MySqlConnection> OpenAsync(string cs)
            {
                var conn = new MySqlConnection(cs);
                try
                {
                    await conn.OpenAsync();
                    return conn;
                }
                catch
                {
                    await conn.DisposeAsync();
                    throw;
                }
            }

            // Not async: its check throws on the call, before any task exists.
            static Task<MySqlConnection> OpenCheckedAsync(string cs) =>
                cs.Length == 0 ? throw new System.ArgumentException("empty", nameof(cs)) : OpenAsync(cs);

            async Task<int> Both(string cs)
            {
                var first = {|#0:OpenAsync(cs)|};
                var second = OpenCheckedAsync(cs);
                var acquisitions = new[] { first, second };
                try
                {
                    var conns = await Task.WhenAll(acquisitions);
                    return conns.Length;
                }
                finally
                {
                    foreach (var acquisition in acquisitions)
                    {
                        if (acquisition.IsCompletedSuccessfully)
                        {
                            await acquisition.Result.DisposeAsync();
                        }
                    }
                }
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'first' from OpenAsync()", "if an exception is thrown at line 28"));

    private static string TasksOfTwoPools(string second) => $$"""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            private readonly Pool _pool = new();

            async Task<int> Both(Pool pool, Pool other)
            {
                var acquisitions = new[] { {|#0:pool.GetConnectionAsync()|}, {{second}} };
                try
                {
                    var conns = await Task.WhenAll(acquisitions);
                    return conns.Length;
                }
                finally
                {
                    foreach (var acquisition in acquisitions)
                    {
                        if (acquisition.IsCompletedSuccessfully)
                        {
                            acquisition.Result.Release();
                        }
                    }
                }
            }
        }
        """;

    [Fact]
    public Task Tasks_of_an_async_method_called_twice_on_one_parameter_and_released_in_finally_are_not_reported() =>
        // The first call dereferenced 'pool', and an async method (the prelude's is) throws only into its task.
        Verify.VerifyAnalyzerAsync(TasksOfTwoPools("pool.GetConnectionAsync()").Replace("{|#0:", "").Replace("|}", ""));

    [Theory]
    [InlineData("other.GetConnectionAsync()")]
    [InlineData("_pool.GetConnectionAsync()")]
    public Task Tasks_of_an_async_method_on_another_object_that_may_be_null_are_reported(string second) =>
        // 'other' (or the field) may be null: the call throws before its task exists and the first connection is lost.
        Verify.VerifyAnalyzerAsync(TasksOfTwoPools(second),
            Verify.Diagnostic().WithLocation(0).WithArguments("The result of 'GetConnectionAsync'", "if an exception is thrown at line 10"));

    [Fact]
    public Task Tasks_of_an_async_method_called_twice_on_a_field_that_may_change_are_reported() =>
        // Unlike a read-only field, '_current' may be set to null between the two calls.
        Verify.VerifyAnalyzerAsync(TasksOfTwoPools("_current.GetConnectionAsync()")
                .Replace("{|#0:pool.GetConnectionAsync()|}", "{|#0:_current.GetConnectionAsync()|}")
                .Replace("private readonly Pool _pool = new();", "private Pool _current = new();"),
            Verify.Diagnostic().WithLocation(0).WithArguments("The result of 'GetConnectionAsync'", "if an exception is thrown at line 10"));

    // ---------------------------------------------------------------- copies, coalescing stores and ownership flags

    [Theory]
    [InlineData("")]
    [InlineData(", IComparable")]
    [InlineData(", IComparable, ICloneable")]
    public Task Lease_given_to_a_primary_constructor_whose_base_call_may_throw_is_reported(string interfaces) => Verify.VerifyAnalyzerAsync($$"""
        using System;
        using Prelude;

        abstract class ScopeBase
        {
            protected ScopeBase(string tenant)
            {
                if (tenant.Length == 0)
                {
                    throw new ArgumentException("A tenant is needed.", nameof(tenant));
                }
            }
        }

        sealed class TenantScope(ConnectionLease lease, string tenant) : ScopeBase(tenant.Trim()){{interfaces}}
        {
            public ConnectionLease Lease { get; } = lease;

            public int CompareTo(object? other) => 0;

            public object Clone() => this;
        }

        class C
        {
            int M(LeasePool pool, string tenant)
            {
                var lease = {|#0:pool.GetConnection()|};
                var scope = new TenantScope(lease, tenant);
                try
                {
                    return scope.Lease.Execute("select 1");
                }
                finally
                {
                    scope.Lease.Dispose();
                }
            }
        }
        """,
        // The base call may throw (it trims and checks the tenant) before the scope holds the lease.
        Verify.Diagnostic().WithLocation(0).WithArguments("'lease'", "if an exception is thrown at line 29"));

    [Fact]
    public Task With_copy_that_carries_a_second_lease_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using Prelude;

        record TenantScope(ConnectionLease Lease, string Tenant);

        record struct ReportScope(ConnectionLease Lease, int Year);

        class C
        {
            int Copy(LeasePool pool)
            {
                var scope = new TenantScope(pool.GetConnection(), "a");
                try
                {
                    var other = scope with { Lease = {|#0:pool.GetConnection()|} };
                    return scope.Lease.Execute("select 1") + other.Lease.Execute("select 2");
                }
                finally
                {
                    scope.Lease.Dispose();
                }
            }

            async Task<int> CopyAsync(LeasePool pool)
            {
                var scope = new ReportScope(await pool.GetConnectionAsync("t1"), 2024);
                try
                {
                    var next = scope with { Lease = await {|#1:pool.GetConnectionAsync("t2")|}, Year = 2025 };
                    return await scope.Lease.ExecuteAsync("select 1") + await next.Lease.ExecuteAsync("select 2");
                }
                finally
                {
                    await scope.Lease.DisposeAsync();
                }
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'other.Lease'", "on the path that returns at line 16"),
        Verify.Diagnostic().WithLocation(1).WithArguments("'next.Lease'", "on the path that returns at line 30"));

    [Fact]
    public Task With_copy_whose_leases_are_both_released_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using Prelude;

        record TenantScope(ConnectionLease Lease, string Tenant);

        record struct ReportScope(ConnectionLease Lease, int Year);

        class C
        {
            int Copy(LeasePool pool)
            {
                var scope = new TenantScope(pool.GetConnection(), "a");
                try
                {
                    var other = scope with { Lease = pool.GetConnection() };
                    try
                    {
                        return scope.Lease.Execute("select 1") + other.Lease.Execute("select 2");
                    }
                    finally
                    {
                        other.Lease.Dispose();
                    }
                }
                finally
                {
                    scope.Lease.Dispose();
                }
            }

            async Task<int> CopyAsync(LeasePool pool)
            {
                var scope = new ReportScope(await pool.GetConnectionAsync("t1"), 2024);
                try
                {
                    var next = scope with { Lease = await pool.GetConnectionAsync("t2"), Year = 2025 };
                    await using (next.Lease)
                    {
                        return await scope.Lease.ExecuteAsync("select 1") + await next.Lease.ExecuteAsync("select 2");
                    }
                }
                finally
                {
                    await scope.Lease.DisposeAsync();
                }
            }

            ReportScope Renew(ReportScope scope, LeasePool pool) => scope with { Lease = pool.GetConnection() };
        }
        """);

    [Fact]
    public Task With_copy_of_a_new_holder_that_replaces_its_other_member_still_holds_the_lease() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        record LeasePair(ConnectionLease First, ConnectionLease? Second);

        record struct ScopePair(ConnectionLease First, ConnectionLease? Second);

        class C
        {
            int Copy(LeasePool pool, ConnectionLease? spare)
            {
                // The copy (the record's clone) is the only holder left, and which member carries the lease is not
                // followed: it still holds it.
                var pair = new LeasePair(pool.GetConnection(), null) with { Second = spare };
                try
                {
                    return pair.First.Execute("select 1");
                }
                finally
                {
                    pair.First.Dispose();
                }
            }

            int CopyStruct(LeasePool pool, ConnectionLease? spare)
            {
                var pair = new ScopePair(pool.GetConnection(), null) with { Second = spare };
                try
                {
                    return pair.First.Execute("select 1");
                }
                finally
                {
                    pair.First.Dispose();
                }
            }

            int Leaked(LeasePool pool, ConnectionLease? spare)
            {
                var pair = new ScopePair({|#0:pool.GetConnection()|}, null) with { Second = spare };
                return pair.First.Execute("select 1");
            }

            int LeakedCopy(LeasePool pool, ConnectionLease? spare)
            {
                var pair = new LeasePair({|#1:pool.GetConnection()|}, null) with { Second = spare };
                return pair.First.Execute("select 1");
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("The result of 'GetConnection'", "on the path that returns at line 40"),
        Verify.Diagnostic().WithLocation(1).WithArguments("The result of 'GetConnection'", "on the path that returns at line 46"));

    [Fact]
    public Task Tuple_that_holds_the_lease_releases_it_through_its_element() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            int Named(LeasePool pool)
            {
                var t = (Lease: pool.GetConnection(), Year: 1);
                try
                {
                    return t.Lease.Execute("select 1");
                }
                finally
                {
                    t.Lease.Dispose();
                }
            }

            int Copied(LeasePool pool)
            {
                var s = (Lease: pool.GetConnection(), Year: 1);
                var t = s with { Year = 2 };
                try
                {
                    return t.Lease.Execute("select 1");
                }
                finally
                {
                    t.Lease.Dispose();
                }
            }

            int Unnamed(LeasePool pool)
            {
                var t = (pool.GetConnection(), 1) with { Item2 = 2 };
                try
                {
                    return t.Item1.Execute("select 1");
                }
                finally
                {
                    t.Item1.Dispose();
                }
            }

            (ConnectionLease, int) Returned(LeasePool pool)
            {
                var t = (pool.GetConnection(), 1);
                return t;
            }

            int Leaked(LeasePool pool)
            {
                var t = (Lease: {|#0:pool.GetConnection()|}, Year: 1);
                return t.Lease.Execute("select 1");
            }

            int LeakedOnThrow(LeasePool pool)
            {
                var t = (Lease: {|#1:pool.GetConnection()|}, Year: 1);
                t.Lease.Execute("select 1");
                t.Lease.Dispose();
                return 1;
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("The result of 'GetConnection'", "on the path that returns at line 54"),
        Verify.Diagnostic().WithLocation(1).WithArguments("The result of 'GetConnection'", "if an exception is thrown at line 60"));

    [Fact]
    public Task Deconstructing_a_value_that_does_not_hold_the_lease_leaves_it_held() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            static (int Rows, string Tenant) Counts() => (1, "a");

            int Run(LeasePool pool)
            {
                var lease = {|#0:pool.GetConnection()|};
                var (rows, tenant) = Counts();
                return lease.Execute("select 1") + rows + tenant.Length;
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'lease'", "on the path that returns at line 11"));

    [Theory]
    [InlineData("KeyValuePair.Create(\"a\", lease)", "pair.Value.Dispose();")]
    [InlineData("new KeyValuePair<string, ConnectionLease>(\"a\", lease)", "pair.Value.Dispose();")]
    [InlineData("KeyValuePair.Create(\"a\", lease)", "var (key, value) = pair; value.Dispose();")]
    [InlineData("Tuple.Create(lease, 1)", "pair.Item1.Dispose();")]
    [InlineData("new Tuple<int, ConnectionLease>(1, lease)", "using (pair.Item2) { }")]
    [InlineData("Tuple.Create(lease, 1)", "var (first, _) = pair; first.Dispose();")]
    [InlineData("ValueTuple.Create(1, lease)", "pair.Item2.Dispose();")]
    public Task Framework_pair_that_holds_the_lease_releases_it_through_its_member(string holder, string release) =>
        Verify.VerifyAnalyzerAsync(HeldByAFrameworkPair(holder, release));

    [Theory]
    [InlineData("KeyValuePair.Create(\"a\", lease)", "", "on the path that returns at line 13")]
    [InlineData("new KeyValuePair<string, ConnectionLease>(\"a\", lease)", "System.Console.WriteLine(pair.Key);", "on the path that returns at line 13")]
    [InlineData("Tuple.Create(lease, 1)", "System.Console.WriteLine(pair.Item2);", "on the path that returns at line 13")]
    [InlineData("ValueTuple.Create(1, lease)", "", "on the path that returns at line 13")]
    public Task Framework_pair_whose_lease_is_not_released_is_reported(string holder, string release, string path) =>
        Verify.VerifyAnalyzerAsync(HeldByAFrameworkPair(holder, release).Replace("var lease = pool.GetConnection();", "var lease = {|#0:pool.GetConnection()|};"),
            Verify.Diagnostic().WithLocation(0).WithArguments("'lease'", path));

    /// <summary>A lease put in <paramref name="holder"/> before a try whose finally runs <paramref name="release"/>.</summary>
    private static string HeldByAFrameworkPair(string holder, string release) => $$"""
        using System;
        using System.Collections.Generic;
        using Prelude;

        class C
        {
            int Run(LeasePool pool)
            {
                var lease = pool.GetConnection();
                var pair = {{holder}};
                try
                {
                    return pair.GetHashCode();
                }
                finally
                {
                    {{release}}
                }
            }
        }
        """;

    [Fact]
    public Task Holder_whose_member_is_typed_as_a_disposable_interface_releases_through_it() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Threading.Tasks;
        using Prelude;

        record Scope(IDisposable Resource, string Tenant);

        record AsyncScope(IAsyncDisposable Resource, string Tenant);

        class C
        {
            int Run(LeasePool pool)
            {
                var scope = new Scope(pool.GetConnection(), "a");
                try
                {
                    return scope.Tenant.Length;
                }
                finally
                {
                    scope.Resource.Dispose();
                }
            }

            async Task<int> RunAsync(LeasePool pool)
            {
                var scope = new AsyncScope(await pool.GetConnectionAsync("t1"), "a");
                try
                {
                    return scope.Tenant.Length;
                }
                finally
                {
                    await scope.Resource.DisposeAsync();
                }
            }

            int Leaked(LeasePool pool)
            {
                var scope = new Scope({|#0:pool.GetConnection()|}, "a");
                return scope.Tenant.Length;
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("The result of 'GetConnection'", "on the path that returns at line 40"));

    [Fact]
    public Task Returning_the_value_of_a_dynamic_call_or_of_a_flag_assignment_does_not_hand_the_connection_over() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            object Dynamic(Pool pool, dynamic audit)
            {
                var conn = {|#0:pool.GetConnection()|};
                conn.Execute("select 1");
                object note = audit.Describe("select 1");
                return note;
            }

            bool Flag(Pool pool, bool early)
            {
                var conn = {|#1:pool.GetConnection()|};
                var released = early;
                conn.Execute("select 1");
                var seen = (released |= true);
                return seen;
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 10"),
        Verify.Diagnostic().WithLocation(1).WithArguments("'conn'", "on the path that returns at line 19"));

    [Fact]
    public Task Lease_bound_by_a_pattern_on_its_holder_is_followed() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        record TenantScope(ConnectionLease Lease, string Tenant);

        class C
        {
            int Positional(LeasePool pool)
            {
                var scope = new TenantScope(pool.GetConnection(), "a");
                if (scope is (var lease, "a"))
                {
                    try
                    {
                        return lease.Execute("select 1");
                    }
                    finally
                    {
                        lease.Dispose();
                    }
                }

                scope.Lease.Dispose();
                return 0;
            }

            int Property(LeasePool pool)
            {
                var scope = new TenantScope(pool.GetConnection(), "a");
                if (scope is { Lease: var lease, Tenant.Length: > 0 })
                {
                    using (lease)
                    {
                        return lease.Execute("select 1");
                    }
                }

                scope.Lease.Dispose();
                return 0;
            }

            int NotReleasedOnOneSide(LeasePool pool)
            {
                var scope = new TenantScope({|#0:pool.GetConnection()|}, "a");
                if (scope is { Lease: var lease })
                {
                    return lease.Execute("select 1");
                }

                scope.Lease.Dispose();
                return 0;
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("The result of 'GetConnection'", "on the path that returns at line 46"));

    [Fact]
    public Task Coalescing_store_into_a_field_is_a_hand_off() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Threading;
        using System.Threading.Tasks;
        using MySqlConnector;
        using Prelude;

        sealed class ReportSession : IAsyncDisposable
        {
            private readonly MySqlDataSource _dataSource;
            private readonly LeasePool _pool;
            private MySqlConnection? _connection;
            private ConnectionLease? _lease;

            public ReportSession(MySqlDataSource dataSource, LeasePool pool)
            {
                _dataSource = dataSource;
                _pool = pool;
            }

            public async Task<MySqlConnection> ConnectionAsync(CancellationToken ct)
            {
                _connection ??= await _dataSource.OpenConnectionAsync(ct);
                return _connection;
            }

            public MySqlConnection Connection() => _connection ??= _dataSource.OpenConnection();

            public ConnectionLease Lease() => _lease ??= _pool.GetConnection();

            public async ValueTask DisposeAsync()
            {
                _lease?.Dispose();
                if (_connection is not null)
                {
                    await _connection.DisposeAsync();
                }
            }
        }
        """);

    [Fact]
    public Task Coalescing_into_a_local_is_still_followed() => Verify.VerifyAnalyzerAsync("""
        using System.Threading;
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            async Task<int> CountAsync(MySqlDataSource ds, MySqlConnection? given, CancellationToken ct)
            {
                var conn = given;
                conn ??= await {|#0:ds.OpenConnectionAsync(ct)|};
                using var cmd = new MySqlCommand("select count(*) from invoices", conn);
                return (int)(long)(await cmd.ExecuteScalarAsync(ct))!;
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 12"));

    private const string OutboxStore = """
        using System;
        using System.Threading;
        using System.Threading.Tasks;
        using MySqlConnector;

        sealed class OutboxStore
        {
            private readonly MySqlDataSource _dataSource;
            private readonly MySqlConnection? _external;

            public OutboxStore(MySqlDataSource dataSource, MySqlConnection? external = null)
            {
                _dataSource = dataSource;
                _external = external;
            }

        """;

    [Fact]
    public Task Release_under_the_ownership_flag_that_proves_the_method_owns_it_is_not_reported() => Verify.VerifyAnalyzerAsync(OutboxStore + """
            public async Task StoreAsync(string id, CancellationToken ct)
            {
                var conn = _external ?? await _dataSource.OpenConnectionAsync(ct);
                try
                {
                    await using var cmd = new MySqlCommand("insert into outbox values (@id)", conn);
                    cmd.Parameters.AddWithValue("@id", id);
                    await cmd.ExecuteNonQueryAsync(ct);
                }
                finally
                {
                    if (_external == null)
                    {
                        await conn.DisposeAsync();
                    }
                }
            }

            public long Count(bool verbose)
            {
                var conn = _external ?? _dataSource.OpenConnection();
                var owned = _external is null;
                try
                {
                    using var cmd = new MySqlCommand("select count(*) from outbox", conn);
                    return (long)cmd.ExecuteScalar()!;
                }
                finally
                {
                    if (owned)
                    {
                        conn.Dispose();
                    }
                }
            }
        }
        """);

    [Fact]
    public Task Release_under_a_flag_that_does_not_prove_ownership_is_reported() => Verify.VerifyAnalyzerAsync(OutboxStore + """
            public async Task StoreAsync(string id, CancellationToken ct)
            {
                var conn = _external ?? await {|#0:_dataSource.OpenConnectionAsync(ct)|};
                try
                {
                    await using var cmd = new MySqlCommand("insert into outbox values (@id)", conn);
                    await cmd.ExecuteNonQueryAsync(ct);
                }
                finally
                {
                    if (_external != null)
                    {
                        await conn.DisposeAsync();
                    }
                }
            }

            public long Count(bool verbose)
            {
                var conn = _external ?? {|#1:_dataSource.OpenConnection()|};
                try
                {
                    using var cmd = new MySqlCommand("select count(*) from outbox", conn);
                    return (long)cmd.ExecuteScalar()!;
                }
                finally
                {
                    if (verbose)
                    {
                        conn.Dispose();
                    }
                }
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that leaves the method after line 22"),
        Verify.Diagnostic().WithLocation(1).WithArguments("'conn'", "on the path that returns at line 39"));

    [Fact]
    public Task Dapper_reader_from_ExecuteReaderAsync_never_disposed_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using Dapper;
        using MySqlConnector;

        interface IConnectionFactory
        {
            MySqlConnection Create();
        }

        class C
        {
            async Task<int> CountAsync(IConnectionFactory factory)
            {
                var connection = factory.Create();
                var reader = await {|#0:connection.ExecuteReaderAsync("select id from invoices")|};
                var count = 0;
                while (await reader.ReadAsync())
                {
                    count++;
                }

                return count;
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'reader'", "on the path that returns at line 22"));

    [Fact]
    public Task Dapper_reader_on_a_connection_a_factory_hands_out_closed_is_an_acquisition() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using Dapper;
        using MySqlConnector;

        interface IConnectionFactory
        {
            MySqlConnection Create();
        }

        class C
        {
            int Count(IConnectionFactory factory)
            {
                var connection = factory.Create();
                var reader = {|#0:connection.ExecuteReader("select id from invoices")|};
                var count = 0;
                while (reader.Read())
                {
                    count++;
                }

                return count;
            }

            async Task<int> CountAsync(IConnectionFactory factory)
            {
                var connection = factory.Create();
                await using var reader = await connection.ExecuteReaderAsync("select id from invoices");
                var count = 0;
                while (await reader.ReadAsync())
                {
                    count++;
                }

                return count;
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'reader'", "on the path that returns at line 22"));

    [Fact]
    public Task Disposable_type_of_the_compilation_that_never_releases_what_it_is_given_takes_nothing_over() => Verify.VerifyAnalyzerAsync("""
        using System;
        using MySqlConnector;

        sealed class JobStorage : IDisposable
        {
            private readonly MySqlConnection _existingConnection;

            public JobStorage(MySqlConnection existingConnection) => _existingConnection = existingConnection;

            public int Count() => 0;

            public void Dispose()
            {
            }
        }

        class C
        {
            int Twice(MySqlDataSource ds)
            {
                using (var connection = ds.OpenConnection())
                {
                    using (var storage = new JobStorage(connection))
                    {
                        return storage.Count();
                    }
                }
            }

            int Lost(MySqlDataSource ds)
            {
                using var storage = new JobStorage({|#0:ds.OpenConnection()|});
                return storage.Count();
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("The result of 'OpenConnection'", "because the result is discarded"));

    // ---------------------------------------------------------------- a variable swapped out with Interlocked.Exchange

    /// <summary>
    /// <c>Interlocked.Exchange(ref conn, null)</c> gives back what the variable held: the call's value is the connection,
    /// to be released, and the variable no longer holds it.
    /// </summary>
    [Theory]
    [InlineData("Interlocked.Exchange(ref conn, null)?.Dispose();", null)]
    [InlineData("var taken = Interlocked.Exchange(ref conn, null);\n        taken?.Dispose();", null)]
    [InlineData("Interlocked.Exchange(ref conn, null)!.Dispose();\n        conn?.Dispose();", null)]
    [InlineData("Interlocked.Exchange(ref conn, null);", "because the result is discarded")]
    [InlineData("var taken = Interlocked.Exchange(ref conn, null);\n        conn?.Dispose();", "on the path that leaves the method after line 10")]
    public Task Connection_swapped_out_of_its_local_is_followed_into_the_call_value(string release, string? leak) => Verify.VerifyAnalyzerAsync($$"""
        using System.Threading;
        using MySqlConnector;

        class C
        {
            void M(MySqlDataSource ds)
            {
                MySqlConnection? conn = {|#0:ds.OpenConnection()|};
                {{release}}
            }
        }
        """.Replace("{|#0:", leak is null ? "" : "{|#0:").Replace("|}", leak is null ? "" : "|}"),
        leak is null ? [] : [Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", leak)]);

    // ---------------------------------------------------------------- a wrapper struct held as a Nullable<T>

    private const string LeaseStruct = """
        readonly struct Lease : IDisposable, IAsyncDisposable
        {
            public Lease(MySqlConnection c) => Connection = c;

            public MySqlConnection Connection { get; }

            public void Dispose() => Connection.Dispose();

            public ValueTask DisposeAsync() => Connection.DisposeAsync();
        }
        """;

    /// <summary>
    /// A struct that owns the connection, held in a <c>Lease?</c>: the implicit wrapping, <c>.Value</c>, <c>?.</c>,
    /// <c>HasValue</c> and <c>GetValueOrDefault()</c> all reach the same struct, and releasing it releases the connection.
    /// </summary>
    [Theory]
    [InlineData("Lease? lease = null;\n        try\n        {\n            lease = new Lease(ds.OpenConnection());\n            return lease.Value.Connection.Ping();\n        }\n        finally\n        {\n            lease?.Dispose();\n        }")]
    [InlineData("Lease? lease = null;\n        try\n        {\n            lease = new Lease(ds.OpenConnection());\n            return lease.Value.Connection.Ping();\n        }\n        finally\n        {\n            if (lease.HasValue) lease.Value.Dispose();\n        }")]
    [InlineData("Lease? lease = null;\n        try\n        {\n            lease = new Lease(ds.OpenConnection());\n            return lease.Value.Connection.Ping();\n        }\n        finally\n        {\n            if (lease != null) lease.GetValueOrDefault().Dispose();\n        }")]
    [InlineData("Lease? lease = null;\n        try\n        {\n            lease = new Lease(ds.OpenConnection());\n            return lease.Value.Connection.Ping();\n        }\n        finally\n        {\n            if (lease is { } held) held.Dispose();\n        }")]
    [InlineData("Lease? lease = new Lease(ds.OpenConnection());\n        using (lease)\n        {\n            return lease.Value.Connection.Ping();\n        }")]
    [InlineData("Lease? lease = new Lease(ds.OpenConnection());\n        try\n        {\n            return lease.Value.Connection.Ping();\n        }\n        finally\n        {\n            lease.Value.Dispose();\n        }")]
    [InlineData("var lease = (Lease?)new Lease(ds.OpenConnection());\n        using (lease)\n        {\n            return lease.GetValueOrDefault().Connection.Ping();\n        }")]
    public Task Nullable_wrapper_struct_released_through_its_nullable_is_not_reported(string body) => Verify.VerifyAnalyzerAsync($$"""
        using System;
        using System.Threading.Tasks;
        using MySqlConnector;

        {{LeaseStruct}}

        class C
        {
            bool M(MySqlDataSource ds)
            {
                {{body}}
            }
        }
        """);

    [Theory]
    [InlineData("Lease? lease = new Lease(await ds.OpenConnectionAsync());\n        await using (lease)\n        {\n            return await lease.Value.Connection.PingAsync();\n        }")]
    [InlineData("Lease? lease = null;\n        try\n        {\n            lease = new Lease(await ds.OpenConnectionAsync());\n            return await lease.Value.Connection.PingAsync();\n        }\n        finally\n        {\n            if (lease.HasValue) await lease.Value.DisposeAsync();\n        }")]
    [InlineData("Lease? lease = null;\n        try\n        {\n            lease = new Lease(await ds.OpenConnectionAsync());\n            return await lease.Value.Connection.PingAsync();\n        }\n        finally\n        {\n            if (lease is { } held) await held.DisposeAsync();\n        }")]
    public Task Nullable_wrapper_struct_released_asynchronously_through_its_nullable_is_not_reported(string body) => Verify.VerifyAnalyzerAsync($$"""
        using System;
        using System.Threading.Tasks;
        using MySqlConnector;

        {{LeaseStruct}}

        class C
        {
            async Task<bool> M(MySqlDataSource ds)
            {
                {{body}}
            }
        }
        """);

    /// <summary>The same shapes that skip the release on some path: still reported.</summary>
    [Theory]
    [InlineData("Lease? lease = new Lease({|#0:ds.OpenConnection()|});\n        return lease.Value.Connection.Ping();", "on the path that returns at line 21")]
    [InlineData("Lease? lease = null;\n        try\n        {\n            lease = new Lease({|#0:ds.OpenConnection()|});\n            return lease.Value.Connection.Ping();\n        }\n        finally\n        {\n            if (lease.HasValue && flag) lease.Value.Dispose();\n        }", "on the path that returns at line 24")]
    [InlineData("Lease? lease = new Lease({|#0:ds.OpenConnection()|});\n        var ok = lease.Value.Connection.Ping();\n        lease = null;\n        lease?.Dispose();\n        return ok;", "when 'lease' is overwritten at line 22")]
    [InlineData("Lease? lease = new Lease({|#0:ds.OpenConnection()|});\n        if (flag) lease.GetValueOrDefault().Dispose();\n        return true;", "on the path that returns at line 22")]
    public Task Nullable_wrapper_struct_not_released_on_every_path_is_reported(string body, string path) => Verify.VerifyAnalyzerAsync($$"""
        using System;
        using System.Threading.Tasks;
        using MySqlConnector;

        {{LeaseStruct}}

        class C
        {
            bool M(MySqlDataSource ds, bool flag)
            {
                {{body}}
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("The result of 'OpenConnection'", path));

    /// <summary>
    /// A connection resolved from a service provider belongs to the container, which disposes it with its scope, as an
    /// injected one belongs to whoever injected it: opening it is no acquisition of the method. A data source resolved
    /// there still hands out connections the method must release.
    /// </summary>
    [Fact]
    public Task Connection_resolved_from_a_service_provider_and_opened_belongs_to_the_container() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Threading.Tasks;
        using Microsoft.Extensions.DependencyInjection;
        using MySqlConnector;

        class Jobs
        {
            public async Task<int> ScopedAsync(IServiceScopeFactory scopes)
            {
                await using var scope = scopes.CreateAsyncScope();
                var connection = scope.ServiceProvider.GetRequiredService<MySqlConnection>();
                await connection.OpenAsync();
                return connection.ServerThread;
            }

            public int Untyped(IServiceProvider services)
            {
                var connection = (MySqlConnection)services.GetService(typeof(MySqlConnection))!;
                connection.Open();
                var keyed = services.GetRequiredKeyedService<MySqlConnection>("reports");
                keyed.Open();
                return connection.ServerThread + keyed.ServerThread;
            }

            public int Own(IServiceProvider services, string cs)
            {
                var mine = new MySqlConnection(cs);
                {|#0:mine.Open()|};
                var pooled = {|#1:services.GetRequiredService<MySqlDataSource>().OpenConnection()|};
                return mine.ServerThread + pooled.ServerThread;
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'mine'", "on the path that returns at line 30"),
        Verify.Diagnostic().WithLocation(1).WithArguments("'pooled'", "on the path that returns at line 30"));
}
