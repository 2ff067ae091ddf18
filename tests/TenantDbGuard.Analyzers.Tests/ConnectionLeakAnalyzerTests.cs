using System;
using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Testing;
using TenantDbGuard.Analyzers.Tests.Verifiers;
using Verify = TenantDbGuard.Analyzers.Tests.Verifiers.CSharpAnalyzerVerifier<TenantDbGuard.Analyzers.ConnectionLeakAnalyzer>;

namespace TenantDbGuard.Analyzers.Tests;

public sealed class ConnectionLeakAnalyzerTests
{
    // ---------------------------------------------------------------- pool-shaped API, synchronous

    [Fact]
    public Task Pool_connection_never_released_is_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var conn = {|#0:pool.GetConnection()|};
                return conn.Execute("select 1");
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 8"));

    [Fact]
    public Task Pool_connection_released_in_finally_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    return conn.Execute("select 1");
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """);

    [Fact]
    public Task Pool_connection_released_with_nothing_in_between_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                var conn = pool.GetConnection();
                var inner = conn.Inner;
                conn.Release();
            }
        }
        """);

    [Fact]
    public Task Pool_connection_released_at_the_end_without_finally_is_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var conn = {|#0:pool.GetConnection()|};
                var rows = conn.Execute("delete from sessions");
                conn.Release();
                return rows;
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "if an exception is thrown at line 8"));

    [Fact]
    public Task Release_calls_and_ConfigureAwait_are_not_considered_able_to_throw() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            void M(Pool pool, PooledConnection previous)
            {
                var conn = pool.GetConnection();
                previous.Release();
                conn.Release();
            }

            async Task N(LeasePool pool)
            {
                var lease = await pool.GetConnectionAsync("tenant-1").ConfigureAwait(false);
                await lease.DisposeAsync().ConfigureAwait(false);
            }
        }
        """);

    [Fact]
    public Task Pool_connection_released_through_a_pool_method_taking_it_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        sealed class TenantPool
        {
            private readonly Pool _pool = new Pool();

            public PooledConnection GetConnection() => _pool.GetConnection();

            public void Release(PooledConnection connection) => connection.Release();
        }

        class C
        {
            int M(TenantPool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    return conn.Execute("select 1");
                }
                finally
                {
                    pool.Release(conn);
                }
            }
        }
        """);

    [Fact]
    public Task Pool_connection_acquired_inside_try_and_released_with_null_conditional_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                PooledConnection conn = null;
                try
                {
                    conn = pool.GetConnection();
                    return conn.Execute("select 1");
                }
                finally
                {
                    conn?.Release();
                }
            }
        }
        """);

    [Fact]
    public Task Pool_connection_released_on_every_branch_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool, bool readOnly)
            {
                var conn = pool.GetConnection();
                if (readOnly)
                {
                    conn.Release();
                    return 0;
                }

                try
                {
                    return conn.Execute("delete from sessions");
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """);

    [Fact]
    public Task Pool_connection_released_on_one_branch_only_is_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool, bool keep)
            {
                var conn = {|#0:pool.GetConnection()|};
                if (keep)
                {
                    Log.Info("keeping the connection");
                }
                else
                {
                    conn.Release();
                }
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that leaves the method after line 10"));

    [Fact]
    public Task Pool_connection_checked_for_null_with_early_return_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var conn = pool.GetConnection();
                if (conn is null)
                {
                    return 0;
                }

                try
                {
                    return conn.Execute("select 1");
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """);

    [Fact]
    public Task Pool_connection_released_under_is_not_null_in_finally_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                PooledConnection conn = null;
                try
                {
                    conn = pool.GetConnection();
                    return conn.Execute("select 1");
                }
                finally
                {
                    if (conn is not null)
                    {
                        conn.Release();
                    }
                }
            }
        }
        """);

    [Fact]
    public Task Connection_passed_as_an_ordinary_argument_is_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                var conn = {|#0:pool.GetConnection()|};
                Use(conn);
            }

            static void Use(PooledConnection connection) => connection.Execute("select 1");
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that leaves the method after line 8"));

    // ---------------------------------------------------------------- pool-shaped API, asynchronous

    [Fact]
    public Task Pool_async_connection_released_without_finally_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading;
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task M(Pool pool, CancellationToken ct)
            {
                var conn = await {|#0:pool.GetConnectionAsync(ct)|};
                await conn.ExecuteAsync("update tenants set seen = now()", ct);
                conn.Release();
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "if an exception is thrown at line 10"));

    [Fact]
    public Task Pool_async_location_is_the_invocation_without_configure_await() => Verify.VerifyAnalyzerAsync("""
        using System.Threading;
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task M(Pool pool, CancellationToken ct)
            {
                var conn = await {|#0:pool.GetConnectionAsync(ct)|}.ConfigureAwait(false);
                await conn.ExecuteAsync("update tenants set seen = now()", ct).ConfigureAwait(false);
                conn.Release();
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "if an exception is thrown at line 10"));

    [Fact]
    public Task Pool_async_connection_released_in_finally_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading;
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> M(Pool pool, CancellationToken ct)
            {
                var conn = await pool.GetConnectionAsync(ct).ConfigureAwait(false);
                try
                {
                    return await conn.ExecuteAsync("select 1", ct).ConfigureAwait(false);
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """);

    [Fact]
    public Task Pool_async_connection_acquired_inside_try_with_null_check_in_finally_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading;
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> M(Pool pool, CancellationToken ct)
            {
                PooledConnection conn = null;
                try
                {
                    conn = await pool.GetConnectionAsync(ct);
                    return await conn.ExecuteAsync("select 1", ct);
                }
                finally
                {
                    if (conn != null)
                    {
                        conn.Release();
                    }
                }
            }
        }
        """);

    // ---------------------------------------------------------------- LeasePool (IDisposable + IAsyncDisposable)

    [Fact]
    public Task Lease_in_using_declaration_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            int M(LeasePool pool)
            {
                using var lease = pool.GetConnection();
                return lease.Execute("select 1");
            }
        }
        """);

    [Fact]
    public Task Lease_in_using_statement_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            int M(LeasePool pool)
            {
                using (var lease = pool.GetConnection())
                {
                    return lease.Execute("select 1");
                }
            }
        }
        """);

    [Fact]
    public Task Lease_in_await_using_declaration_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> M(LeasePool pool, string tenant)
            {
                await using var lease = await pool.GetConnectionAsync(tenant);
                return await lease.ExecuteAsync("select 1");
            }
        }
        """);

    [Fact]
    public Task Lease_disposed_async_without_finally_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task M(LeasePool pool, string tenant)
            {
                var lease = await {|#0:pool.GetConnectionAsync(tenant)|};
                await lease.ExecuteAsync("delete from sessions");
                await lease.DisposeAsync();
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'lease'", "if an exception is thrown at line 9"));

    [Fact]
    public Task Lease_disposed_async_in_finally_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task M(LeasePool pool, string tenant)
            {
                var lease = await pool.GetConnectionAsync(tenant);
                try
                {
                    await lease.ExecuteAsync("delete from sessions");
                }
                finally
                {
                    await lease.DisposeAsync();
                }
            }
        }
        """);

    [Fact]
    public Task Lease_disposed_in_finally_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            int M(LeasePool pool)
            {
                var lease = pool.GetConnection();
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
        """);

    [Fact]
    public Task Lease_in_using_on_an_existing_variable_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            int M(LeasePool pool)
            {
                var lease = pool.GetConnection();
                using (lease)
                {
                    return lease.Execute("select 1");
                }
            }
        }
        """);

    [Fact]
    public Task Lease_in_await_using_with_configure_await_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> M(LeasePool pool, string tenant)
            {
                var lease = await pool.GetConnectionAsync(tenant).ConfigureAwait(false);
                await using (lease.ConfigureAwait(false))
                {
                    return await lease.ExecuteAsync("select 1").ConfigureAwait(false);
                }
            }
        }
        """);

    [Fact]
    public Task Lease_in_await_using_per_loop_iteration_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Collections.Generic;
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task M(LeasePool pool, IEnumerable<string> tenants)
            {
                foreach (var tenant in tenants)
                {
                    await using var lease = await pool.GetConnectionAsync(tenant);
                    await lease.ExecuteAsync("delete from sessions");
                }
            }
        }
        """);

    // ---------------------------------------------------------------- MySqlConnector: Open/OpenAsync and MySqlDataSource

    [Fact]
    public Task MySqlConnection_in_using_declaration_then_opened_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using MySqlConnector;

        class C
        {
            int M(string connectionString)
            {
                using var conn = new MySqlConnection(connectionString);
                conn.Open();
                using var cmd = new MySqlCommand("select count(*) from tenants", conn);
                return Convert.ToInt32(cmd.ExecuteScalar());
            }
        }
        """);

    [Fact]
    public Task MySqlConnection_in_await_using_then_opened_async_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading;
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            async Task<int> M(string connectionString, CancellationToken ct)
            {
                await using var conn = new MySqlConnection(connectionString);
                await conn.OpenAsync(ct);
                await using var cmd = new MySqlCommand("delete from sessions", conn);
                return await cmd.ExecuteNonQueryAsync(ct);
            }
        }
        """);

    [Fact]
    public Task MySqlConnection_opened_async_and_closed_without_finally_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading;
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            async Task M(string connectionString, CancellationToken ct)
            {
                var conn = new MySqlConnection(connectionString);
                await {|#0:conn.OpenAsync(ct)|};
                using var cmd = new MySqlCommand("delete from sessions", conn);
                await cmd.ExecuteNonQueryAsync(ct);
                await conn.CloseAsync();
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "if an exception is thrown at line 11"));

    [Theory]
    [InlineData("var third = conn;", "")]
    [InlineData("var third = conn;", "third = conn;")]
    [InlineData("var third = conn; var other = third;", "third = other;")]
    [InlineData("var copy = conn; var third = copy;", "")]
    [InlineData("var copy = conn; var other = copy; var third = other;", "")]
    [InlineData("System.Data.Common.DbConnection copy = conn; var third = (MySqlConnection)copy;", "")]
    [InlineData("var copy = conn; var third = conn;", "third = copy;")]
    public Task MySqlConnection_copied_before_it_is_opened_and_disposed_through_the_original_is_not_reported(string copies, string reassign) =>
        Verify.VerifyAnalyzerAsync(OpenedThroughACopy(copies + " " + reassign, "third.Open()"));

    [Theory]
    [InlineData("var copy = conn; conn = new MySqlConnection(connectionString); var third = copy;")]
    [InlineData("var copy = conn; var third = copy; conn = new MySqlConnection(connectionString);")]
    [InlineData("var copy = conn; if (connectionString.Length > 0) copy = new MySqlConnection(connectionString); var third = copy;")]
    public Task MySqlConnection_opened_through_a_copy_and_disposed_through_a_variable_that_no_longer_holds_it_is_reported(string copies) =>
        // 'conn' or 'copy' is written again: they no longer hold one connection, and the one opened can leak.
        Verify.VerifyAnalyzerAsync(OpenedThroughACopy(copies, "{|#0:third.Open()|}"),
            Verify.Diagnostic().WithLocation(0).WithArguments("'third'", "on the path that leaves the method after line 13"));

    [Theory]
    [InlineData("handle")]
    [InlineData("copy")]
    public Task MySqlConnection_made_by_a_user_defined_conversion_is_not_released_by_disposing_what_it_was_made_from(string disposed) =>
        // The conversion makes another object: neither the handle nor its copy holds the connection that is opened.
        Verify.VerifyAnalyzerAsync("""
            using MySqlConnector;

            sealed class Handle
            {
                public static explicit operator MySqlConnection(Handle handle) => new MySqlConnection("Server=db");

                public void Dispose()
                {
                }
            }

            class C
            {
                void M()
                {
                    var handle = new Handle();
                    var copy = handle;
                    var conn = (MySqlConnection)copy;
                    {|#0:conn.Open()|};
                    try
                    {
                        using var cmd = new MySqlCommand("delete from sessions", conn);
                        cmd.ExecuteNonQuery();
                    }
                    finally
                    {
                        DISPOSED.Dispose();
                    }
                }
            }
            """.Replace("DISPOSED", disposed),
            Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that leaves the method after line 23"));

    /// <summary>A connection made in 'conn', copied (<paramref name="copies"/>) into 'third', opened there, disposed through 'conn'.</summary>
    private static string OpenedThroughACopy(string copies, string open) => $$"""
        using MySqlConnector;

        class C
        {
            void M(string connectionString)
            {
                var conn = new MySqlConnection(connectionString);
                {{copies}}
                {{open}};
                try
                {
                    using var cmd = new MySqlCommand("delete from sessions", third);
                    cmd.ExecuteNonQuery();
                }
                finally
                {
                    conn.Dispose();
                }
            }
        }
        """;

    [Fact]
    public Task MySqlConnection_opened_and_closed_without_finally_is_reported() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        class C
        {
            void M(string connectionString)
            {
                var conn = new MySqlConnection(connectionString);
                {|#0:conn.Open()|};
                using var cmd = new MySqlCommand("delete from sessions", conn);
                cmd.ExecuteNonQuery();
                conn.Close();
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "if an exception is thrown at line 9"));

    [Fact]
    public Task MySqlConnection_opened_and_closed_in_finally_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        class C
        {
            int M(string connectionString)
            {
                var conn = new MySqlConnection(connectionString);
                conn.Open();
                try
                {
                    using var cmd = new MySqlCommand("delete from sessions", conn);
                    return cmd.ExecuteNonQuery();
                }
                finally
                {
                    conn.Close();
                }
            }
        }
        """);

    [Fact]
    public Task MySqlConnection_opened_async_and_closed_async_in_finally_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading;
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            async Task<int> M(string connectionString, CancellationToken ct)
            {
                var conn = new MySqlConnection(connectionString);
                await conn.OpenAsync(ct);
                try
                {
                    using var cmd = new MySqlCommand("delete from sessions", conn);
                    return await cmd.ExecuteNonQueryAsync(ct);
                }
                finally
                {
                    await conn.CloseAsync();
                }
            }
        }
        """);

    [Fact]
    public Task MySqlConnection_opened_under_a_pattern_name_and_returned_under_its_own_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Data.Common;
        using System.Threading;
        using System.Threading.Tasks;
        using MySqlConnector;

        class Factory
        {
            string _connectionString = "";

            DbConnection Create() => new MySqlConnection(_connectionString);

            async Task<DbConnection> OpenAsync(CancellationToken ct)
            {
                var connection = Create();
                if (connection is MySqlConnection mySql)
                {
                    await mySql.OpenAsync(ct);
                    return connection;
                }

                await connection.OpenAsync(ct);
                return connection;
            }

            DbConnection Open()
            {
                object connection = Create();
                if (connection is MySqlConnection { State: System.Data.ConnectionState.Closed } mySql)
                {
                    mySql.Open();
                    return (DbConnection)connection;
                }

                return null;
            }
        }
        """);

    [Fact]
    public Task MySqlConnection_opened_under_a_pattern_name_and_dropped_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Data.Common;
        using System.Threading;
        using System.Threading.Tasks;
        using MySqlConnector;

        class Factory
        {
            string _connectionString = "";

            DbConnection Create() => new MySqlConnection(_connectionString);

            async Task<DbConnection> OpenAsync(CancellationToken ct)
            {
                var connection = Create();
                if (connection is MySqlConnection mySql)
                {
                    await {|#0:mySql.OpenAsync(ct)|};
                    return null;
                }

                return connection;
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'mySql'", "on the path that returns at line 18"));

    [Fact]
    public Task MySqlConnection_opened_through_an_extension_that_configures_the_await_is_held_from_the_await() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Data.Common;
        using System.Runtime.CompilerServices;
        using System.Threading;
        using System.Threading.Tasks;
        using MySqlConnector;

        static class TaskExtensions
        {
            public static ConfiguredTaskAwaitable ConfigAwait(this Task task) => task.ConfigureAwait(false);
        }

        class Factory
        {
            async Task<DbConnection> OpenAsync(string connectionString, CancellationToken ct)
            {
                var connection = new MySqlConnection(connectionString);
                await connection.OpenAsync(ct).ConfigAwait();
                return connection;
            }

            async Task<DbConnection> OpenAndLogAsync(string connectionString, CancellationToken ct)
            {
                var connection = new MySqlConnection(connectionString);
                await {|#0:connection.OpenAsync(ct)|}.ConfigAwait();
                Console.WriteLine(connection.ServerVersion);
                return connection;
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'connection'", "if an exception is thrown at line 26"));

    [Fact]
    public Task MySqlConnection_opened_through_an_extension_that_returns_another_task_can_leak_at_the_await() => Verify.VerifyAnalyzerAsync("""
        using System.Data.Common;
        using System.Threading;
        using System.Threading.Tasks;
        using MySqlConnector;

        static class TaskExtensions
        {
            public static Task WithTimeout(this Task task) => Task.WhenAny(task, Task.Delay(1000));
        }

        class Factory
        {
            async Task<DbConnection> OpenAsync(string connectionString, CancellationToken ct)
            {
                var connection = new MySqlConnection(connectionString);
                await {|#0:connection.OpenAsync(ct)|}.WithTimeout();
                return connection;
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'connection'", "if an exception is thrown at line 16"));

    [Fact]
    public Task MySqlConnection_closed_in_finally_after_state_check_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Data;
        using MySqlConnector;

        class C
        {
            int M(string connectionString)
            {
                var conn = new MySqlConnection(connectionString);
                try
                {
                    conn.Open();
                    using var cmd = new MySqlCommand("select count(*) from tenants", conn);
                    return Convert.ToInt32(cmd.ExecuteScalar());
                }
                finally
                {
                    if (conn.State == ConnectionState.Open)
                    {
                        conn.Close();
                    }
                }
            }
        }
        """);

    [Fact]
    public Task MySqlConnection_opened_then_put_in_using_on_the_existing_variable_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        class C
        {
            int M(string connectionString)
            {
                var conn = new MySqlConnection(connectionString);
                conn.Open();
                using (conn)
                {
                    using var cmd = new MySqlCommand("delete from sessions", conn);
                    return cmd.ExecuteNonQuery();
                }
            }
        }
        """);

    [Fact]
    public Task MySqlConnection_created_but_never_opened_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        class C
        {
            string M(string connectionString)
            {
                var conn = new MySqlConnection(connectionString);
                return conn.Database;
            }
        }
        """);

    [Fact]
    public Task Open_on_a_field_is_not_tracked() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        sealed class Repository
        {
            private readonly MySqlConnection _connection;

            public Repository(MySqlConnection connection) => _connection = connection;

            public int Purge()
            {
                _connection.Open();
                using var cmd = new MySqlCommand("delete from sessions", _connection);
                return cmd.ExecuteNonQuery();
            }
        }
        """);

    [Fact]
    public Task Open_async_on_a_parameter_is_not_tracked() => Verify.VerifyAnalyzerAsync("""
        using System.Threading;
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            async Task<int> M(MySqlConnection connection, CancellationToken ct)
            {
                await connection.OpenAsync(ct);
                using var cmd = new MySqlCommand("delete from sessions", connection);
                return await cmd.ExecuteNonQueryAsync(ct);
            }
        }
        """);

    [Fact]
    public Task Open_on_a_property_is_not_tracked() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        sealed class UnitOfWork
        {
            public MySqlConnection Connection { get; set; }

            public void Begin()
            {
                Connection.Open();
                Connection.Ping();
            }
        }
        """);

    [Fact]
    public Task Open_on_a_type_that_is_not_a_connection_is_not_an_acquisition() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Threading.Tasks;

        sealed class Valve : IDisposable
        {
            public void Open() { }
            public bool OpenAsync() => true;
            public void Dispose() { }
        }

        class C
        {
            bool M()
            {
                var valve = new Valve();
                valve.Open();
                return valve.OpenAsync();
            }
        }
        """);

    [Fact]
    public Task IDbConnection_opened_and_never_closed_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Data;
        using MySqlConnector;

        class C
        {
            int M(string connectionString)
            {
                IDbConnection conn = new MySqlConnection(connectionString);
                {|#0:conn.Open()|};
                using var cmd = conn.CreateCommand();
                cmd.CommandText = "delete from sessions";
                return cmd.ExecuteNonQuery();
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 12"));

    [Fact]
    public Task Connection_interface_that_extends_IDbConnection_opened_and_never_closed_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Data;

        interface ITenantConnection : IDbConnection
        {
            new void Open();
        }

        class C
        {
            int M(Func<ITenantConnection> connect)
            {
                var conn = connect();
                {|#0:conn.Open()|};
                using var cmd = conn.CreateCommand();
                cmd.CommandText = "delete from sessions";
                return cmd.ExecuteNonQuery();
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 17"));

    [Fact]
    public Task OpenConnection_of_a_type_that_is_not_a_data_source_is_judged_by_its_body() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        sealed class SharedConnection
        {
            private readonly MySqlConnection _connection = new MySqlConnection();

            public MySqlConnection OpenConnection() => _connection;
        }

        class C
        {
            int M(SharedConnection shared)
            {
                var conn = shared.OpenConnection();
                using var cmd = new MySqlCommand("delete from sessions", conn);
                return cmd.ExecuteNonQuery();
            }
        }
        """);

    [Fact]
    public Task IDbConnection_opened_and_disposed_in_finally_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Data;
        using MySqlConnector;

        class C
        {
            int M(string connectionString)
            {
                IDbConnection conn = new MySqlConnection(connectionString);
                try
                {
                    conn.Open();
                    using var cmd = conn.CreateCommand();
                    cmd.CommandText = "delete from sessions";
                    return cmd.ExecuteNonQuery();
                }
                finally
                {
                    conn.Dispose();
                }
            }
        }
        """);

    [Fact]
    public Task DataSource_connection_in_await_using_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading;
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            async Task<int> M(MySqlDataSource ds, CancellationToken ct)
            {
                await using var conn = await ds.OpenConnectionAsync(ct);
                await using var cmd = new MySqlCommand("delete from sessions", conn);
                return await cmd.ExecuteNonQueryAsync(ct);
            }
        }
        """);

    [Fact]
    public Task DataSource_connection_disposed_without_finally_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading;
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            async Task<int> M(MySqlDataSource ds, CancellationToken ct)
            {
                var conn = await {|#0:ds.OpenConnectionAsync(ct)|};
                using var cmd = new MySqlCommand("delete from sessions", conn);
                var rows = await cmd.ExecuteNonQueryAsync(ct);
                await conn.DisposeAsync();
                return rows;
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "if an exception is thrown at line 10"));

    [Fact]
    public Task DataSource_sync_connection_in_using_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        class C
        {
            int M(MySqlDataSource ds)
            {
                using var conn = ds.OpenConnection();
                using var cmd = new MySqlCommand("delete from sessions", conn);
                return cmd.ExecuteNonQuery();
            }
        }
        """);

    [Fact]
    public Task DataSource_sync_connection_never_disposed_is_reported() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        class C
        {
            int M(MySqlDataSource ds)
            {
                var conn = {|#0:ds.OpenConnection()|};
                using var cmd = new MySqlCommand("delete from sessions", conn);
                return cmd.ExecuteNonQuery();
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 9"));

    [Fact]
    public Task DataSource_connection_disposed_in_finally_after_null_check_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            async Task<int> M(MySqlDataSource ds)
            {
                MySqlConnection conn = null;
                try
                {
                    conn = await ds.OpenConnectionAsync();
                    using var cmd = new MySqlCommand("delete from sessions", conn);
                    return await cmd.ExecuteNonQueryAsync();
                }
                finally
                {
                    if (conn != null)
                    {
                        await conn.DisposeAsync();
                    }
                }
            }
        }
        """);

    [Fact]
    public Task DbDataSource_base_type_connection_in_await_using_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Data.Common;
        using System.Threading.Tasks;

        class C
        {
            async Task<int> M(DbDataSource ds)
            {
                await using var conn = await ds.OpenConnectionAsync();
                await using var cmd = conn.CreateCommand();
                cmd.CommandText = "delete from sessions";
                return await cmd.ExecuteNonQueryAsync();
            }
        }
        """);

    [Fact]
    public Task DbDataSource_base_type_connection_never_disposed_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Data.Common;

        class C
        {
            int M(DbDataSource ds)
            {
                var conn = {|#0:ds.OpenConnection()|};
                var cmd = conn.CreateCommand();
                cmd.CommandText = "delete from sessions";
                return cmd.ExecuteNonQuery();
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 10"));

    private const string TenantDataSourceShape = """
        using System;
        using System.Data.Common;
        using System.Threading;
        using System.Threading.Tasks;

        namespace TenantDbGuard
        {
            [AttributeUsage(AttributeTargets.Method | AttributeTargets.ReturnValue)]
            public sealed class AcquiresConnectionAttribute : Attribute
            {
            }

            public abstract class TenantDbConnection : DbConnection
            {
            }

            public abstract class TenantDataSource : DbDataSource
            {
                public new TenantDbConnection CreateConnection() => throw null!;

                [AcquiresConnection]
                public new TenantDbConnection OpenConnection() => throw null!;

                [AcquiresConnection]
                public new ValueTask<TenantDbConnection> OpenConnectionAsync(CancellationToken cancellationToken = default) => throw null!;
            }
        }

        """;

    [Fact]
    public Task The_runtimes_tenant_data_source_hides_OpenConnection_and_is_still_an_acquisition() => Verify.VerifyAnalyzerAsync(TenantDataSourceShape + """
        namespace App
        {
            using System.Threading.Tasks;
            using TenantDbGuard;

            class C
            {
                async Task<object> Leaks(TenantDataSource tenant)
                {
                    var conn = await {|#0:tenant.OpenConnectionAsync()|};
                    var cmd = conn.CreateCommand();
                    cmd.CommandText = "select 1";
                    return await cmd.ExecuteScalarAsync();
                }

                object LeaksSync(TenantDataSource tenant)
                {
                    var conn = {|#1:tenant.OpenConnection()|};
                    var cmd = conn.CreateCommand();
                    cmd.CommandText = "select 1";
                    return cmd.ExecuteScalar();
                }

                async Task<object> OpensWhatItCreated(TenantDataSource tenant)
                {
                    var conn = tenant.CreateConnection();
                    await {|#2:conn.OpenAsync()|};
                    var cmd = conn.CreateCommand();
                    cmd.CommandText = "select 1";
                    return await cmd.ExecuteScalarAsync();
                }

                async Task<object> Releases(TenantDataSource tenant)
                {
                    await using var conn = await tenant.OpenConnectionAsync();
                    var cmd = conn.CreateCommand();
                    cmd.CommandText = "select 1";
                    return await cmd.ExecuteScalarAsync();
                }
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 40"),
        Verify.Diagnostic().WithLocation(1).WithArguments("'conn'", "on the path that returns at line 48"),
        Verify.Diagnostic().WithLocation(2).WithArguments("'conn'", "on the path that returns at line 57"));

    [Fact]
    public Task The_runtimes_unbuffered_query_holds_no_connection_the_caller_must_release() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Collections.Generic;
        using System.Threading;
        using System.Threading.Tasks;

        namespace TenantDbGuard
        {
            [AttributeUsage(AttributeTargets.Method | AttributeTargets.ReturnValue)]
            public sealed class AcquiresConnectionAttribute : Attribute
            {
            }

            public sealed class TenantConnectionLease : IAsyncDisposable
            {
                public ValueTask DisposeAsync() => default;
            }

            public sealed class TenantDatabase
            {
                [AcquiresConnection]
                public ValueTask<TenantConnectionLease> GetConnectionAsync(string tenantKey, CancellationToken cancellationToken = default) => throw null!;

                // Leases when the enumeration starts and gives the lease back when the enumerator is disposed.
                public IAsyncEnumerable<T> QueryTenantUnbufferedAsync<T>(string tenantKey, string sql, object? parameters = null, object? options = null, CancellationToken cancellationToken = default) => throw null!;
            }
        }

        namespace App
        {
            using TenantDbGuard;

            class C
            {
                async Task<long> FirstLarge(TenantDatabase db, CancellationToken ct)
                {
                    await foreach (var id in db.QueryTenantUnbufferedAsync<long>("acme", "select id from orders").WithCancellation(ct))
                    {
                        if (id > 1000)
                        {
                            return id;
                        }
                    }

                    return 0;
                }

                IAsyncEnumerable<long> PassedOn(TenantDatabase db) => db.QueryTenantUnbufferedAsync<long>("acme", "select id from orders");

                async IAsyncEnumerable<string> Streamed(TenantDatabase db)
                {
                    await using var lease = await db.GetConnectionAsync("acme");
                    yield return "one";
                    yield return "two";
                }
            }
        }
        """);

    [Fact]
    public Task Dapper_query_on_a_using_connection_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Linq;
        using System.Threading.Tasks;
        using Dapper;
        using MySqlConnector;

        class C
        {
            async Task<int[]> M(MySqlDataSource ds)
            {
                await using var conn = await ds.OpenConnectionAsync();
                var ids = await conn.QueryAsync<int>("select id from tenants");
                return ids.ToArray();
            }
        }
        """);

    [Fact]
    public Task Dapper_query_is_not_a_hand_off() => Verify.VerifyAnalyzerAsync("""
        using System.Linq;
        using System.Threading.Tasks;
        using Dapper;
        using MySqlConnector;

        class C
        {
            async Task<int[]> M(MySqlDataSource ds)
            {
                var conn = await {|#0:ds.OpenConnectionAsync()|};
                var ids = await conn.QueryAsync<int>("select id from tenants");
                return ids.ToArray();
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 12"));

    [Fact]
    public Task New_MySqlCommand_is_not_a_hand_off() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        class C
        {
            MySqlCommand M(MySqlDataSource ds)
            {
                var conn = {|#0:ds.OpenConnection()|};
                return new MySqlCommand("select 1", conn);
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 8"));

    // ---------------------------------------------------------------- hand-offs: returned, stored, out/ref, wrapped

    [Fact]
    public Task Returned_connection_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            PooledConnection M(Pool pool)
            {
                var conn = pool.GetConnection();
                return conn;
            }
        }
        """);

    [Fact]
    public Task Returned_await_of_the_acquisition_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading;
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            async Task<MySqlConnection> M(MySqlDataSource ds, CancellationToken ct)
            {
                return await ds.OpenConnectionAsync(ct);
            }

            async ValueTask<MySqlConnection> N(MySqlDataSource ds, CancellationToken ct) => await ds.OpenConnectionAsync(ct).ConfigureAwait(false);
        }
        """);

    [Fact]
    public Task Expression_bodied_members_returning_the_acquisition_are_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using Prelude;

        sealed class Tenant
        {
            private readonly Pool _pool = new Pool();

            public PooledConnection Connection => _pool.GetConnection();

            public PooledConnection Open() => _pool.GetConnection();

            public Task<PooledConnection> OpenAsync() => _pool.GetConnectionAsync();
        }
        """);

    [Fact]
    public Task Returned_tuple_containing_the_connection_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            (PooledConnection Connection, string Tenant) M(Pool pool, string tenant)
            {
                var conn = pool.GetConnection();
                return (conn, tenant);
            }
        }
        """);

    [Fact]
    public Task Yield_returned_connection_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Collections.Generic;
        using Prelude;

        class C
        {
            IEnumerable<PooledConnection> M(IEnumerable<Pool> pools)
            {
                foreach (var pool in pools)
                {
                    var conn = pool.GetConnection();
                    yield return conn;
                }
            }
        }
        """);

    [Fact]
    public Task Factory_that_disposes_on_failure_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading;
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            async Task<MySqlConnection> OpenUtcAsync(MySqlDataSource ds, CancellationToken ct)
            {
                var conn = await ds.OpenConnectionAsync(ct);
                try
                {
                    using var cmd = new MySqlCommand("SET time_zone = '+00:00'", conn);
                    await cmd.ExecuteNonQueryAsync(ct);
                    return conn;
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
    public Task Factory_that_can_throw_before_returning_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading;
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            async Task<MySqlConnection> OpenUtcAsync(MySqlDataSource ds, CancellationToken ct)
            {
                var conn = await {|#0:ds.OpenConnectionAsync(ct)|};
                using var cmd = new MySqlCommand("SET time_zone = '+00:00'", conn);
                await cmd.ExecuteNonQueryAsync(ct);
                return conn;
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "if an exception is thrown at line 10"));

    [Fact]
    public Task Dynamic_call_and_new_of_a_type_parameter_can_throw() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            void Dynamic(Pool pool, dynamic audit)
            {
                var conn = {|#0:pool.GetConnection()|};
                audit.Write("checked out");
                conn.Release();
            }

            T Created<T>(Pool pool) where T : new()
            {
                var conn = {|#1:pool.GetConnection()|};
                var value = new T();
                conn.Release();
                return value;
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "if an exception is thrown at line 8"),
        Verify.Diagnostic().WithLocation(1).WithArguments("'conn'", "if an exception is thrown at line 15"));

    [Fact]
    public Task Connection_given_to_a_dynamic_call_leaks_only_if_the_call_throws() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool, dynamic registry)
            {
                var conn = {|#0:pool.GetConnection()|};
                registry.Keep(conn);
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "if an exception is thrown at line 8"));

    /// <summary>
    /// A release bound when it runs (<c>dynamic</c>), on the connection or given it: the connection is given back before the
    /// call can throw, as by a release the analysis sees. A call of another name through <c>dynamic</c> may still throw.
    /// </summary>
    [Theory]
    [InlineData("((dynamic)conn).Release();")]
    [InlineData("((dynamic)conn)?.Release();")]
    [InlineData("dynamic d = conn;\n        d.Release();")]
    [InlineData("lender.Release(conn);")]
    [InlineData("((dynamic)conn).Dispose();")]
    public Task Connection_released_through_dynamic_is_not_reported(string release) => Verify.VerifyAnalyzerAsync($$"""
        using Prelude;

        class C
        {
            void M(Pool pool, dynamic lender)
            {
                var conn = pool.GetConnection();
                {{release}}
            }
        }
        """);

    [Theory]
    [InlineData("((dynamic)conn).Execute(\"select 1\");\n        conn.Release();")]
    [InlineData("lender.Keep(conn);")]
    public Task Connection_used_through_dynamic_by_a_name_that_is_not_a_release_leaks_if_the_call_throws(string use) => Verify.VerifyAnalyzerAsync($$"""
        using Prelude;

        class C
        {
            void M(Pool pool, dynamic lender)
            {
                var conn = {|#0:pool.GetConnection()|};
                {{use}}
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "if an exception is thrown at line 8"));

    [Fact]
    public Task Call_in_an_indexer_argument_can_throw() => Verify.VerifyAnalyzerAsync("""
        using System.Collections.Generic;
        using Prelude;

        class C
        {
            string M(Pool pool, Dictionary<int, string> names)
            {
                var conn = {|#0:pool.GetConnection()|};
                var name = names[conn.Execute("select 1")];
                conn.Release();
                return name;
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "if an exception is thrown at line 9"));

    [Fact]
    public Task Result_of_a_ValueTask_that_brings_the_lease_is_the_lease() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            int M(LeasePool pool)
            {
                var lease = {|#0:pool.GetConnectionAsync("t1")|}.Result;
                return lease.Execute("select 1");
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'lease'", "on the path that returns at line 8"));

    [Fact]
    public Task Sync_factory_that_opens_then_runs_a_command_is_reported() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        class C
        {
            MySqlConnection Open(string connectionString)
            {
                var conn = new MySqlConnection(connectionString);
                {|#0:conn.Open()|};
                using (var cmd = new MySqlCommand("SET NAMES utf8mb4", conn))
                {
                    cmd.ExecuteNonQuery();
                }

                return conn;
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "if an exception is thrown at line 9"));

    [Fact]
    public Task Sync_factory_that_disposes_on_failure_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using MySqlConnector;

        class C
        {
            MySqlConnection Open(string connectionString)
            {
                var conn = new MySqlConnection(connectionString);
                conn.Open();
                try
                {
                    using (var cmd = new MySqlCommand("SET NAMES utf8mb4", conn))
                    {
                        cmd.ExecuteNonQuery();
                    }

                    return conn;
                }
                catch (Exception)
                {
                    conn.Dispose();
                    throw;
                }
            }
        }
        """);

    [Fact]
    public Task Stored_in_a_field_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        sealed class Session
        {
            private PooledConnection _conn;
            private PooledConnection _spare;

            public void Attach(Pool pool)
            {
                _conn = pool.GetConnection();
                var spare = pool.GetConnection();
                _spare = spare;
            }
        }
        """);

    [Fact]
    public Task Stored_in_a_property_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        sealed class Session
        {
            public PooledConnection Current { get; private set; }

            public void Attach(Pool pool)
            {
                var conn = pool.GetConnection();
                Current = conn;
            }
        }
        """);

    [Fact]
    public Task Stored_in_an_array_element_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        sealed class Slots
        {
            private readonly PooledConnection[] _slots = new PooledConnection[8];

            public void Fill(Pool pool, int index)
            {
                _slots[index] = pool.GetConnection();
            }
        }
        """);

    [Theory]
    [InlineData("list.Add(conn);")]
    [InlineData("list.Insert(0, conn);")]
    [InlineData("queue.Enqueue(conn);")]
    [InlineData("stack.Push(conn);")]
    [InlineData("dictionary.TryAdd(tenant, conn);")]
    [InlineData("bag.Add(conn);")]
    public Task Stored_in_a_collection_is_not_reported(string store) => Verify.VerifyAnalyzerAsync($$"""
        using System.Collections.Concurrent;
        using System.Collections.Generic;
        using Prelude;

        sealed class Registry
        {
            private readonly List<PooledConnection> list = new();
            private readonly Queue<PooledConnection> queue = new();
            private readonly Stack<PooledConnection> stack = new();
            private readonly ConcurrentDictionary<string, PooledConnection> dictionary = new();
            private readonly ConcurrentBag<PooledConnection> bag = new();

            public void Track(Pool pool, string tenant)
            {
                var conn = pool.GetConnection();
                {{store}}
            }
        }
        """);

    [Fact]
    public Task Stored_in_a_field_after_a_call_that_can_throw_is_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        sealed class Session
        {
            private PooledConnection _conn;

            public void Attach(Pool pool)
            {
                var conn = {|#0:pool.GetConnection()|};
                conn.Execute("set session wait_timeout = 60");
                _conn = conn;
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "if an exception is thrown at line 10"));

    [Fact]
    public Task Assigned_to_an_out_parameter_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            bool TryOpen(Pool pool, out PooledConnection connection)
            {
                connection = pool.GetConnection();
                return true;
            }
        }
        """);

    [Fact]
    public Task Assigned_to_a_ref_parameter_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            void Ensure(Pool pool, ref PooledConnection connection)
            {
                var conn = pool.GetConnection();
                connection = conn;
            }
        }
        """);

    private const string LeaseWrapper = """
        using System;
        using Prelude;

        sealed class Lease : IDisposable
        {
            private readonly PooledConnection _connection;

            public Lease(PooledConnection connection) => _connection = connection;

            public int Execute(string sql) => _connection.Execute(sql);

            public void Dispose() => _connection.Release();
        }

        """;

    [Fact]
    public Task Wrapper_in_using_is_not_reported() => Verify.VerifyAnalyzerAsync(LeaseWrapper + """
        class C
        {
            int M(Pool pool)
            {
                using var lease = new Lease(pool.GetConnection());
                return lease.Execute("select 1");
            }
        }
        """);

    [Fact]
    public Task Returned_wrapper_is_not_reported() => Verify.VerifyAnalyzerAsync(LeaseWrapper + """
        class C
        {
            Lease Rent(Pool pool)
            {
                var conn = pool.GetConnection();
                return new Lease(conn);
            }
        }
        """);

    [Fact]
    public Task Wrapper_disposed_in_finally_is_not_reported() => Verify.VerifyAnalyzerAsync(LeaseWrapper + """
        class C
        {
            int M(Pool pool)
            {
                var conn = pool.GetConnection();
                var lease = new Lease(conn);
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
        """);

    [Fact]
    public Task Wrapper_never_disposed_is_reported() => Verify.VerifyAnalyzerAsync(LeaseWrapper + """
        class C
        {
            int M(Pool pool)
            {
                var conn = {|#0:pool.GetConnection()|};
                var lease = new Lease(conn);
                return lease.Execute("select 1");
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 20"));

    private const string CallbackWrapper = """
        using System;
        using System.Threading;
        using Prelude;

        sealed class ActionDisposable : IDisposable
        {
            private Action? _action;
            public ActionDisposable(Action action) => _action = action;
            public void Dispose() => Interlocked.Exchange(ref _action, null)?.Invoke();
        }

        """;

    [Fact]
    public Task Wrapper_built_around_a_callback_that_releases_the_connection_stands_for_it() => Verify.VerifyAnalyzerAsync(CallbackWrapper + """
        class C
        {
            int M(Pool pool)
            {
                var conn = pool.GetConnection();
                using var cleanup = new ActionDisposable(() => conn.Release());
                return conn.Execute("select 1");
            }

            ActionDisposable Rent(Pool pool, out PooledConnection connection)
            {
                var conn = pool.GetConnection();
                connection = conn;
                return new ActionDisposable(() => conn.Release());
            }
        }
        """);

    [Fact]
    public Task Wrapper_built_around_a_callback_that_only_uses_the_connection_or_never_disposed_is_reported() => Verify.VerifyAnalyzerAsync(CallbackWrapper + """
        class C
        {
            int Uses(Pool pool)
            {
                var conn = {|#0:pool.GetConnection()|};
                using var log = new ActionDisposable(() => Log.Info(conn.Execute("select 1").ToString()));
                return conn.Execute("select 1");
            }

            int Dropped(Pool pool)
            {
                var conn = {|#1:pool.GetConnection()|};
                var cleanup = new ActionDisposable(() => conn.Release());
                return conn.Execute("select 1");
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 17"),
        Verify.Diagnostic().WithLocation(1).WithArguments("'conn'", "on the path that returns at line 24"));

    private const string MethodGroupCallbacks = """
        using System;
        using System.Threading.Tasks;
        using MySqlConnector;

        sealed class ActionDisposable(Action onDispose) : IDisposable { public void Dispose() => onDispose(); }
        sealed class AsyncActionDisposable(Func<ValueTask> onDispose) : IAsyncDisposable { public ValueTask DisposeAsync() => onDispose(); }
        sealed class Check(Func<bool> check) : IDisposable { public void Dispose() => check(); }
        static class Disposables { public static IDisposable Create(Action onDispose) => new ActionDisposable(onDispose); }
        static class ConnectionExtensions { public static void Shutdown(this MySqlConnection c) => c.Dispose(); public static void Touch(this MySqlConnection c) => Console.WriteLine(c.ServerVersion); }
        class C
        {
            async Task<bool> M(MySqlDataSource ds, MySqlConnection other)
            {
                var c = {|#0:ds.OpenConnection()|};
                BODY
            }
        }
        """;

    [Theory]
    [InlineData("using var cleanup = new ActionDisposable(c.Dispose); return c.Ping();")]
    [InlineData("using var cleanup = new ActionDisposable(c.Close); return c.Ping();")]
    [InlineData("using var cleanup = new ActionDisposable(((IDisposable)c).Dispose); return c.Ping();")]
    [InlineData("await using var cleanup = new AsyncActionDisposable(c.DisposeAsync); return await c.PingAsync();")]
    [InlineData("using var cleanup = Disposables.Create(c.Dispose); return c.Ping();")]
    [InlineData("using var cleanup = new ActionDisposable(Cleanup); return c.Ping(); void Cleanup() => c.Dispose();")]
    [InlineData("using var cleanup = new ActionDisposable(Cleanup); return c.Ping(); void Cleanup() { if (c.State != System.Data.ConnectionState.Closed) c.Close(); c.Dispose(); }")]
    [InlineData("Action release = c.Dispose; try { return c.Ping(); } finally { release(); }")]
    [InlineData("Func<ValueTask> release = c.DisposeAsync; try { return await c.PingAsync(); } finally { await release(); }")]
    [InlineData("Action release = Cleanup; try { return c.Ping(); } finally { release(); } void Cleanup() => c.Dispose();")]
    [InlineData("Action release = () => c.Dispose(); using var cleanup = new ActionDisposable(release.Invoke); return c.Ping();")]
    [InlineData("Action release = () => c.Dispose(); using var cleanup = new ActionDisposable(release); return c.Ping();")]
    [InlineData("Action release = c.Dispose; using var cleanup = new ActionDisposable(release); return c.Ping();")]
    [InlineData("using var cleanup = new ActionDisposable(c.Shutdown); return c.Ping();")]
    public Task Release_given_as_a_method_group_stands_for_the_lambda_that_calls_it(string body) =>
        Verify.VerifyAnalyzerAsync(MethodGroupCallbacks.Replace("{|#0:ds.OpenConnection()|}", "ds.OpenConnection()").Replace("BODY", body));

    [Theory]
    // Never disposed, a callback that only uses the connection, a release of another connection, a delegate never
    // called: each reported as its lambda is.
    [InlineData("var cleanup = new ActionDisposable(c.Dispose); return c.Ping();")]
    [InlineData("var cleanup = new ActionDisposable(() => c.Dispose()); return c.Ping();")]
    [InlineData("using var check = new Check(c.Ping); return c.Ping();")]
    [InlineData("using var check = new Check(() => c.Ping()); return c.Ping();")]
    [InlineData("using var log = new ActionDisposable(Log); return c.Ping(); void Log() => Console.WriteLine(c.ServerVersion);")]
    [InlineData("using var log = new ActionDisposable(() => Log()); return c.Ping(); void Log() => Console.WriteLine(c.ServerVersion);")]
    [InlineData("using var cleanup = new ActionDisposable(c.Touch); return c.Ping();")]
    [InlineData("using var cleanup = new ActionDisposable(() => c.Touch()); return c.Ping();")]
    [InlineData("using var cleanup = new ActionDisposable(other.Dispose); return c.Ping();")]
    [InlineData("using var cleanup = new ActionDisposable(() => other.Dispose()); return c.Ping();")]
    [InlineData("Action release = c.Dispose; return c.Ping();")]
    [InlineData("Action release = c.Dispose; try { return c.Ping(); } finally { Console.WriteLine(release); }")]
    [InlineData("Func<bool> check = c.Ping; try { return c.Ping(); } finally { check(); }")]
    [InlineData("Func<bool> check = () => c.Ping(); try { return c.Ping(); } finally { check(); }")]
    public Task Method_group_that_does_not_release_the_connection_is_reported_like_its_lambda(string body) =>
        Verify.VerifyAnalyzerAsync(MethodGroupCallbacks.Replace("BODY", body),
            Verify.Diagnostic().WithLocation(0).WithArguments("'c'", "on the path that returns at line 15"));

    [Fact]
    public Task Method_group_of_a_non_release_is_read_like_its_lambda() => Verify.VerifyAnalyzerAsync("""
        using System;
        using MySqlConnector;

        sealed class Check(Func<bool> check) : IDisposable { public void Dispose() => check(); }

        class C
        {
            // Returned inside an object of the code, a callback that names the connection goes with it.
            Check Lambda(MySqlDataSource ds)
            {
                var c = ds.OpenConnection();
                return new Check(() => c.Ping());
            }

            Check MethodGroup(MySqlDataSource ds)
            {
                var c = ds.OpenConnection();
                return new Check(c.Ping);
            }
        }
        """);

    [Fact]
    public Task Release_method_group_of_the_prelude_and_of_the_configuration_is_a_release() => Verify.VerifyAnalyzerWithEditorConfigAsync(CallbackWrapper + """
        static class PoolExtensions
        {
            public static void GiveBack(this PooledConnection connection) => connection.Release();
        }

        class C
        {
            int M(Pool pool)
            {
                var conn = pool.GetConnection();
                using var cleanup = new ActionDisposable(conn.Release);
                return conn.Execute("select 1");
            }

            int Configured(Pool pool)
            {
                var conn = pool.GetConnection();
                using var cleanup = new ActionDisposable(conn.GiveBack);
                return conn.Execute("select 1");
            }

            ActionDisposable Rent(Pool pool, out PooledConnection connection)
            {
                var conn = pool.GetConnection();
                connection = conn;
                return new ActionDisposable(conn.Release);
            }
        }
        """, "tenantdbguard.release_methods = GiveBack\n");

    private const string DisposableFactories = """
        using System;
        using System.Threading;
        using System.Threading.Tasks;
        using Prelude;

        namespace Reactive
        {
            public static class Disposable
            {
                public static IDisposable Create(Action dispose) => new Anonymous(dispose);

                private sealed class Anonymous : IDisposable
                {
                    private Action? _action;
                    public Anonymous(Action action) => _action = action;
                    public void Dispose() => Interlocked.Exchange(ref _action, null)?.Invoke();
                }
            }

            public static class AsyncDisposable
            {
                public static IAsyncDisposable Create(Func<ValueTask> dispose) => new Anonymous(dispose);

                private sealed class Anonymous : IAsyncDisposable
                {
                    private readonly Func<ValueTask> _dispose;
                    public Anonymous(Func<ValueTask> dispose) => _dispose = dispose;
                    public ValueTask DisposeAsync() => _dispose();
                }
            }
        }

        """;

    [Fact]
    public Task Disposable_made_by_a_factory_around_a_callback_that_releases_the_connection_stands_for_it() => Verify.VerifyAnalyzerAsync(DisposableFactories + """
        class C
        {
            int Declaration(Pool pool)
            {
                var conn = pool.GetConnection();
                using var cleanup = Reactive.Disposable.Create(() => conn.Release());
                return conn.Execute("select 1");
            }

            int Statement(Pool pool)
            {
                var conn = pool.GetConnection();
                using (Reactive.Disposable.Create(() => { conn.Release(); }))
                {
                    return conn.Execute("select 1");
                }
            }

            async Task<int> Async(LeasePool pool)
            {
                var lease = pool.GetConnection();
                await using var cleanup = Reactive.AsyncDisposable.Create(() => lease.DisposeAsync());
                return await lease.ExecuteAsync("select 1");
            }

            async Task<int> AsyncLambda(LeasePool pool)
            {
                var lease = pool.GetConnection();
                await using var cleanup = Reactive.AsyncDisposable.Create(async () => { await lease.DisposeAsync(); });
                return await lease.ExecuteAsync("select 1");
            }
        }
        """);

    [Fact]
    public Task Disposable_made_by_a_factory_or_a_registration_that_does_not_release_the_connection_is_reported() => Verify.VerifyAnalyzerAsync(DisposableFactories + """
        class C
        {
            int Uses(Pool pool)
            {
                var conn = {|#0:pool.GetConnection()|};
                using var log = Reactive.Disposable.Create(() => Console.WriteLine(conn.Execute("select 1")));
                return conn.Execute("select 1");
            }

            int Dropped(Pool pool)
            {
                var conn = {|#1:pool.GetConnection()|};
                var cleanup = Reactive.Disposable.Create(() => conn.Release());
                return conn.Execute("select 1");
            }

            int Registered(Pool pool, CancellationToken ct)
            {
                var conn = {|#2:pool.GetConnection()|};
                using var registration = ct.Register(() => conn.Release());
                return conn.Execute("select 1");
            }

            int Scheduled(Pool pool)
            {
                var conn = {|#3:pool.GetConnection()|};
                using var task = Task.Run(() => conn.Release());
                return conn.Execute("select 1");
            }

            int OnAScheduler(Pool pool, Scheduler scheduler)
            {
                var conn = {|#4:pool.GetConnection()|};
                using var later = scheduler.Later(() => conn.Release());
                return conn.Execute("select 1");
            }

            int ThroughAnExtension(Pool pool, Scheduler scheduler)
            {
                var conn = {|#5:pool.GetConnection()|};
                using var later = scheduler.Soon(() => conn.Release());
                return conn.Execute("select 1");
            }

            int WithAName(Pool pool)
            {
                var conn = {|#6:pool.GetConnection()|};
                using var named = Scheduler.Named(() => conn.Release(), "cleanup");
                return conn.Execute("select 1");
            }
        }

        sealed class Scheduler
        {
            // Runs the action later; disposing what it returns cancels it.
            public IDisposable Later(Action action) => Reactive.Disposable.Create(() => { });
            public static IDisposable Named(Action action, string name) => Reactive.Disposable.Create(() => { });
        }

        static class SchedulerExtensions
        {
            public static IDisposable Soon(this Scheduler scheduler, Action action) => scheduler.Later(action);
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 38"),
        Verify.Diagnostic().WithLocation(1).WithArguments("'conn'", "on the path that returns at line 45"),
        Verify.Diagnostic().WithLocation(2).WithArguments("'conn'", "on the path that returns at line 52"),
        Verify.Diagnostic().WithLocation(3).WithArguments("'conn'", "on the path that returns at line 59"),
        Verify.Diagnostic().WithLocation(4).WithArguments("'conn'", "on the path that returns at line 66"),
        Verify.Diagnostic().WithLocation(5).WithArguments("'conn'", "on the path that returns at line 73"),
        Verify.Diagnostic().WithLocation(6).WithArguments("'conn'", "on the path that returns at line 80"));

    [Fact]
    public Task Non_disposable_holder_is_not_a_hand_off() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        sealed class Holder
        {
            private readonly PooledConnection _connection;

            public Holder(PooledConnection connection) => _connection = connection;

            public int Count() => _connection.Execute("select count(*) from t");
        }

        class C
        {
            int M(Pool pool)
            {
                var conn = {|#0:pool.GetConnection()|};
                var holder = new Holder(conn);
                return holder.Count();
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 18"));

    [Fact]
    public Task Stored_in_a_property_of_another_object_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        sealed class RequestContext
        {
            public PooledConnection Connection { get; set; }
        }

        class C
        {
            void Attach(Pool pool, RequestContext context)
            {
                var conn = pool.GetConnection();
                context.Connection = conn;
            }
        }
        """);

    [Theory]
    [InlineData("(primary ? context : fallback).Connection = pool.GetConnection();")]
    [InlineData("(context ?? fallback).Connection = pool.GetConnection();")]
    [InlineData("var conn = pool.GetConnection(); (primary ? context : fallback).Connection = conn;")]
    public Task Stored_in_a_property_of_an_object_chosen_by_an_expression_is_not_reported(string store) => Verify.VerifyAnalyzerAsync($$"""
        using Prelude;

        sealed class RequestContext
        {
            public PooledConnection Connection { get; set; }
        }

        class C
        {
            void Attach(Pool pool, RequestContext context, RequestContext fallback, bool primary)
            {
                {{store}}
            }
        }
        """);

    [Fact]
    public Task Connection_returned_through_a_conditional_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            PooledConnection M(Pool primary, Pool replica, bool readOnly)
            {
                var conn = readOnly ? replica.GetConnection() : primary.GetConnection();
                return conn;
            }
        }
        """);

    [Fact]
    public Task Release_through_a_static_helper_taking_the_connection_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        static class Connections
        {
            public static void Close(PooledConnection connection) => connection.Release();
        }

        class C
        {
            int M(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    return conn.Execute("select 1");
                }
                finally
                {
                    Connections.Close(conn);
                }
            }
        }
        """);

    [Fact]
    public Task Dispose_through_a_cast_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using Prelude;

        class C
        {
            int M(LeasePool pool)
            {
                var lease = pool.GetConnection();
                try
                {
                    return lease.Execute("select 1");
                }
                finally
                {
                    ((IDisposable)lease).Dispose();
                }
            }
        }
        """);

    [Fact]
    public Task Using_on_an_existing_variable_after_a_call_that_can_throw_is_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            int M(LeasePool pool)
            {
                var lease = {|#0:pool.GetConnection()|};
                Log.Info("lease taken");
                using (lease)
                {
                    return lease.Execute("select 1");
                }
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'lease'", "if an exception is thrown at line 8"));

    [Fact]
    public Task OpenAsync_location_excludes_configure_await() => Verify.VerifyAnalyzerAsync("""
        using System.Threading;
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            async Task<int> M(string connectionString, CancellationToken ct)
            {
                var conn = new MySqlConnection(connectionString);
                await {|#0:conn.OpenAsync(ct)|}.ConfigureAwait(false);
                using var cmd = new MySqlCommand("delete from sessions", conn);
                return await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 12"));

    [Fact]
    public Task Yield_returned_acquisition_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Collections.Generic;
        using Prelude;

        class C
        {
            IEnumerable<PooledConnection> M(Pool pool, int count)
            {
                for (var i = 0; i < count; i++)
                {
                    yield return pool.GetConnection();
                }
            }
        }
        """);

    [Fact]
    public Task Returned_Task_of_the_connection_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            Task<PooledConnection> M(Pool pool)
            {
                var conn = pool.GetConnection();
                return Task.FromResult(conn);
            }
        }
        """);

    [Fact]
    public Task Returned_ValueTask_of_the_connection_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            ValueTask<PooledConnection> M(Pool pool)
            {
                var conn = pool.GetConnection();
                return ValueTask.FromResult(conn);
            }
        }
        """);

    [Fact]
    public Task Returned_ValueTask_constructed_around_the_connection_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            ValueTask<PooledConnection> M(Pool pool)
            {
                var conn = pool.GetConnection();
                return new ValueTask<PooledConnection>(conn);
            }

            ValueTask<PooledConnection> N(Pool pool) => new(pool.GetConnection());
        }
        """);

    [Fact]
    public Task ValueTask_constructed_around_the_connection_and_dropped_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                var conn = {|#0:pool.GetConnection()|};
                var pending = new ValueTask<PooledConnection>(conn);
                Log.Info(pending.IsCompleted.ToString());
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that leaves the method after line 10"));

    [Fact]
    public Task Variable_overwritten_by_an_out_argument_no_longer_holds_the_connection() => Verify.VerifyAnalyzerAsync("""
        using System.Collections.Generic;
        using Prelude;

        class C
        {
            // 'conn' is overwritten by the lookup: the Release releases the cached connection, not the one acquired.
            int M(Pool pool, Dictionary<string, PooledConnection> cache)
            {
                var conn = {|#0:pool.GetConnection()|};
                var rows = conn.Execute("select 1");
                if (cache.TryGetValue("t1", out conn))
                {
                    conn.Release();
                }

                return rows;
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "when 'conn' is overwritten at line 11"));

    [Fact]
    public Task Stored_through_a_dictionary_indexer_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Collections.Generic;
        using Prelude;

        sealed class Registry
        {
            private readonly Dictionary<string, PooledConnection> _byTenant = new();

            public void Track(Pool pool, string tenant)
            {
                var conn = pool.GetConnection();
                _byTenant[tenant] = conn;
            }
        }
        """);

    [Fact]
    public Task Lease_in_await_using_statement_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> M(LeasePool pool, string tenant)
            {
                await using (var lease = await pool.GetConnectionAsync(tenant))
                {
                    return await lease.ExecuteAsync("select 1");
                }
            }
        }
        """);

    [Fact]
    public Task MySqlConnection_closed_in_finally_after_not_closed_state_check_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Data;
        using MySqlConnector;

        class C
        {
            int M(string connectionString)
            {
                var conn = new MySqlConnection(connectionString);
                try
                {
                    conn.Open();
                    using var cmd = new MySqlCommand("delete from sessions", conn);
                    return cmd.ExecuteNonQuery();
                }
                finally
                {
                    if (conn.State != ConnectionState.Closed)
                    {
                        conn.Close();
                    }
                }
            }
        }
        """);

    [Fact]
    public Task Release_under_a_property_pattern_null_check_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                PooledConnection conn = null;
                try
                {
                    conn = pool.GetConnection();
                    return conn.Execute("select 1");
                }
                finally
                {
                    if (conn is { })
                    {
                        conn.Release();
                    }
                }
            }
        }
        """);

    [Fact]
    public Task Variable_reassigned_after_release_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                var conn = pool.GetConnection();
                conn.Release();
                conn = pool.GetConnection();
                conn.Release();
            }
        }
        """);

    [Fact]
    public Task Variable_reassigned_in_a_loop_and_released_each_iteration_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool, string[] statements)
            {
                PooledConnection conn;
                var i = 0;
                while (i < statements.Length)
                {
                    conn = pool.GetConnection();
                    try
                    {
                        conn.Execute(statements[i]);
                    }
                    finally
                    {
                        conn.Release();
                    }

                    i++;
                }
            }
        }
        """);

    // ---------------------------------------------------------------- control flow

    [Fact]
    public Task Continue_before_release_is_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool, string[] statements)
            {
                foreach (var sql in statements)
                {
                    var conn = {|#0:pool.GetConnection()|};
                    if (sql.Length == 0)
                    {
                        continue;
                    }

                    try
                    {
                        conn.Execute(sql);
                    }
                    finally
                    {
                        conn.Release();
                    }
                }
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "when it is acquired again at line 9"));

    [Fact]
    public Task Break_before_release_is_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool, string[] statements)
            {
                for (var i = 0; i < statements.Length; i++)
                {
                    var conn = {|#0:pool.GetConnection()|};
                    if (statements[i] == "stop")
                    {
                        break;
                    }

                    try
                    {
                        conn.Execute(statements[i]);
                    }
                    finally
                    {
                        conn.Release();
                    }
                }
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that leaves the method after line 10"));

    [Fact]
    public Task Continue_and_break_inside_try_with_finally_release_are_not_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool, string[] statements)
            {
                foreach (var sql in statements)
                {
                    var conn = pool.GetConnection();
                    try
                    {
                        if (sql.Length == 0)
                        {
                            continue;
                        }

                        if (sql == "stop")
                        {
                            break;
                        }

                        conn.Execute(sql);
                    }
                    finally
                    {
                        conn.Release();
                    }
                }
            }
        }
        """);

    [Fact]
    public Task Acquisition_in_a_loop_released_once_after_it_is_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool, string[] tenants)
            {
                PooledConnection conn = null;
                foreach (var tenant in tenants)
                {
                    conn = {|#0:pool.GetConnection()|};
                }

                conn?.Release();
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "when it is acquired again at line 10"));

    [Fact]
    public Task Variable_overwritten_before_release_is_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            int M(Pool primary, Pool replica)
            {
                var conn = {|#0:primary.GetConnection()|};
                conn = replica.GetConnection();
                try
                {
                    return conn.Execute("select 1");
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "when 'conn' is overwritten at line 8"));

    [Fact]
    public Task Name_given_to_the_connection_before_it_is_opened_releases_it() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        class C
        {
            object M(string connectionString)
            {
                var conn = new MySqlConnection(connectionString);
                var current = conn;
                conn.Open();
                try
                {
                    using var cmd = new MySqlCommand("select 1", conn);
                    return cmd.ExecuteScalar();
                }
                finally
                {
                    current.Dispose();
                }
            }
        }
        """);

    [Fact]
    public Task Variable_overwritten_while_another_one_still_holds_the_connection_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var conn = pool.GetConnection();
                var current = conn;
                conn = null;
                try
                {
                    return current.Execute("select 1");
                }
                finally
                {
                    current.Release();
                }
            }
        }
        """);

    [Fact]
    public Task Second_acquisition_before_the_try_protecting_the_first_is_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            int M(Pool live, Pool archive)
            {
                var current = {|#0:live.GetConnection()|};
                var old = archive.GetConnection();
                try
                {
                    return current.Execute("select 1") + old.Execute("select 1");
                }
                finally
                {
                    old.Release();
                    current.Release();
                }
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'current'", "if an exception is thrown at line 8"));

    [Fact]
    public Task Nested_try_finally_for_two_connections_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            int M(Pool live, Pool archive)
            {
                var current = live.GetConnection();
                try
                {
                    var old = archive.GetConnection();
                    try
                    {
                        return current.Execute("select 1") + old.Execute("select 1");
                    }
                    finally
                    {
                        old.Release();
                    }
                }
                finally
                {
                    current.Release();
                }
            }
        }
        """);

    [Fact]
    public Task Release_only_in_catch_is_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var conn = {|#0:pool.GetConnection()|};
                try
                {
                    return conn.Execute("select 1");
                }
                catch
                {
                    conn.Release();
                    throw;
                }
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 10"));

    [Fact]
    public Task Release_only_in_catch_MySqlException_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            async Task M(MySqlDataSource ds)
            {
                var conn = await {|#0:ds.OpenConnectionAsync()|};
                try
                {
                    using var cmd = new MySqlCommand("delete from sessions", conn);
                    await cmd.ExecuteNonQueryAsync();
                }
                catch (MySqlException)
                {
                    await conn.DisposeAsync();
                    throw;
                }

                await conn.DisposeAsync();
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "if an exception is thrown at line 11"));

    [Fact]
    public Task Release_in_catch_all_and_after_the_try_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            async Task M(MySqlDataSource ds)
            {
                var conn = await ds.OpenConnectionAsync();
                try
                {
                    using var cmd = new MySqlCommand("delete from sessions", conn);
                    await cmd.ExecuteNonQueryAsync();
                }
                catch
                {
                    await conn.DisposeAsync();
                    throw;
                }

                await conn.DisposeAsync();
            }
        }
        """);

    [Fact]
    public Task Swallowing_catch_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                var conn = {|#0:pool.GetConnection()|};
                try
                {
                    conn.Execute("update tenants set seen = now()");
                    conn.Release();
                }
                catch (Exception ex)
                {
                    Log.Info(ex.Message);
                }
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that leaves the method after line 16"));

    [Fact]
    public Task Catch_that_returns_is_reported() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var conn = {|#0:pool.GetConnection()|};
                try
                {
                    var rows = conn.Execute("delete from sessions");
                    conn.Release();
                    return rows;
                }
                catch (MySqlException)
                {
                    return -1;
                }
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 17"));

    [Fact]
    public Task Release_under_an_if_that_is_not_a_null_or_state_check_is_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool, bool release)
            {
                var conn = {|#0:pool.GetConnection()|};
                try
                {
                    return conn.Execute("select 1");
                }
                finally
                {
                    if (release)
                    {
                        conn.Release();
                    }
                }
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 10"));

    [Fact]
    public Task Empty_finally_is_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                var conn = {|#0:pool.GetConnection()|};
                try
                {
                    conn.Execute("update tenants set seen = now()");
                }
                finally
                {
                }

                conn.Release();
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "if an exception is thrown at line 10"));

    [Fact]
    public Task Throw_before_release_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using Prelude;

        class C
        {
            int M(Pool pool, int tenantId)
            {
                var conn = {|#0:pool.GetConnection()|};
                if (tenantId <= 0)
                {
                    throw new ArgumentOutOfRangeException(nameof(tenantId));
                }

                try
                {
                    return conn.Execute("select 1");
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "if an exception is thrown at line 11"));

    // ---------------------------------------------------------------- discarded results

    [Theory]
    [InlineData("{|#0:pool.GetConnection()|};", "GetConnection")]
    [InlineData("_ = {|#0:pool.GetConnection()|};", "GetConnection")]
    [InlineData("await {|#0:pool.GetConnectionAsync()|};", "GetConnectionAsync")]
    [InlineData("var inner = {|#0:pool.GetConnection()|}.Inner;", "GetConnection")]
    [InlineData("{|#0:pool.GetConnection()|}.Execute(\"select 1\");", "GetConnection")]
    [InlineData("{|#0:leases.GetConnection()|};", "GetConnection")]
    [InlineData("await {|#0:leases.GetConnectionAsync(\"tenant-1\")|};", "GetConnectionAsync")]
    [InlineData("{|#0:ds.OpenConnection()|};", "OpenConnection")]
    [InlineData("await {|#0:ds.OpenConnectionAsync()|};", "OpenConnectionAsync")]
    [InlineData("{|#0:new MySqlConnection(\"Server=db\").Open()|};", "Open")]
    [InlineData("await {|#0:new MySqlConnection(\"Server=db\").OpenAsync()|};", "OpenAsync")]
    public Task Discarded_result_is_reported(string statement, string method) => Verify.VerifyAnalyzerAsync($$"""
        using System.Threading.Tasks;
        using MySqlConnector;
        using Prelude;

        class C
        {
            async Task M(Pool pool, LeasePool leases, MySqlDataSource ds)
            {
                {{statement}}
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments($"The result of '{method}'", "because the result is discarded"));

    // ---------------------------------------------------------------- not acquisitions

    [Fact]
    public Task Settings_GetConnection_is_not_an_acquisition() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            string M(Settings settings)
            {
                var info = settings.GetConnection();
                settings.GetConnection();
                return info.Host;
            }
        }
        """);

    [Fact]
    public Task GetConnectionString_is_not_an_acquisition() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            string M(Pool pool)
            {
                var cs = pool.GetConnectionString();
                pool.GetConnectionString();
                return cs;
            }
        }
        """);

    [Fact]
    public Task GetConnection_returning_a_type_whose_Release_takes_arguments_is_not_an_acquisition() => Verify.VerifyAnalyzerAsync("""
        sealed class Ticket
        {
            public void Release(int count) { }
        }

        sealed class Counter
        {
            public Ticket GetConnection() => new Ticket();
        }

        class C
        {
            void M(Counter counter)
            {
                var ticket = counter.GetConnection();
                counter.GetConnection();
            }
        }
        """);

    [Fact]
    public Task GetConnection_on_any_type_returning_a_disposable_is_an_acquisition() => Verify.VerifyAnalyzerAsync("""
        using System;

        sealed class Handle : IDisposable
        {
            public void Work() { }
            public void Dispose() { }
        }

        sealed class Broker
        {
            public Handle GetConnection() => new Handle();
        }

        class C
        {
            void M(Broker broker)
            {
                var handle = {|#0:broker.GetConnection()|};
                handle.Work();
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'handle' from GetConnection()", "on the path that leaves the method after line 19"));

    [Fact]
    public Task GetConnectionAsync_returning_a_task_of_an_async_disposable_is_an_acquisition() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Threading.Tasks;

        sealed class Channel : IAsyncDisposable
        {
            public Task SendAsync(string message) => Task.CompletedTask;
            public ValueTask DisposeAsync() => default;
        }

        sealed class Broker
        {
            public Task<Channel> GetConnectionAsync() => Task.FromResult(new Channel());
        }

        class C
        {
            async Task M(Broker broker)
            {
                var channel = await {|#0:broker.GetConnectionAsync()|};
                await channel.SendAsync("hello");
            }

            async Task N(Broker broker)
            {
                await using var channel = await broker.GetConnectionAsync();
                await channel.SendAsync("hello");
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'channel' from GetConnectionAsync()", "on the path that leaves the method after line 20"));

    // ---------------------------------------------------------------- lambdas, local functions, constructors, accessors

    [Fact]
    public Task Leak_in_Task_Run_lambda_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            Task M(Pool pool) => Task.Run(() =>
            {
                var conn = {|#0:pool.GetConnection()|};
                conn.Execute("update tenants set seen = now()");
            });
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that leaves the method after line 9"));

    [Fact]
    public Task Task_Run_async_lambda_with_finally_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            Task<int> M(Pool pool) => Task.Run(async () =>
            {
                var conn = await pool.GetConnectionAsync();
                try
                {
                    return await conn.ExecuteAsync("select 1");
                }
                finally
                {
                    conn.Release();
                }
            });
        }
        """);

    [Fact]
    public Task Connection_returned_from_Task_Run_lambda_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            Task<PooledConnection> M(Pool pool) => Task.Run(() => pool.GetConnection());
        }
        """);

    [Theory]
    [InlineData("{|#0:Task.Run(() => pool.GetConnection())|};", "Task.Run()")]
    [InlineData("_ = {|#0:Task.Run(() => pool.GetConnectionAsync())|};", "Task.Run()")]
    [InlineData("await {|#0:Task.Run(async () => await pool.GetConnectionAsync().ConfigureAwait(false))|};", "Task.Run()")]
    [InlineData("{|#0:Task.Factory.StartNew(() => { return pool.GetConnection(); })|};", "TaskFactory.StartNew()")]
    public Task Task_Run_whose_connection_result_is_dropped_is_reported(string statement, string started) => Verify.VerifyAnalyzerAsync($$"""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task M(Pool pool)
            {
                {{statement}}
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments($"The connection from {started}", "because the result is discarded"));

    [Theory]
    [InlineData("var conn = await Task.Run(() => pool.GetConnection()); try { conn.Execute(\"select 1\"); } finally { conn.Release(); }")]
    [InlineData("var task = Task.Run(() => pool.GetConnection()); var conn = await task; conn.Release();")]
    [InlineData("var conn = await Task.Run(() => { pool.GetConnection().Release(); return pool; }); _ = conn;")]
    public Task Task_Run_whose_connection_result_is_released_is_not_reported(string statements) => Verify.VerifyAnalyzerAsync($$"""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task M(Pool pool)
            {
                {{statements}}
            }
        }
        """);

    [Theory]
    [InlineData("Conn c = {|#0:s.OpenConnection()|}; return c.ServerThread;", "'c'", "on the path that returns at line 9")]
    [InlineData("lock (gate) { var c = {|#0:s.OpenConnection()|}; c.Ping(); } return 0;", "'c'", "on the path that returns at line 9")]
    [InlineData("var c = k switch { 0 => {|#0:s.OpenConnection()|}, _ => throw new ArgumentException() }; c.Ping(); return 0;", "The result of 'OpenConnection'", "on the path that returns at line 9")]
    [InlineData("var c = {|#0:s.OpenConnection()|}; opened(c); return 0;", "'c'", "on the path that returns at line 9")]
    public Task Leak_written_with_an_alias_a_lock_object_a_switch_expression_or_an_event_is_reported(string body, string subject, string path) =>
        Verify.VerifyAnalyzerAsync($$"""
        using System;
        using System.Threading;
        using Conn = MySqlConnector.MySqlConnection;
        using Source = MySqlConnector.MySqlDataSource;

        class C
        {
            event Action<Conn> opened = _ => { };
            int M(Source s, Lock gate, int k) { {{body}} }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments(subject, path));

    [Theory]
    [InlineData("Parallel.ForEach(ids, () => {|#0:pool.GetConnection()|}, (id, state, conn) => { conn.Execute(\"select 1\"); return conn; }, conn => { });", "Parallel.ForEach")]
    [InlineData("Parallel.For(0, 10, () => {|#0:pool.GetConnection()|}, (i, state, conn) => conn, conn => conn.Execute(\"select 2\"));", "Parallel.For")]
    [InlineData("Parallel.ForEach(ids, () => { return {|#0:pool.GetConnection()|}; }, (id, state, conn) => conn, conn => { if (ids.Count > 1) conn.Release(); });", "Parallel.ForEach")]
    public Task Parallel_loop_whose_localFinally_does_not_release_what_localInit_acquired_is_reported(string loop, string name) => Verify.VerifyAnalyzerAsync($$"""
        using System.Collections.Generic;
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            void M(Pool pool, List<int> ids)
            {
                {{loop}}
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("The result of 'GetConnection'", $"by the localFinally of {name}, which receives it from localInit"));

    [Theory]
    [InlineData("Parallel.ForEach(ids, () => pool.GetConnection(), (id, state, conn) => { conn.Execute(\"select 1\"); return conn; }, conn => conn.Release());")]
    [InlineData("Parallel.For(0, 10, () => pool.GetConnection(), (i, state, conn) => conn, conn => { try { conn.Execute(\"select 2\"); } finally { conn.Release(); } });")]
    [InlineData("Parallel.ForEach(ids, () => pool.GetConnection(), (id, state, conn) => conn, Finish); static void Finish(PooledConnection conn) { }")]
    [InlineData("Parallel.ForEach(ids, () => 0, (id, state, count) => count + 1, count => pool.GetConnection().Release());")]
    public Task Parallel_loop_whose_localFinally_releases_what_localInit_acquired_is_not_reported(string loop) => Verify.VerifyAnalyzerAsync($$"""
        using System.Collections.Generic;
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            void M(Pool pool, List<int> ids)
            {
                {{loop}}
            }
        }
        """);

    [Fact]
    public Task Leak_in_Parallel_ForEachAsync_body_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Collections.Generic;
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            Task M(Pool pool, IEnumerable<string> tenants) =>
                Parallel.ForEachAsync(tenants, async (tenant, ct) =>
                {
                    var conn = await {|#0:pool.GetConnectionAsync(ct)|};
                    await conn.ExecuteAsync("delete from sessions where tenant = @tenant", ct);
                    conn.Release();
                });
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "if an exception is thrown at line 11"));

    [Fact]
    public Task Parallel_ForEachAsync_body_with_await_using_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Collections.Generic;
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            Task M(LeasePool pool, IEnumerable<string> tenants) =>
                Parallel.ForEachAsync(tenants, async (tenant, ct) =>
                {
                    await using var lease = await pool.GetConnectionAsync(tenant);
                    await lease.ExecuteAsync("delete from sessions");
                });
        }
        """);

    [Fact]
    public Task Leak_in_local_function_is_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                return Count();

                int Count()
                {
                    var conn = {|#0:pool.GetConnection()|};
                    return conn.Execute("select count(*) from tenants");
                }
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 12"));

    [Fact]
    public Task Local_function_with_finally_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                return Count();

                int Count()
                {
                    var conn = pool.GetConnection();
                    try
                    {
                        return conn.Execute("select count(*) from tenants");
                    }
                    finally
                    {
                        conn.Release();
                    }
                }
            }
        }
        """);

    [Fact]
    public Task Leak_in_constructor_is_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        sealed class SchemaInfo
        {
            private readonly int _version;

            public SchemaInfo(Pool pool)
            {
                var conn = {|#0:pool.GetConnection()|};
                _version = conn.Execute("select version from schema_info");
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that leaves the method after line 10"));

    [Fact]
    public Task Constructor_storing_the_connection_in_a_field_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        sealed class Session
        {
            private readonly PooledConnection _conn;

            public Session(Pool pool)
            {
                _conn = pool.GetConnection();
            }
        }
        """);

    [Fact]
    public Task Leak_in_property_getter_is_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        sealed class TenantStats
        {
            private readonly Pool _pool = new Pool();

            public int SessionCount
            {
                get
                {
                    var conn = {|#0:_pool.GetConnection()|};
                    return conn.Execute("select count(*) from sessions");
                }
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 12"));

    [Fact]
    public Task Property_getter_with_finally_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        sealed class TenantStats
        {
            private readonly Pool _pool = new Pool();

            public int SessionCount
            {
                get
                {
                    var conn = _pool.GetConnection();
                    try
                    {
                        return conn.Execute("select count(*) from sessions");
                    }
                    finally
                    {
                        conn.Release();
                    }
                }
            }
        }
        """);

    [Fact]
    public Task Leak_in_lambda_of_a_field_initializer_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using Prelude;

        sealed class Jobs
        {
            private static readonly Pool SharedPool = new Pool();

            private readonly Func<int> _count = () =>
            {
                var conn = {|#0:SharedPool.GetConnection()|};
                return conn.Execute("select count(*) from jobs");
            };

            public int Count() => _count();
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 11"));

    [Fact]
    public Task Leak_in_top_level_statements_is_reported()
    {
        var test = Verify.CreateTest("""
            using Prelude;

            var pool = new Pool();
            var conn = {|#0:pool.GetConnection()|};
            conn.Execute("select 1");
            """);
        test.TestState.OutputKind = OutputKind.ConsoleApplication;
        test.ExpectedDiagnostics.Add(Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that leaves the method after line 5"));
        return test.RunAsync();
    }

    [Fact]
    public Task Top_level_statements_with_finally_are_not_reported()
    {
        var test = Verify.CreateTest("""
            using Prelude;

            var pool = new Pool();
            var conn = pool.GetConnection();
            try
            {
                conn.Execute("select 1");
            }
            finally
            {
                conn.Release();
            }
            """);
        test.TestState.OutputKind = OutputKind.ConsoleApplication;
        return test.RunAsync();
    }

    // ---------------------------------------------------------------- generated code

    [Fact]
    public Task Generated_code_file_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        // <auto-generated/>
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var conn = pool.GetConnection();
                return conn.Execute("select 1");
            }
        }
        """);

    [Fact]
    public Task GeneratedCode_attribute_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.CodeDom.Compiler;
        using Prelude;

        [GeneratedCode("TenantDbGuard.Tests", "1.0")]
        class C
        {
            int M(Pool pool)
            {
                var conn = pool.GetConnection();
                return conn.Execute("select 1");
            }
        }
        """);

    // ---------------------------------------------------------------- configuration: .editorconfig and attribute

    private const string RentingApi = """
        using System;

        sealed class Handle : IDisposable
        {
            public void Work() { }
            public void Dispose() { }
        }

        sealed class Renter
        {
            public Handle Rent() => new Handle();
            public Handle Borrow() => new Handle();
        }

        """;

    [Fact]
    public Task Configured_acquire_method_is_reported() => Verify.VerifyAnalyzerWithEditorConfigAsync(RentingApi + """
        class C
        {
            void M(Renter renter)
            {
                var handle = {|#0:renter.Rent()|};
                handle.Work();
            }
        }
        """, "tenantdbguard.acquire_methods = Rent\n", Verify.Diagnostic().WithLocation(0).WithArguments("'handle'", "on the path that leaves the method after line 19"));

    [Fact]
    public Task Configured_acquire_method_in_using_is_not_reported() => Verify.VerifyAnalyzerWithEditorConfigAsync(RentingApi + """
        class C
        {
            void M(Renter renter)
            {
                using var handle = renter.Rent();
                handle.Work();
            }
        }
        """, "tenantdbguard.acquire_methods = Rent\n");

    [Fact]
    public Task Unconfigured_method_is_not_an_acquisition() => Verify.VerifyAnalyzerAsync(RentingApi + """
        class C
        {
            void M(Renter renter)
            {
                var handle = renter.Rent();
                handle.Work();
            }
        }
        """);

    [Fact]
    public Task Configured_acquire_methods_list_with_type_qualified_names() => Verify.VerifyAnalyzerWithEditorConfigAsync(RentingApi + """
        sealed class OtherRenter
        {
            public Handle Rent() => new Handle();
        }

        class C
        {
            void M(Renter renter, OtherRenter other)
            {
                var rented = {|#0:renter.Rent()|};
                rented.Work();
                var borrowed = {|#1:renter.Borrow()|};
                borrowed.Work();
                var notConfigured = other.Rent();
                notConfigured.Work();
            }
        }
        """, "tenantdbguard.acquire_methods = Renter.Rent, Borrow\n", Verify.Diagnostic().WithLocation(0).WithArguments("'rented'", "on the path that leaves the method after line 28"), Verify.Diagnostic().WithLocation(1).WithArguments("'borrowed'", "on the path that leaves the method after line 28"));

    [Theory]
    [InlineData("Rent")]
    [InlineData("LegacyPool.Rent")]
    [InlineData("Legacy.Data.LegacyPool.Rent")]
    public Task Configured_acquire_method_of_a_type_in_a_namespace_is_reported(string entry) => Verify.VerifyAnalyzerWithEditorConfigAsync("""
        using System;

        namespace Legacy.Data
        {
            public sealed class Handle : IDisposable
            {
                public void Work() { }
                public void Dispose() { }
            }

            public sealed class LegacyPool
            {
                public Handle Rent() => new Handle();
                public void Rent(string tenant) { }
            }
        }

        class C
        {
            void M(Legacy.Data.LegacyPool pool)
            {
                pool.Rent("tenant-1");
                var handle = {|#0:pool.Rent()|};
                handle.Work();
            }
        }
        """, "tenantdbguard.acquire_methods = " + entry + "\n", Verify.Diagnostic().WithLocation(0).WithArguments("'handle'", "on the path that leaves the method after line 24"));

    [Theory]
    [InlineData("Rent()")]
    [InlineData("LegacyPool<TTenant>.Rent")]
    [InlineData("LegacyPool<T>.Rent()")]
    [InlineData("Legacy.Data.LegacyPool<TTenant>.Rent")]
    [InlineData("LegacyPool.Rent")]
    public Task Configured_acquire_method_of_a_generic_type_is_reported_however_its_type_arguments_are_written(string entry) => Verify.VerifyAnalyzerWithEditorConfigAsync("""
        using System;

        namespace Legacy.Data
        {
            public sealed class Handle : IDisposable
            {
                public void Work() { }
                public void Dispose() { }
            }

            public sealed class LegacyPool<TTenant>
            {
                public Handle Rent() => new Handle();
            }
        }

        class C
        {
            void M(Legacy.Data.LegacyPool<int> pool)
            {
                var handle = {|#0:pool.Rent()|};
                handle.Work();
            }
        }
        """, "tenantdbguard.acquire_methods = " + entry + "\n", Verify.Diagnostic().WithLocation(0).WithArguments("'handle'", "on the path that leaves the method after line 22"));

    [Theory]
    [InlineData("LegacyPool<TTenant, TKey>.Rent")]
    [InlineData("Other.Borrow, Legacy.Data.LegacyPool<TTenant, TKey>.Rent(int shard, bool primary); Other.Take")]
    public Task Configured_acquire_method_whose_type_arguments_or_parameters_hold_blanks_is_one_name(string entry) => Verify.VerifyAnalyzerWithEditorConfigAsync("""
        using System;

        namespace Legacy.Data
        {
            public sealed class Handle : IDisposable
            {
                public void Work() { }
                public void Dispose() { }
            }

            public sealed class LegacyPool<TTenant, TKey>
            {
                public Handle Rent() => new Handle();
            }
        }

        class C
        {
            void M(Legacy.Data.LegacyPool<int, string> pool)
            {
                var handle = {|#0:pool.Rent()|};
                handle.Work();
            }
        }
        """, "tenantdbguard.acquire_methods = " + entry + "\n", Verify.Diagnostic().WithLocation(0).WithArguments("'handle'", "on the path that leaves the method after line 22"));

    [Theory]
    [InlineData("OtherPool.Rent")]
    [InlineData("Other.LegacyPool.Rent")]
    [InlineData("LegacyPool.Borrow")]
    public Task Configured_acquire_method_of_another_type_does_not_match_a_type_in_a_namespace(string entry) => Verify.VerifyAnalyzerWithEditorConfigAsync("""
        using System;

        namespace Legacy.Data
        {
            public sealed class Handle : IDisposable
            {
                public void Work() { }
                public void Dispose() { }
            }

            public sealed class LegacyPool
            {
                public Handle Rent() => new Handle();
            }
        }

        class C
        {
            void M(Legacy.Data.LegacyPool pool)
            {
                var handle = pool.Rent();
                handle.Work();
            }
        }
        """, "tenantdbguard.acquire_methods = " + entry + "\n");

    private const string GiveBackApi = """
        using Prelude;

        static class PoolExtensions
        {
            public static void GiveBack(this PooledConnection connection) => connection.Release();
        }

        """;

    [Theory]
    [InlineData("GiveBack")]
    [InlineData("GiveBack()")]
    [InlineData("LegacyConnection.GiveBack()")]
    [InlineData("LegacyConnection.GiveBack(bool force, int retries), Other.Free")]
    public Task Configured_release_method_is_a_release_also_written_as_a_call(string entry) => Verify.VerifyAnalyzerWithEditorConfigAsync("""
        sealed class LegacyConnection
        {
            public int Execute(string sql) => 0;

            // Hands the socket back to the legacy pool's native side.
            public void GiveBack() { }
        }

        sealed class LegacyPool
        {
            public LegacyConnection Rent() => new LegacyConnection();
        }

        class C
        {
            int M(LegacyPool pool)
            {
                var conn = pool.Rent();
                try
                {
                    return conn.Execute("select 1");
                }
                finally
                {
                    conn.GiveBack();
                }
            }
        }
        """, "tenantdbguard.acquire_methods = LegacyPool.Rent\ntenantdbguard.release_methods = " + entry + "\n");

    [Fact]
    public Task Configured_release_method_is_a_release() => Verify.VerifyAnalyzerWithEditorConfigAsync(GiveBackApi + """
        class C
        {
            int M(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    return conn.Execute("select 1");
                }
                finally
                {
                    conn.GiveBack();
                }
            }
        }
        """, "tenantdbguard.release_methods = GiveBack\n");

    [Fact]
    public Task Unconfigured_method_named_like_a_release_that_does_not_release_is_not_a_release() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        static class PoolExtensions
        {
            public static void GiveBack(this PooledConnection connection) => Log.Info("given back");
        }

        class C
        {
            int M(Pool pool)
            {
                var conn = {|#0:pool.GetConnection()|};
                try
                {
                    return conn.Execute("select 1");
                }
                finally
                {
                    conn.GiveBack();
                }
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 15"));

    private const string AcquiresConnectionAttribute = """
        using System;

        namespace TenantDbGuard
        {
            [AttributeUsage(AttributeTargets.Method | AttributeTargets.ReturnValue)]
            public sealed class AcquiresConnectionAttribute : Attribute
            {
            }
        }

        namespace App
        {
            public sealed class Session : IDisposable
            {
                public int Run(string sql) => 0;
                public void Dispose() { }
            }
        }

        """;

    [Fact]
    public Task Method_marked_AcquiresConnection_is_an_acquisition() => Verify.VerifyAnalyzerAsync(AcquiresConnectionAttribute + """
        namespace App
        {
            public sealed class Sessions
            {
                [TenantDbGuard.AcquiresConnection]
                public Session Begin() => new Session();
            }

            class C
            {
                int Leaks(Sessions sessions)
                {
                    var session = {|#0:sessions.Begin()|};
                    return session.Run("select 1");
                }

                int Disposes(Sessions sessions)
                {
                    using var session = sessions.Begin();
                    return session.Run("select 1");
                }
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'session'", "on the path that returns at line 32"));

    [Fact]
    public Task Return_value_marked_AcquiresConnection_is_an_acquisition() => Verify.VerifyAnalyzerAsync(AcquiresConnectionAttribute + """
        namespace App
        {
            public sealed class Sessions
            {
                [return: TenantDbGuard.AcquiresConnection]
                public Session Begin() => new Session();
            }

            class C
            {
                int Leaks(Sessions sessions)
                {
                    var session = {|#0:sessions.Begin()|};
                    return session.Run("select 1");
                }

                Session HandsOff(Sessions sessions)
                {
                    var session = sessions.Begin();
                    return session;
                }
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'session'", "on the path that returns at line 32"));

    [Fact]
    public Task Attribute_with_the_same_name_in_another_namespace_is_ignored() => Verify.VerifyAnalyzerAsync("""
        using System;

        namespace Other
        {
            public sealed class AcquiresConnectionAttribute : Attribute
            {
            }
        }

        namespace App
        {
            public sealed class Session : IDisposable
            {
                public int Run(string sql) => 0;
                public void Dispose() { }
            }

            public sealed class Sessions
            {
                [Other.AcquiresConnection]
                public Session Begin() => new Session();
            }

            class C
            {
                int M(Sessions sessions)
                {
                    var session = sessions.Begin();
                    return session.Run("select 1");
                }
            }
        }
        """);

    // ---------------------------------------------------------------- erroneous and incomplete code

    [Fact]
    public Task Open_awaited_through_a_call_that_does_not_resolve_is_held_from_the_await()
    {
        // 'await conn.OpenAsync(ct).ConfigAwait()' with the extension's assembly missing: the unknown call cannot make
        // the open count before the await, where a failed open brings no connection.
        var test = Verify.CreateTest("""
            using System.Data.Common;
            using System.Threading;
            using System.Threading.Tasks;
            using MySqlConnector;

            class C
            {
                async Task<DbConnection> M(string connectionString, CancellationToken ct)
                {
                    var conn = new MySqlConnection(connectionString);
                    await conn.OpenAsync(ct).ConfigAwait();
                    return conn;
                }
            }
            """);
        test.CompilerDiagnostics = CompilerDiagnostics.None;
        return test.RunAsync();
    }


    [Fact]
    public Task Erroneous_code_elsewhere_in_the_method_does_not_hide_a_using()
    {
        var test = Verify.CreateTest("""
            using Prelude;

            class C
            {
                void M(LeasePool pool)
                {
                    using var lease = pool.GetConnection();
                    lease.Execute(UndefinedSql);
                    int count = "not a number";
                }
            }
            """);
        test.CompilerDiagnostics = CompilerDiagnostics.None;
        return test.RunAsync();
    }

    [Fact]
    public Task Leak_next_to_unrelated_erroneous_code_is_reported()
    {
        var test = Verify.CreateTest("""
            using Prelude;

            class C
            {
                int M(Pool pool)
                {
                    var conn = {|#0:pool.GetConnection()|};
                    var rows = conn.Execute("select 1");
                    Log.Info(undefinedMessage);
                    return rows;
                }
            }
            """);
        test.CompilerDiagnostics = CompilerDiagnostics.None;
        test.ExpectedDiagnostics.Add(Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 10"));
        return test.RunAsync();
    }

    [Fact]
    public Task Connection_given_to_a_call_that_does_not_compile_is_not_reported()
    {
        var test = Verify.CreateTest("""
            using Prelude;

            class C
            {
                void M(Pool pool)
                {
                    var conn = pool.GetConnection();
                    Keep(conn, undefinedTenant);
                }
            }
            """);
        test.CompilerDiagnostics = CompilerDiagnostics.None;
        return test.RunAsync();
    }

    [Fact]
    public Task Missing_semicolon_after_use_is_still_reported()
    {
        var test = Verify.CreateTest("""
            using Prelude;

            class C
            {
                int M(Pool pool)
                {
                    var conn = {|#0:pool.GetConnection()|};
                    return conn.Execute("select 1")
                }
            }
            """);
        test.CompilerDiagnostics = CompilerDiagnostics.None;
        test.ExpectedDiagnostics.Add(Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 8"));
        return test.RunAsync();
    }

    [Fact]
    public Task GetConnection_on_an_unknown_type_is_not_an_acquisition()
    {
        var test = Verify.CreateTest("""
            class C
            {
                void M(UnknownPool pool)
                {
                    var conn = pool.GetConnection();
                    conn.Execute("select 1");
                    var other = missing.GetConnection();
                }
            }
            """);
        test.CompilerDiagnostics = CompilerDiagnostics.None;
        return test.RunAsync();
    }

    [Theory]
    [InlineData("var conn = pool.GetConnection(")]
    [InlineData("var conn = pool.GetConnection(); try { conn.Execute(\"select 1\"); } finally {")]
    [InlineData("var conn = await pool.GetConnectionAsync(); conn = ; conn.Release();")]
    [InlineData("await using var lease = await ")]
    [InlineData("using (var lease = leases.GetConnection(")]
    [InlineData("pool.GetConnection().")]
    [InlineData("var conn = new MySqlConnection(\"Server=db\"); await conn.OpenAsync(; conn.")]
    [InlineData("Task.Run(() => { var conn = pool.GetConnection(); return ")]
    public async Task Incomplete_code_does_not_crash_the_analyzer(string body)
    {
        var source = $$"""
            using System.Threading.Tasks;
            using MySqlConnector;
            using Prelude;

            class C
            {
                async Task M(Pool pool, LeasePool leases)
                {
                    {{body}}
            """;
        var parseOptions = new CSharpParseOptions(LanguageVersion.Latest);
        var compilation = CSharpCompilation.Create(
            "Incomplete",
            new[]
            {
                CSharpSyntaxTree.ParseText(source, parseOptions, path: "/0/Test0.cs"),
            },
            TestReferences.All,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        var exceptions = new ConcurrentQueue<Exception>();
        var options = new CompilationWithAnalyzersOptions(
            new AnalyzerOptions(ImmutableArray<AdditionalText>.Empty),
            onAnalyzerException: (exception, _, _) => exceptions.Enqueue(exception),
            concurrentAnalysis: true,
            logAnalyzerExecutionTime: false);

        var diagnostics = await compilation
            .WithAnalyzers(ImmutableArray.Create<DiagnosticAnalyzer>(new ConnectionLeakAnalyzer()), options)
            .GetAnalyzerDiagnosticsAsync();

        Assert.Empty(exceptions);
        Assert.All(diagnostics, diagnostic => Assert.Equal(DiagnosticIds.ConnectionNotReleased, diagnostic.Id));
    }

    // ---------------------------------------------------------------- exact messages

    [Fact]
    public Task Awaiting_the_task_that_brings_the_connection_cannot_leak_it_but_awaiting_another_one_can() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> OneAsync(Pool pool)
            {
                var opening = pool.GetConnectionAsync();
                var conn = await opening;
                try
                {
                    return conn.Execute("select 1");
                }
                finally
                {
                    conn.Release();
                }
            }

            async Task<int> TwoAsync(Pool pool)
            {
                var first = {|#0:pool.GetConnectionAsync()|};
                var second = {|#1:pool.GetConnectionAsync()|};
                var a = await first;
                var b = await second;
                try
                {
                    return a.Execute("select 1") + b.Execute("select 2");
                }
                finally
                {
                    a.Release();
                    b.Release();
                }
            }
        }
        """,
        // Each task may bring a connection while awaiting the other one throws.
        Verify.Diagnostic().WithLocation(0).WithArguments("'first'", "if an exception is thrown at line 25"),
        Verify.Diagnostic().WithLocation(1).WithArguments("'second'", "if an exception is thrown at line 24"));

    [Fact]
    public Task Message_for_an_early_return() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool, bool dryRun)
            {
                var conn = {|#0:pool.GetConnection()|};
                if (dryRun)
                {
                    return 0;
                }

                try
                {
                    return conn.Execute("delete from sessions");
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 10"));

    [Fact]
    public Task Message_for_the_end_of_a_void_method() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                var conn = {|#0:pool.GetConnection()|};
                Log.Info("connected");
                conn.Execute("update tenants set seen = now()");
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that leaves the method after line 9"));

    [Fact]
    public Task Message_for_an_exception_before_release() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var conn = {|#0:pool.GetConnection()|};
                var rows = conn.Execute("delete from sessions");
                conn.Release();
                return rows;
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "if an exception is thrown at line 8"));

    [Fact]
    public Task Message_for_an_exception_after_awaited_data_source_acquisition() => Verify.VerifyAnalyzerAsync("""
        using System.Threading;
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            async Task M(MySqlDataSource ds, CancellationToken ct)
            {
                var conn = await {|#0:ds.OpenConnectionAsync(ct)|};
                using var cmd = new MySqlCommand("delete from sessions", conn);
                await cmd.ExecuteNonQueryAsync(ct);
                await conn.DisposeAsync();
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "if an exception is thrown at line 10"));

    [Fact]
    public Task Message_for_OpenAsync_names_the_receiver() => Verify.VerifyAnalyzerAsync("""
        using System.Threading;
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            async Task<object> M(string connectionString, CancellationToken ct)
            {
                var conn = new MySqlConnection(connectionString);
                await {|#0:conn.OpenAsync(ct)|};
                var cmd = conn.CreateCommand();
                cmd.CommandText = "select now()";
                var result = await cmd.ExecuteScalarAsync(ct);
                await conn.CloseAsync();
                return result;
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "if an exception is thrown at line 11"));

    [Fact]
    public Task Message_for_a_throw_before_release() => Verify.VerifyAnalyzerAsync("""
        using System;
        using Prelude;

        class C
        {
            int M(Pool pool, string tenant)
            {
                var conn = {|#0:pool.GetConnection()|};
                if (tenant.Length == 0)
                {
                    throw new ArgumentException("tenant is required", nameof(tenant));
                }

                try
                {
                    return conn.Execute("select 1");
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "if an exception is thrown at line 11"));

    [Fact]
    public Task Message_names_the_lease_variable() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> M(LeasePool pool, bool readOnly)
            {
                var lease = await {|#0:pool.GetConnectionAsync("tenant-1")|};
                if (readOnly)
                {
                    return 0;
                }

                await using (lease)
                {
                    return await lease.ExecuteAsync("delete from sessions");
                }
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'lease'", "on the path that returns at line 11"));

    [Fact]
    public Task Message_for_an_overwritten_variable() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            int M(Pool primary, Pool replica)
            {
                var conn = {|#0:primary.GetConnection()|};
                conn = replica.GetConnection();
                try
                {
                    return conn.Execute("select 1");
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "when 'conn' is overwritten at line 8"));

    [Fact]
    public Task Message_for_an_acquisition_repeated_in_a_loop() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        class C
        {
            void M(string connectionString, int attempts)
            {
                var conn = new MySqlConnection(connectionString);
                for (var i = 0; i < attempts; i++)
                {
                    {|#0:conn.Open()|};
                }

                conn.Close();
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "when it is acquired again at line 10"));

    [Fact]
    public Task Message_for_a_discarded_result() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                {|#0:pool.GetConnection()|};
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("The result of 'GetConnection'", "because the result is discarded"));

    [Fact]
    public void Diagnostic_descriptor_matches_the_contract()
    {
        var descriptor = Descriptors.ConnectionNotReleased;

        Assert.Equal("TDG001", descriptor.Id);
        Assert.Equal("Reliability", descriptor.Category);
        Assert.Equal(DiagnosticSeverity.Warning, descriptor.DefaultSeverity);
        Assert.True(descriptor.IsEnabledByDefault);
        Assert.Equal(Descriptors.HelpLinkBase + "TDG001.md", descriptor.HelpLinkUri);
        Assert.Equal("{0} is not released {1}", descriptor.MessageFormat.ToString());
        Assert.Contains(descriptor, new ConnectionLeakAnalyzer().SupportedDiagnostics);
    }

    [Theory]
    [InlineData("object")]
    [InlineData("System.Threading.Lock")]
    public Task A_lock_between_the_acquisition_and_the_release_is_not_a_path(string gate) => Verify.VerifyAnalyzerAsync($$"""
        using MySqlConnector;

        sealed class Counter
        {
            private readonly {{gate}} _gate = new();
            private int _opened;

            public void Touch(MySqlDataSource dataSource)
            {
                var connection = dataSource.OpenConnection();
                lock (_gate)
                {
                    _opened++;
                }

                connection.Dispose();
            }
        }
        """);

    [Theory]
    [InlineData("object")]
    [InlineData("System.Threading.Lock")]
    public Task A_call_under_a_lock_between_the_acquisition_and_the_release_is_a_path(string gate) => Verify.VerifyAnalyzerAsync($$"""
        using System;
        using MySqlConnector;

        sealed class Counter
        {
            private readonly {{gate}} _gate = new();

            public void Touch(MySqlDataSource dataSource)
            {
                var connection = {|#0:dataSource.OpenConnection()|};
                lock (_gate)
                {
                    Console.Out.Flush();
                }

                connection.Dispose();
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'connection'", "if an exception is thrown at line 13"));

    [Theory]
    [InlineData("return Task.Run(() => { using (conn) { return conn.Execute(\"select 1\"); } });")]
    [InlineData("return Task.Run(async () => { await using (conn) { return await conn.ExecuteAsync(\"select 1\"); } });")]
    [InlineData("_ = Task.Run(() => { try { conn.Execute(\"select 1\"); } finally { conn.Dispose(); } }); return Task.FromResult(0);")]
    [InlineData("return Task.Factory.StartNew(() => { using (conn) { return conn.Execute(\"select 1\"); } });")]
    [InlineData("return wait.ContinueWith(_ => { using (conn) { return conn.Execute(\"select 1\"); } });")]
    [InlineData("ThreadPool.QueueUserWorkItem(_ => { using (conn) { conn.Execute(\"select 1\"); } }); return Task.FromResult(0);")]
    [InlineData("ThreadPool.UnsafeQueueUserWorkItem(_ => { using (conn) { conn.Execute(\"select 1\"); } }, null); return Task.FromResult(0);")]
    [InlineData("return Task.Run(Work); int Work() { using (conn) { return conn.Execute(\"select 1\"); } }")]
    [InlineData("Func<int> work = () => { using (conn) { return conn.Execute(\"select 1\"); } }; return Task.Run(work);")]
    [InlineData("_ = Task.Run(conn.Dispose); return Task.FromResult(0);")]
    public Task A_connection_handed_to_a_task_whose_callback_releases_it_on_every_path_is_not_reported(string handOff) => Verify.VerifyAnalyzerAsync($$"""
        using System;
        using System.Threading;
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            Task<int> M(LeasePool pool, Task wait)
            {
                var conn = pool.GetConnection();
                {{handOff}}
            }
        }
        """);

    [Theory]
    [InlineData("return Task.Run(() => { var n = conn.Execute(\"select 1\"); conn.Dispose(); return n; });", "on the path that returns at line 11")]
    [InlineData("var task = Task.Run(() => { using (conn) { return conn.Execute(\"select 1\"); } }); conn.Execute(\"select 2\"); return task;", "on the path that returns at line 11")]
    [InlineData("return Later(() => { using (conn) { return conn.Execute(\"select 1\"); } });", "on the path that returns at line 11")]
    [InlineData("return Task.Run(() => { using (conn) { return conn.Execute(\"select 1\"); } }, ct);", "on the path that returns at line 11")]
    [InlineData("return Task.Factory.StartNew(() => { using (conn) { return conn.Execute(\"select 1\"); } }, ct);", "on the path that returns at line 11")]
    [InlineData("return wait.ContinueWith(_ => { using (conn) { return conn.Execute(\"select 1\"); } }, TaskContinuationOptions.OnlyOnRanToCompletion);", "on the path that returns at line 11")]
    [InlineData("var task = Task.Run(Work); conn.Execute(\"select 2\"); return task; int Work() { using (conn) { return conn.Execute(\"select 1\"); } }", "on the path that returns at line 11")]
    [InlineData("return Task.Run(Work, ct); int Work() { using (conn) { return conn.Execute(\"select 1\"); } }", "on the path that returns at line 11")]
    [InlineData("return Task.Run(Work); int Work() => conn.Execute(\"select 1\");", "on the path that returns at line 11")]
    public Task A_connection_captured_by_a_task_that_may_not_release_it_is_reported(string handOff, string path) => Verify.VerifyAnalyzerAsync($$"""
        using System;
        using System.Threading;
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            Task<int> M(LeasePool pool, CancellationToken ct, Task wait)
            {
                var conn = {|#0:pool.GetConnection()|};
                {{handOff}}
            }

            static Task<int> Later(Func<int> work) => Task.FromResult(0);
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", path));

    [Theory]
    [InlineData("for (var i = 0; i < n; i++)")]
    [InlineData("foreach (var _ in new int[n])")]
    [InlineData("while (tasks.Count < n)")]
    public Task A_task_started_in_a_loop_with_a_connection_taken_before_the_loop_is_reported(string loop) => Verify.VerifyAnalyzerAsync($$"""
        using System.Collections.Generic;
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            List<Task<int>> M(LeasePool pool, int n)
            {
                var tasks = new List<Task<int>>();
                var conn = {|#0:pool.GetConnection()|};
                {{loop}}
                {
                    tasks.Add(Task.Run(() => { using (conn) { return conn.Execute("select 1"); } }));
                }

                return tasks;
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 16"));

    [Fact]
    public Task A_task_started_in_a_loop_that_runs_at_least_once_with_a_connection_taken_before_it_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Collections.Generic;
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            List<Task<int>> M(LeasePool pool, int n)
            {
                var tasks = new List<Task<int>>();
                var conn = {|#0:pool.GetConnection()|};
                do
                {
                    tasks.Add(Task.Run(() => { using (conn) { return conn.Execute("select 1"); } }));
                }
                while (tasks.Count < n);

                return tasks;
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 17"));

    [Fact]
    public Task A_task_started_in_a_while_true_loop_with_a_connection_taken_before_it_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Collections.Generic;
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            List<Task<int>> M(LeasePool pool, int n)
            {
                var tasks = new List<Task<int>>();
                var conn = {|#0:pool.GetConnection()|};
                while (true)
                {
                    tasks.Add(Task.Run(() => { using (conn) { return conn.Execute("select 1"); } }));
                    if (tasks.Count >= n)
                    {
                        return tasks;
                    }
                }
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 16"));

    [Theory]
    [InlineData("object", "System.Threading.Monitor.Enter(_gate);", "System.Threading.Monitor.Exit(_gate);")]
    [InlineData("System.Threading.Lock", "_gate.Enter();", "_gate.Exit();")]
    public Task Entering_a_lock_by_hand_between_the_acquisition_and_the_release_is_not_a_path(string gate, string enter, string exit) => Verify.VerifyAnalyzerAsync($$"""
        using MySqlConnector;

        sealed class Counter
        {
            private readonly {{gate}} _gate = new();
            private int _opened;

            public void Touch(MySqlDataSource dataSource)
            {
                var connection = dataSource.OpenConnection();
                {{enter}}
                _opened++;
                connection.Dispose();
                {{exit}}
            }
        }
        """);

    [Fact]
    public Task A_type_of_the_code_named_like_a_lock_can_throw() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        static class Monitor
        {
            public static void Enter(object gate) => throw new System.InvalidOperationException("not now");
        }

        sealed class Lock
        {
            public void Enter() => throw new System.InvalidOperationException("not now");
        }

        sealed class Counter
        {
            private readonly object _gate = new();
            private readonly Lock _lock = new();

            public void Touch(MySqlDataSource dataSource)
            {
                var connection = {|#0:dataSource.OpenConnection()|};
                Monitor.Enter(_gate);
                connection.Dispose();
            }

            public void Again(MySqlDataSource dataSource)
            {
                var connection = {|#1:dataSource.OpenConnection()|};
                _lock.Enter();
                connection.Dispose();
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'connection'", "if an exception is thrown at line 21"),
        Verify.Diagnostic().WithLocation(1).WithArguments("'connection'", "if an exception is thrown at line 28"));

    [Fact]
    public Task Connections_kept_in_a_collection_expression_and_released_from_it_in_a_finally_are_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Collections.Generic;
        using Prelude;

        class C
        {
            int M(Pool a, Pool b)
            {
                var first = a.GetConnection();
                PooledConnection second;
                try
                {
                    second = b.GetConnection();
                }
                catch
                {
                    first.Release();
                    throw;
                }

                List<PooledConnection> all = [first, second];
                try
                {
                    var rows = 0;
                    foreach (var conn in all)
                    {
                        rows += conn.Execute("select 1");
                    }

                    return rows;
                }
                finally
                {
                    foreach (var conn in all)
                    {
                        conn.Release();
                    }
                }
            }
        }
        """);

    [Fact]
    public Task Disposing_a_command_through_ConfigureAwait_does_not_release_its_connection() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            async Task<object?> CountAsync(MySqlDataSource dataSource)
            {
                var conn = await {|#0:dataSource.OpenConnectionAsync()|};
                var cmd = conn.CreateCommand();
                await using (cmd.ConfigureAwait(false))
                {
                    cmd.CommandText = "SELECT COUNT(*) FROM customers";
                    return await cmd.ExecuteScalarAsync();
                }
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 13"));

    // ---------------------------------------------------------------- calls that never return

    private const string NoReturnHelpers = """

        static class Throw
        {
            [System.Diagnostics.CodeAnalysis.DoesNotReturn]
            public static void Unsupported(string message) => throw new System.NotSupportedException(message);

            public static void WithoutAttribute(string message) => throw new System.NotSupportedException(message);
        }
        """;

    [Theory]
    [InlineData("Throw.Unsupported(\"legacy\");")]
    [InlineData("ExceptionDispatchInfo.Throw(new NotSupportedException(\"legacy\"));")]
    [InlineData("Prelude.ConnectionHelpers.Fail(\"legacy\");")]
    public Task Path_after_a_call_that_never_returns_does_not_leak_when_its_exception_releases(string call) => Verify.VerifyAnalyzerAsync($$"""
        using System;
        using System.Runtime.ExceptionServices;
        using Prelude;

        class C
        {
            void M(Pool pool, bool legacy)
            {
                var conn = pool.GetConnection();
                try
                {
                    if (legacy)
                    {
                        {{call}}
                    }
                    else
                    {
                        conn.Execute("select 1");
                        conn.Release();
                        return;
                    }
                }
                catch
                {
                    conn.Release();
                    throw;
                }
            }
        }
        """ + NoReturnHelpers);

    [Fact]
    public Task Path_after_a_call_that_may_return_still_leaks() => Verify.VerifyAnalyzerAsync("""
        using System;
        using Prelude;

        class C
        {
            void M(Pool pool, bool legacy)
            {
                var conn = {|#0:pool.GetConnection()|};
                try
                {
                    if (legacy)
                    {
                        Throw.WithoutAttribute("legacy");
                    }
                    else
                    {
                        conn.Execute("select 1");
                        conn.Release();
                        return;
                    }
                }
                catch
                {
                    conn.Release();
                    throw;
                }
            }
        }
        """ + NoReturnHelpers, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that leaves the method after line 13"));

    [Fact]
    public Task Connection_held_when_a_call_that_never_returns_throws_is_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool, int tenantId)
            {
                var conn = {|#0:pool.GetConnection()|};
                if (tenantId <= 0)
                {
                    Throw.Unsupported("tenant");
                }

                try
                {
                    return conn.Execute("select 1");
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """ + NoReturnHelpers, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "if an exception is thrown at line 10"));

    [Fact]
    public Task Connection_held_when_the_process_fails_fast_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using Prelude;

        class C
        {
            int M(Pool pool, int tenantId)
            {
                var conn = pool.GetConnection();
                if (tenantId <= 0)
                {
                    Environment.FailFast("tenant");
                }

                try
                {
                    return conn.Execute("select 1");
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """);
}
