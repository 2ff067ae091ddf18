using Microsoft.CodeAnalysis.Testing;
using Verify = TenantDbGuard.Analyzers.Tests.Verifiers.CSharpAnalyzerVerifier<TenantDbGuard.Analyzers.ConnectionLeakAnalyzer>;

namespace TenantDbGuard.Analyzers.Tests;

/// <summary>TDG004: a connection used, or released again, on a path where it was already released.</summary>
public sealed class UseAfterReleaseAnalyzerTests
{
    /// <summary>A lease with both Release() and Dispose(), like the runtime's TenantConnectionLease.</summary>
    private const string ReleasableLease = """

        namespace Leasing
        {
            public sealed class TenantLease : System.IDisposable
            {
                public MySqlConnector.MySqlConnection Connection { get; } = new MySqlConnector.MySqlConnection();
                public void Release() { }
                public void Dispose() => Release();
            }

            public sealed class TenantLeases
            {
                public TenantLease GetConnection(string tenant) => new TenantLease();
            }
        }
        """;

    private static DiagnosticResult Tdg004(string subject, string text) =>
        Verify.Diagnostic(Descriptors.ConnectionUsedAfterRelease).WithLocation(0).WithLocation(1).WithArguments(subject, text);

    // ---------------------------------------------------------------- use after release

    [Fact]
    public Task Pool_connection_used_after_release_in_finally_is_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    conn.Execute("update a set b = 1");
                }
                finally
                {
                    {|#1:conn.Release()|};
                }

                return {|#0:conn.Execute("select 1")|};
            }
        }
        """,
        Tdg004("'conn'", "is used at line 17 after it was released at line 14"));

    [Fact]
    public Task Lease_property_read_after_dispose_is_reported() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;
        using Prelude;

        class C
        {
            MySqlConnection M(LeasePool pool)
            {
                var lease = pool.GetConnection();
                try
                {
                    lease.Execute("select 1");
                }
                finally
                {
                    {|#1:lease.Dispose()|};
                }

                return {|#0:lease.Connection|};
            }
        }
        """,
        Tdg004("'lease'", "is used at line 18 after it was released at line 15"));

    [Fact]
    public Task Dapper_query_on_a_disposed_connection_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Linq;
        using Dapper;
        using MySqlConnector;

        class C
        {
            int M(string cs)
            {
                var conn = new MySqlConnection(cs);
                try
                {
                    conn.Open();
                    conn.Execute("update a set b = 1");
                }
                finally
                {
                    {|#1:conn.Dispose()|};
                }

                return {|#0:conn.Query<int>("select 1")|}.Single();
            }
        }
        """,
        Tdg004("'conn'", "is used at line 20 after it was released at line 17"));

    [Fact]
    public Task Awaited_use_after_DisposeAsync_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> M(LeasePool pool)
            {
                var lease = await pool.GetConnectionAsync("t1");
                try
                {
                    await lease.ExecuteAsync("update a set b = 1");
                }
                finally
                {
                    await {|#1:lease.DisposeAsync()|};
                }

                return await {|#0:lease.ExecuteAsync("select 1")|};
            }
        }
        """,
        Tdg004("'lease'", "is used at line 18 after it was released at line 15"));

    [Fact]
    public Task Each_use_after_release_is_reported_at_its_own_place() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var conn = pool.GetConnection();
                {|#2:conn.Release()|};
                {|#0:conn.Execute("update a set b = 1")|};
                return {|#1:conn.Execute("select 1")|};
            }
        }
        """,
        Verify.Diagnostic(Descriptors.ConnectionUsedAfterRelease).WithLocation(0).WithLocation(2).WithArguments("'conn'", "is used at line 9 after it was released at line 8"),
        Verify.Diagnostic(Descriptors.ConnectionUsedAfterRelease).WithLocation(1).WithLocation(2).WithArguments("'conn'", "is used at line 10 after it was released at line 8"));

    [Fact]
    public Task Alias_used_after_release_is_reported_with_its_own_name() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var conn = pool.GetConnection();
                var same = conn;
                {|#1:conn.Release()|};
                return {|#0:same.Execute("select 1")|};
            }
        }
        """,
        Tdg004("'same'", "is used at line 10 after it was released at line 9"));

    [Theory]
    [InlineData("using var tx = ", "conn.BeginTransaction()")]
    [InlineData("await using var tx = await ", "conn.BeginTransactionAsync()")]
    [InlineData("", "conn.ChangeDatabase(\"other\")")]
    [InlineData("await ", "conn.ChangeDatabaseAsync(\"other\")")]
    [InlineData("", "conn.EnlistTransaction(null)")]
    [InlineData("_ = ", "conn.GetSchema()")]
    [InlineData("_ = await ", "conn.GetSchemaAsync()")]
    [InlineData("_ = ", "conn.ServerVersion")]
    [InlineData("_ = ", "conn.ServerThread")]
    [InlineData("await ", "conn.ResetConnectionAsync()")]
    public Task Member_that_needs_an_open_connection_used_on_a_closed_one_is_reported(string prefix, string use) => Verify.VerifyAnalyzerAsync($$"""
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            async Task M(string cs)
            {
                using var conn = new MySqlConnection(cs);
                await conn.OpenAsync();
                {|#1:conn.Close()|};
                {{prefix}}{|#0:{{use}}|};
            }
        }
        """,
        Tdg004("'conn'", "is used at line 11 after it was closed at line 10"));

    [Fact]
    public Task Open_after_dispose_in_a_loop_is_reported() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        class C
        {
            void M(string cs, string[] tenants)
            {
                var conn = new MySqlConnection(cs);
                foreach (var tenant in tenants)
                {
                    {|#0:conn.Open()|};
                    try
                    {
                        conn.ChangeDatabase(tenant);
                    }
                    finally
                    {
                        {|#1:conn.Dispose()|};
                    }
                }
            }
        }
        """,
        Tdg004("'conn'", "is used at line 10 after it was released at line 17"));

    [Fact]
    public Task Use_after_release_inside_a_lambda_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            Task<int> M(Pool pool) => Task.Run(() =>
            {
                var conn = pool.GetConnection();
                {|#1:conn.Release()|};
                return {|#0:conn.Execute("select 1")|};
            });
        }
        """,
        Tdg004("'conn'", "is used at line 10 after it was released at line 9"));

    [Fact]
    public Task Released_connection_read_for_the_argument_of_its_own_awaited_acquisition_in_a_loop_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task M(LeasePool pool, ConnectionLease first)
            {
                var lease = first;
                for (var i = 0; i < 3; i++)
                {
                    lease = await pool.GetConnectionAsync({|#0:lease.Connection|}.Database);
                    {|#1:lease.Dispose()|};
                }
            }
        }
        """,
        Tdg004("'lease'", "is used at line 11 after it was released at line 12"));

    [Fact]
    public Task Released_connection_read_for_the_index_of_an_assignment_target_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Collections.Generic;
        using Prelude;

        class C
        {
            void M(LeasePool pool, Dictionary<string, int> counts)
            {
                var lease = pool.GetConnection();
                {|#1:lease.Dispose()|};
                counts[{|#0:lease.Connection|}.Database] = 1;
            }
        }
        """,
        Tdg004("'lease'", "is used at line 10 after it was released at line 9"));

    [Fact]
    public Task Awaited_DisposeAsync_is_taken_not_to_throw_so_the_catch_after_it_does_not_use_a_released_connection() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task M(LeasePool pool)
            {
                var lease = await pool.GetConnectionAsync("a");
                try
                {
                    await lease.ExecuteAsync("update a set b = 1");
                    await lease.DisposeAsync();
                }
                catch (Exception)
                {
                    var database = lease.Connection.Database;
                    await lease.DisposeAsync();
                    Log.Info(database);
                    throw;
                }
            }
        }
        """);

    [Fact]
    public Task Use_on_the_path_of_an_exception_after_release_is_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                var conn = {|#9:pool.GetConnection()|};
                try
                {
                    conn.Execute("update a set b = 1");
                    {|#1:conn.Release()|};
                    Log.Info("done");
                }
                catch
                {
                    {|#0:conn.Execute("insert into errors values (1)")|};
                    {|#2:conn.Release()|};
                    throw;
                }
            }
        }
        """,
        Verify.Diagnostic(Descriptors.ConnectionNotReleased).WithLocation(9).WithArguments("'conn'", "if an exception is thrown at line 16"),
        Tdg004("'conn'", "is used at line 16 after it was released at line 11"),
        Verify.Diagnostic(Descriptors.ConnectionUsedAfterRelease).WithLocation(2).WithLocation(1)
            .WithArguments("'conn'", "is released again at line 17 after it was released at line 11"));

    [Fact]
    public Task Use_after_Close_of_a_lease_that_is_not_a_DbConnection_is_reported() => Verify.VerifyAnalyzerAsync("""
        class Handle : System.IDisposable
        {
            public int Run(string sql) => 0;
            public void Close() { }
            public void Dispose() => Close();
        }

        class Handles
        {
            public Handle GetConnection() => new Handle();
        }

        class C
        {
            int M(Handles handles)
            {
                var handle = handles.GetConnection();
                {|#1:handle.Close()|};
                return {|#0:handle.Run("select 1")|};
            }
        }
        """,
        Tdg004("'handle'", "is used at line 19 after it was released at line 18"));

    // ---------------------------------------------------------------- not a use after release

    [Fact]
    public Task Release_in_one_branch_and_use_in_the_other_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool, bool readOnly)
            {
                var conn = pool.GetConnection();
                var rows = 0;
                if (readOnly)
                {
                    conn.Release();
                }
                else
                {
                    try
                    {
                        rows = conn.Execute("update a set b = 1");
                    }
                    finally
                    {
                        conn.Release();
                    }
                }

                return rows;
            }
        }
        """);

    [Fact]
    public Task Release_in_catch_then_rethrow_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var conn = pool.GetConnection();
                int rows;
                try
                {
                    rows = conn.Execute("update a set b = 1");
                }
                catch
                {
                    conn.Release();
                    throw;
                }

                conn.Release();
                return rows;
            }
        }
        """);

    [Fact]
    public Task Release_each_loop_iteration_with_a_new_acquisition_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool, string[] scripts)
            {
                foreach (var script in scripts)
                {
                    var conn = pool.GetConnection();
                    try
                    {
                        conn.Execute(script);
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
    public Task Closed_connection_opened_again_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        class C
        {
            void M(string cs, string[] scripts)
            {
                using var conn = new MySqlConnection(cs);
                foreach (var script in scripts)
                {
                    conn.Open();
                    using (var cmd = new MySqlCommand(script, conn))
                    {
                        cmd.ExecuteNonQuery();
                    }

                    conn.Close();
                }

                conn.Open();
                using var tx = conn.BeginTransaction();
                tx.Commit();
            }
        }
        """);

    [Fact]
    public Task Closed_connection_opened_again_asynchronously_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            async Task M(string cs, string[] scripts)
            {
                await using var conn = new MySqlConnection(cs);
                foreach (var script in scripts)
                {
                    await conn.OpenAsync();
                    await using (var cmd = new MySqlCommand(script, conn))
                    {
                        await cmd.ExecuteNonQueryAsync();
                    }

                    await conn.CloseAsync();
                }

                await conn.OpenAsync();
                await using var tx = await conn.BeginTransactionAsync();
                await tx.CommitAsync();
            }
        }
        """);

    [Fact]
    public Task Closed_connection_used_by_Dapper_settings_and_State_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Data;
        using System.Threading.Tasks;
        using Dapper;
        using MySqlConnector;

        class C
        {
            async Task<int> M(string cs)
            {
                await using var conn = new MySqlConnection(cs);
                await conn.OpenAsync();
                await conn.ExecuteAsync("update a set b = 1");
                await conn.CloseAsync();
                if (conn.State != ConnectionState.Closed)
                {
                    return -1;
                }

                var database = conn.Database;
                // Dapper opens a closed connection for the call and closes it again.
                return await conn.ExecuteScalarAsync<int>("select count(*) from " + database + ".a");
            }
        }
        """);

    [Theory]
    [InlineData("conn.ConnectionString")]
    [InlineData("conn.Database")]
    [InlineData("conn.DataSource")]
    [InlineData("conn.ConnectionTimeout.ToString()")]
    public Task Settings_of_a_disposed_connection_read_after_its_using_are_not_reported(string setting) => Verify.VerifyAnalyzerAsync($$"""
        using System;
        using Dapper;
        using MySqlConnector;

        class C
        {
            int M(MySqlDataSource dataSource)
            {
                var conn = dataSource.OpenConnection();
                int rows;
                using (conn)
                {
                    rows = conn.Execute("update a set b = 1");
                }

                // Dispose closes the connection and keeps its settings: a log line after the using is no use of it.
                Console.WriteLine("done on " + {{setting}});
                return rows;
            }
        }
        """);

    [Theory]
    [InlineData("{|#0:conn.ServerVersion|}")]
    [InlineData("{|#0:conn.Execute(\"select 1\")|}.ToString()")]
    [InlineData("{|#0:conn.CreateCommand()|}.CommandText")]
    public Task A_disposed_connection_used_for_more_than_its_settings_is_reported(string use) => Verify.VerifyAnalyzerAsync($$"""
        using System;
        using Dapper;
        using MySqlConnector;

        class C
        {
            string M(MySqlDataSource dataSource)
            {
                var conn = dataSource.OpenConnection();
                {|#1:conn.Dispose()|};
                return {{use}};
            }
        }
        """,
        Tdg004("'conn'", "is used at line 11 after it was released at line 10"));

    [Fact]
    public Task A_handler_removed_after_the_release_is_no_use_and_one_added_is() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Data;
        using Dapper;
        using MySqlConnector;

        class C
        {
            static void OnChange(object? sender, StateChangeEventArgs e) => Console.WriteLine(e.CurrentState);

            int Removed(MySqlDataSource dataSource)
            {
                var conn = dataSource.OpenConnection();
                conn.StateChange += OnChange;
                try
                {
                    return conn.Execute("update a set b = 1");
                }
                finally
                {
                    conn.Dispose();
                    conn.StateChange -= OnChange;
                    conn.InfoMessage -= (_, _) => { };
                }
            }

            void Added(MySqlDataSource dataSource)
            {
                var conn = dataSource.OpenConnection();
                {|#1:conn.Dispose()|};
                {|#0:conn.StateChange|} += OnChange;
            }
        }
        """,
        Tdg004("'conn'", "is used at line 30 after it was released at line 29"));

    [Fact]
    public Task A_value_a_lease_keeps_is_readable_after_its_release() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Threading.Tasks;
        using Prelude;

        namespace Leasing
        {
            public sealed class TenantLease : IDisposable
            {
                public TenantLease(string tenant) { Tenant = tenant; }
                public string Tenant { get; }
                public int Attempts { get; init; }
                public DateTimeKind Kind { get; set; }
                public MySqlConnector.MySqlConnection Connection { get; } = new MySqlConnector.MySqlConnection();
                public void Dispose() { }
            }

            public sealed class TenantLeases
            {
                public TenantLease GetConnection(string tenant) => new TenantLease(tenant) { Attempts = 1 };
            }

            class C
            {
                int Own(TenantLeases leases, string tenant)
                {
                    var lease = leases.GetConnection(tenant);
                    lease.Dispose();
                    Console.WriteLine(lease.Tenant + lease.Attempts + lease.Kind);
                    return 0;
                }

                async Task<int> Library(LeasePool pool)
                {
                    var lease = await pool.GetConnectionAsync("t1");
                    var rows = 0;
                    await using (lease)
                    {
                        rows = await lease.ExecuteAsync("update a set b = 1");
                    }

                    // An auto-property of the library's lease, as the runtime's 'TenantKey': what it was given, kept.
                    Console.WriteLine(lease.TenantKey);
                    return rows;
                }
            }
        }
        """);

    [Fact]
    public Task A_lease_member_that_reaches_the_connection_after_its_release_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using Prelude;

        namespace Leasing
        {
            public sealed class TenantLease : IDisposable
            {
                public MySqlConnector.MySqlConnection Connection { get; } = new MySqlConnector.MySqlConnection();
                public string Database => Connection.Database;
                public string? Note;
                public void Dispose() { }
            }

            public sealed class TenantLeases
            {
                public TenantLease GetConnection() => new TenantLease();
            }

            class C
            {
                string Computed(TenantLeases leases)
                {
                    var lease = leases.GetConnection();
                    {|#1:lease.Dispose()|};
                    return {|#0:lease.Database|};
                }
            }
        }
        """,
        Tdg004("'lease'", "is used at line 25 after it was released at line 24"));

    [Fact]
    public Task Close_then_Dispose_and_Close_twice_are_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Data;
        using MySqlConnector;

        class C
        {
            void M(string cs)
            {
                var conn = new MySqlConnection(cs);
                try
                {
                    conn.Open();
                    using (var cmd = new MySqlCommand("update a set b = 1", conn))
                    {
                        cmd.ExecuteNonQuery();
                    }

                    conn.Close();
                }
                finally
                {
                    if (conn.State == ConnectionState.Open)
                    {
                        conn.Close();
                    }

                    conn.Close();
                    conn.Dispose();
                }
            }
        }
        """);

    [Fact]
    public Task Using_declaration_with_an_early_Close_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        class C
        {
            long M(string cs)
            {
                using var conn = new MySqlConnection(cs);
                conn.Open();
                long count;
                using (var cmd = new MySqlCommand("select count(*) from a", conn))
                {
                    count = (long)cmd.ExecuteScalar()!;
                }

                // Give the connection back before the slow part; the using still covers every exception.
                conn.Close();
                return Crunch(count);
            }

            static long Crunch(long n) => n * 2;
        }
        """);

    [Fact]
    public Task State_ToString_and_GetHashCode_after_dispose_are_not_reported() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;
        using Prelude;

        class C
        {
            string M(string cs)
            {
                var conn = new MySqlConnection(cs);
                conn.Open();
                conn.Dispose();
                Log.Info(conn.GetHashCode().ToString());
                return conn.State + " " + conn.ToString();
            }
        }
        """);

    [Fact]
    public Task Equals_and_GetHashCode_a_connection_type_overrides_are_not_reported_after_release() => Verify.VerifyAnalyzerAsync("""
        using System;

        sealed class Conn : IDisposable
        {
            public int Execute(string sql) => 0;
            public void Dispose() { }
            public override bool Equals(object? other) => ReferenceEquals(this, other);
            public override int GetHashCode() => 1;
        }

        sealed class ConnPool
        {
            public Conn GetConnection() => new Conn();
        }

        class C
        {
            bool M(ConnPool pool, Conn? last)
            {
                var conn = pool.GetConnection();
                conn.Dispose();
                return conn.Equals(last) || conn.GetHashCode() == 0;
            }
        }
        """);

    [Fact]
    public Task Variable_set_to_null_after_release_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                PooledConnection? conn = pool.GetConnection();
                try
                {
                    conn.Execute("update a set b = 1");
                    conn.Release();
                    conn = null;
                    Log.Info("released early");
                }
                finally
                {
                    conn?.Release();
                }
            }
        }
        """);

    [Fact]
    public Task Released_flag_checked_in_finally_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                var conn = pool.GetConnection();
                var released = false;
                try
                {
                    conn.Execute("update a set b = 1");
                    conn.Release();
                    released = true;
                    Log.Info("released early");
                }
                finally
                {
                    if (!released)
                    {
                        conn.Release();
                    }
                }
            }
        }
        """);

    [Fact]
    public Task Flag_that_claims_a_release_that_did_not_happen_leaves_a_leak() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                var conn = {|#9:pool.GetConnection()|};
                var released = true;
                try
                {
                    conn.Execute("update a set b = 1");
                }
                finally
                {
                    if (!released)
                    {
                        conn.Release();
                    }
                }
            }
        }
        """, Verify.Diagnostic(Descriptors.ConnectionNotReleased).WithLocation(9).WithArguments("'conn'", "on the path that leaves the method after line 11"));

    [Fact]
    public Task Flag_changed_by_a_lambda_is_not_trusted() => Verify.VerifyAnalyzerAsync("""
        using System;
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                var conn = {|#9:pool.GetConnection()|};
                var released = false;
                Action forget = () => released = true;
                try
                {
                    conn.Execute("update a set b = 1");
                    {|#0:conn.Release()|};
                    released = true;
                    forget();
                }
                finally
                {
                    if (!released)
                    {
                        {|#1:conn.Release()|};
                    }
                }
            }
        }
        """,
        Verify.Diagnostic(Descriptors.ConnectionNotReleased).WithLocation(9).WithArguments("'conn'", "if an exception is thrown at line 13"),
        Tdg004("'conn'", "is released at line 14 and again in the 'finally' at line 22"));

    [Fact]
    public Task State_check_before_closing_a_disposed_connection_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Data;
        using MySqlConnector;
        using Prelude;

        class C
        {
            void M(string cs)
            {
                var conn = new MySqlConnection(cs);
                try
                {
                    conn.Open();
                    conn.Dispose();
                    Log.Info("done");
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
    public Task Awaited_release_in_try_and_in_catch_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task M(LeasePool pool)
            {
                var lease = await pool.GetConnectionAsync("t1");
                try
                {
                    await lease.ExecuteAsync("update a set b = 1");
                    await lease.DisposeAsync();
                }
                catch
                {
                    await lease.DisposeAsync();
                    throw;
                }
            }
        }
        """);

    [Fact]
    public Task Released_connection_handed_to_a_helper_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                var conn = pool.GetConnection();
                conn.Release();
                Audit(conn);
            }

            static void Audit(PooledConnection conn) { }
        }
        """);

    // ---------------------------------------------------------------- double release

    [Fact]
    public Task Release_twice_is_reported_on_the_second() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                var conn = pool.GetConnection();
                {|#1:conn.Release()|};
                {|#0:conn.Release()|};
            }
        }
        """,
        Tdg004("'conn'", "is released again at line 9 after it was released at line 8"));

    [Fact]
    public Task Dispose_after_dispose_is_reported() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        class C
        {
            void M(string cs)
            {
                var conn = new MySqlConnection(cs);
                try
                {
                    conn.Open();
                }
                finally
                {
                    {|#1:conn.Dispose()|};
                }

                {|#0:conn.Dispose()|};
            }
        }
        """,
        Tdg004("'conn'", "is released again at line 17 after it was released at line 14"));

    [Fact]
    public Task Using_lease_released_explicitly_is_reported() => Verify.VerifyAnalyzerAsync("""
        using Leasing;

        class C
        {
            void M(TenantLeases leases)
            {
                using (var {|#1:lease = leases.GetConnection("t1")|})
                {
                    lease.Connection.Ping();
                    {|#0:lease.Release()|};
                }
            }
        }
        """ + ReleasableLease,
        Tdg004("'lease'", "is released at line 10 and again by its 'using' at line 7"));

    [Fact]
    public Task Await_using_variable_disposed_explicitly_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task M(LeasePool pool)
            {
                await using var {|#1:lease = await pool.GetConnectionAsync("t1")|};
                await lease.ExecuteAsync("update a set b = 1");
                await {|#0:lease.DisposeAsync()|};
            }
        }
        """,
        Tdg004("'lease'", "is released at line 10 and again by its 'using' at line 8"));

    [Fact]
    public Task Using_connection_closed_then_disposed_explicitly_is_reported_on_the_Dispose() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        class C
        {
            void M(string cs)
            {
                using var {|#1:conn = new MySqlConnection(cs)|};
                conn.Open();
                conn.Close();
                {|#0:conn.Dispose()|};
            }
        }
        """,
        Tdg004("'conn'", "is released at line 10 and again by its 'using' at line 7"));

    [Theory]
    [InlineData("var released = false; var n = 0;", "released = true;")]
    [InlineData("var released = false; var n = 0;", "released |= true;")]
    [InlineData("var released = false; var n = 0;", "released ^= true;")]
    [InlineData("var released = false; var n = 0;", "released = true; released &= true;")]
    [InlineData("var released = false; var n = 0;", "released = true; released |= false;")]
    [InlineData("var released = false; var n = 0;", "released ^= true; released ^= false;")]
    [InlineData("var released = false; var n = 0;", "(released, n) = (true, n + 1);")]
    [InlineData("var released = false; var n = 0;", "(n, released) = (n, !false);")]
    [InlineData("var (released, n) = (false, 0);", "(released, n) = (true, n + 1);")]
    public Task A_flag_set_by_a_compound_assignment_or_a_deconstruction_keeps_the_finally_release_exact(string declare, string set) =>
        // The flag is true when the 'try' released the connection, so the 'finally' does not release it again; before
        // the release (an exception from 'Execute') it is false, and the 'finally' releases it. Nothing leaks or doubles.
        Verify.VerifyAnalyzerAsync(FlagGuardedRelease(declare, set, marked: false));

    [Theory]
    [InlineData("var released = false; var n = 0;", "released |= false;")]
    [InlineData("var released = false; var n = 0;", "released &= true;")]
    [InlineData("var released = false; var n = 0;", "released = true; released &= false;")]
    [InlineData("var released = false; var n = 0;", "released ^= true; released ^= true;")]
    [InlineData("var released = false; var n = 0;", "(released, n) = (false, n + 1);")]
    [InlineData("var (released, n) = (false, 0);", "(released, n) = (false, n + 1);")]
    public Task A_flag_that_a_compound_assignment_or_a_deconstruction_leaves_false_releases_again_in_finally(string declare, string set) =>
        Verify.VerifyAnalyzerAsync(
            FlagGuardedRelease(declare, set, marked: true),
            Tdg004("'conn'", "is released at line 12 and again in the 'finally' at line 17"));

    /// <summary>A release in a 'try' followed by <paramref name="set"/>, and 'if (!released)' a release in the 'finally'.</summary>
    private static string FlagGuardedRelease(string declare, string set, bool marked) => $$"""
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var conn = pool.GetConnection();
                {{declare}}
                try
                {
                    n = conn.Execute("select 1");
                    {{(marked ? "{|#0:conn.Release()|}" : "conn.Release()")}};
                    {{set}}
                }
                finally
                {
                    if (!released) {{(marked ? "{|#1:conn.Release()|}" : "conn.Release()")}};
                }

                return n;
            }
        }
        """;

    [Fact]
    public Task Release_in_catch_and_again_in_finally_is_reported_on_the_one_in_catch() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    conn.Execute("update a set b = 1");
                }
                catch (MySqlException)
                {
                    {|#0:conn.Release()|};
                    throw;
                }
                finally
                {
                    {|#1:conn.Release()|};
                }
            }
        }
        """,
        Tdg004("'conn'", "is released at line 15 and again in the 'finally' at line 20"));

    [Fact]
    public Task Release_by_a_helper_given_the_connection_after_other_arguments_names_that_argument() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;
        using Prelude;

        class C
        {
            static void Close(string reason, PooledConnection connection)
            {
                Log.Info(reason);
                connection.Release();
            }

            void M(Pool pool)
            {
                var conn = pool.GetConnection();
                var lease = conn;
                try
                {
                    lease.Execute("update a set b = 1");
                }
                catch (MySqlException)
                {
                    {|#0:Close("failed", lease)|};
                    throw;
                }
                finally
                {
                    {|#1:conn.Release()|};
                }
            }
        }
        """,
        Tdg004("'lease'", "is released at line 22 and again in the 'finally' at line 27"));

    [Fact]
    public Task Second_release_through_a_configured_method_is_reported() => Verify.VerifyAnalyzerWithEditorConfigAsync("""
        class Rental
        {
            public void Return() { }
        }

        class Shop
        {
            public Rental Rent() => new Rental();
        }

        class C
        {
            void M(Shop shop)
            {
                var rental = shop.Rent();
                {|#1:rental.Return()|};
                {|#0:rental.Return()|};
            }
        }
        """,
        "tenantdbguard.acquire_methods = Shop.Rent\ntenantdbguard.release_methods = Return",
        Tdg004("'rental'", "is released again at line 17 after it was released at line 16"));

    [Fact]
    public Task Release_on_both_branches_once_each_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool, bool fast)
            {
                var conn = pool.GetConnection();
                if (fast)
                {
                    conn.Release();
                }
                else
                {
                    conn.Release();
                }
            }
        }
        """);

    [Fact]
    public Task Using_connection_closed_early_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            async Task M(MySqlDataSource dataSource)
            {
                await using var conn = await dataSource.OpenConnectionAsync();
                await using (var cmd = new MySqlCommand("update a set b = 1", conn))
                {
                    await cmd.ExecuteNonQueryAsync();
                }

                await conn.CloseAsync();
            }
        }
        """);

    [Fact]
    public Task Release_of_a_second_acquisition_in_the_same_variable_is_not_reported() => Verify.VerifyAnalyzerAsync("""
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

    // ---------------------------------------------------------------- retry loops that replace the connection

    [Fact]
    public Task Retry_loop_that_disposes_in_catch_and_opens_a_new_connection_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Threading;
        using System.Threading.Tasks;
        using MySqlConnector;

        class JobQueue
        {
            async Task<int> MarkAsync(MySqlDataSource dataSource, CancellationToken ct)
            {
                var conn = await dataSource.OpenConnectionAsync(ct);
                try
                {
                    for (var attempt = 1; ; attempt++)
                    {
                        try
                        {
                            using var cmd = new MySqlCommand("update jobs set state = 1", conn);
                            return await cmd.ExecuteNonQueryAsync(ct);
                        }
                        catch (MySqlException) when (attempt < 3)
                        {
                            await conn.DisposeAsync();
                            await Task.Delay(100 * attempt, ct);
                            conn = await dataSource.OpenConnectionAsync(ct);
                        }
                    }
                }
                finally
                {
                    await conn.DisposeAsync();
                }
            }

            int Mark(string connectionString)
            {
                var conn = new MySqlConnection(connectionString);
                conn.Open();
                try
                {
                    while (true)
                    {
                        try
                        {
                            using var cmd = new MySqlCommand("update jobs set state = 1", conn);
                            return cmd.ExecuteNonQuery();
                        }
                        catch (MySqlException ex) when (ex.IsTransient)
                        {
                            conn.Dispose();
                            Thread.Sleep(100);
                            conn = new MySqlConnection(connectionString);
                            conn.Open();
                        }
                    }
                }
                finally
                {
                    conn.Dispose();
                }
            }
        }
        """);

    [Fact]
    public Task Retry_loop_that_releases_a_pooled_connection_twice_when_the_new_one_fails_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Threading;
        using Prelude;

        class JobQueue
        {
            int Mark(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    while (true)
                    {
                        try
                        {
                            return conn.Execute("update jobs set state = 1");
                        }
                        catch (TimeoutException)
                        {
                            {|#0:conn.Release()|};
                            Thread.Sleep(100);
                            conn = pool.GetConnection();
                        }
                    }
                }
                finally
                {
                    {|#1:conn.Release()|};
                }
            }
        }
        """,
        Tdg004("'conn'", "is released at line 20 and again in the 'finally' at line 28"));

    [Fact]
    public Task Use_through_a_member_of_a_holder_names_the_first_variable_that_held_the_connection() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        sealed record TenantScope(ConnectionLease Lease, string Tenant);

        class C
        {
            int M(LeasePool pool)
            {
                var lease = pool.GetConnection();
                var scope = new TenantScope(lease, "a");
                var again = scope;
                lease = null!;
                {|#1:again.Lease.Dispose()|};
                return {|#0:again.Lease.Execute("select 1")|};
            }
        }
        """,
        Verify.Diagnostic(Descriptors.ConnectionUsedAfterRelease).WithLocation(0).WithLocation(1).WithArguments("'scope'", "is used at line 14 after it was released at line 13"));

    [Fact]
    public Task A_filter_that_releases_and_declines_sends_the_exception_past_the_earlier_handlers() =>
        // The filter released the connection and said no: the exception goes on outwards. The handler above it had its
        // turn before the filter ran, so its release is not a second one.
        Verify.VerifyAnalyzerAsync("""
            using System;
            using Prelude;

            class C
            {
                int M(Pool pool)
                {
                    var conn = pool.GetConnection();
                    try
                    {
                        conn.Execute("a");
                    }
                    catch (TimeoutException)
                    {
                        conn.Release();
                        return 1;
                    }
                    catch (Exception e) when (Released(conn, e))
                    {
                        return 2;
                    }

                    conn.Release();
                    return 0;
                }

                static bool Released(PooledConnection c, Exception e)
                {
                    c.Release();
                    return e is null;
                }
            }
            """);

    // ---------------------------------------------------------------- calls that never return

    /// <summary>The code's own helpers that never return (and one that looks like it, without the attribute).</summary>
    private const string ThrowHelpers = """

        static class Throw
        {
            [System.Diagnostics.CodeAnalysis.DoesNotReturn]
            public static void Unsupported(string message) => throw new System.NotSupportedException(message);

            [System.Diagnostics.CodeAnalysis.DoesNotReturn]
            public static T Value<T>(string message) => throw new System.InvalidOperationException(message);

            public static void If([System.Diagnostics.CodeAnalysis.DoesNotReturnIf(true)] bool condition, string message)
            {
                if (condition) throw new System.InvalidOperationException(message);
            }

            public static void Unless([System.Diagnostics.CodeAnalysis.DoesNotReturnIf(false)] bool condition, string message)
            {
                if (!condition) throw new System.InvalidOperationException(message);
            }

            public static void WithoutAttribute(string message) => throw new System.NotSupportedException(message);
        }
        """;

    [Fact]
    public Task Rethrow_through_ExceptionDispatchInfo_after_the_release_in_catch_ends_the_path() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Runtime.ExceptionServices;
        using MySqlConnector;

        class C
        {
            void M(MySqlDataSource ds)
            {
                var c = ds.OpenConnection();
                try
                {
                    c.Ping();
                }
                catch (Exception ex)
                {
                    c.Dispose();
                    ExceptionDispatchInfo.Capture(ex).Throw();
                }

                c.Dispose();
            }
        }
        """);

    [Theory]
    [InlineData("Throw.Unsupported(\"legacy\");")]
    [InlineData("_ = Throw.Value<int>(\"legacy\");")]
    [InlineData("Throw.If(true, \"legacy\");")]
    [InlineData("Throw.Unless(false, \"legacy\");")]
    [InlineData("ExceptionDispatchInfo.Throw(new InvalidOperationException(\"legacy\"));")]
    [InlineData("ExceptionDispatchInfo.Capture(new InvalidOperationException(\"legacy\")).Throw();")]
    [InlineData("Environment.FailFast(\"legacy\");")]
    [InlineData("Prelude.ConnectionHelpers.Fail(\"legacy\");")]
    [InlineData("Fail(\"legacy\");")]
    public Task Guard_that_releases_then_calls_a_method_that_never_returns_is_not_reported(string call) => Verify.VerifyAnalyzerAsync($$"""
        using System;
        using System.Runtime.ExceptionServices;
        using MySqlConnector;

        class C
        {
            bool M(MySqlDataSource ds, bool legacy)
            {
                var c = ds.OpenConnection();
                if (legacy)
                {
                    c.Dispose();
                    {{call}}
                }

                using (c)
                {
                    return c.Ping();
                }

                [System.Diagnostics.CodeAnalysis.DoesNotReturn]
                static void Fail(string message) => throw new NotSupportedException(message);
            }
        }
        """ + ThrowHelpers);

    [Theory]
    [InlineData("Throw.WithoutAttribute(\"legacy\");")]
    [InlineData("Throw.If(false, \"legacy\");")]
    [InlineData("Throw.Unless(true, \"legacy\");")]
    [InlineData("Throw.If(legacy, \"legacy\") /* the condition is not a constant */;")]
    [InlineData("System.Diagnostics.Debug.Fail(\"legacy\");")]
    public Task Guard_that_releases_then_calls_a_method_that_may_return_is_reported(string call) => Verify.VerifyAnalyzerAsync($$"""
        using System;
        using MySqlConnector;

        class C
        {
            bool M(MySqlDataSource ds, bool legacy)
            {
                var c = ds.OpenConnection();
                if (legacy)
                {
                    {|#1:c.Dispose()|};
                    {{call}}
                }

                using ({|#2:c|})
                {
                    return {|#0:c.Ping()|};
                }
            }
        }
        """ + ThrowHelpers,
        Verify.Diagnostic(Descriptors.ConnectionUsedAfterRelease).WithLocation(2).WithLocation(1)
            .WithArguments("'c'", "is released again at line 15 after it was released at line 11"),
        Tdg004("'c'", "is used at line 17 after it was released at line 11"));

    [Fact]
    public Task Release_after_a_call_that_never_returns_on_the_same_path_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using MySqlConnector;

        class C
        {
            void M(MySqlDataSource ds, int kind)
            {
                var c = ds.OpenConnection();
                switch (kind)
                {
                    case 1:
                        break;
                    default:
                        c.Dispose();
                        Throw.Unsupported("kind");
                        c.Dispose();
                        break;
                }

                c.Dispose();
            }
        }
        """ + ThrowHelpers);

    // ---------------------------------------------------------------- reopened through a call after a Close

    /// <summary>The code's own helpers that open a closed connection again, and one that does not.</summary>
    private const string OpenHelpers = """

        static class DbExtensions
        {
            public static void EnsureOpen(this System.Data.Common.DbConnection connection)
            {
                if (connection.State != System.Data.ConnectionState.Open) connection.Open();
            }

            public static async System.Threading.Tasks.Task EnsureOpenAsync(this System.Data.Common.DbConnection connection)
            {
                if (connection.State != System.Data.ConnectionState.Open) await connection.OpenAsync();
            }

            public static void Prepare(System.Data.Common.DbConnection connection, string tenant)
            {
                System.Data.Common.DbConnection target = connection;
                if (tenant.Length > 0) EnsureOpen(target);
            }

            public static void Describe(this System.Data.Common.DbConnection connection) =>
                System.Console.WriteLine(connection.ConnectionString);
        }
        """;

    [Fact]
    public Task Connection_reopened_by_an_extension_method_of_the_code_after_Close_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Data;
        using System.Data.Common;
        using Dapper;
        using MySqlConnector;

        class C
        {
            int M(string cs)
            {
                using var c = new MySqlConnection(cs);
                c.Open();
                var ids = c.Query<long>("SELECT id FROM t").AsList();
                c.Close();
                c.EnsureOpen();
                using var tx = c.BeginTransaction();
                var n = c.Execute("UPDATE t SET seen = 1", transaction: tx);
                tx.Commit();
                return n + ids.Count;
            }
        }
        """ + OpenHelpers);

    [Theory]
    [InlineData("await c.EnsureOpenAsync();")]
    [InlineData("await DbExtensions.EnsureOpenAsync(c);")]
    [InlineData("DbExtensions.Prepare(c, \"t1\");")]
    [InlineData("Reopen();")]
    [InlineData("ReopenGiven(c);")]
    [InlineData("await ReopenAsync();")]
    [InlineData("Action reopen = () => c.Open(); reopen();")]
    [InlineData("await Retry(() => c.OpenAsync());")]
    [InlineData("Func<Task> reopen = () => c.OpenAsync(); await Retry(reopen);")]
    [InlineData("Prelude.ConnectionHelpers.EnsureOpen(c);")]
    [InlineData("c?.EnsureOpen();")]
    [InlineData("await (c?.EnsureOpenAsync() ?? Task.CompletedTask);")]
    [InlineData("c?.Open();")]
    [InlineData("if (c != null) c.EnsureOpen();")]
    public Task Connection_reopened_through_a_call_after_Close_is_not_reported(string reopen) => Verify.VerifyAnalyzerAsync($$"""
        using System;
        using System.Data;
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            async Task<string> M(string cs)
            {
                using var c = new MySqlConnection(cs);
                await c.OpenAsync();
                c.Close();
                {{reopen}}
                return c.ServerVersion;

                void Reopen() => c.Open();
                async Task ReopenAsync() => await c.OpenAsync();
            }

            static void ReopenGiven(MySqlConnection connection)
            {
                if (connection.State == ConnectionState.Closed)
                {
                    connection.Open();
                }
            }

            static Task Retry(Func<Task> action) => action();
        }
        """ + OpenHelpers);

    [Theory]
    [InlineData("c.Describe();")]
    [InlineData("Describe(c);")]
    [InlineData("_ = c.ExecuteScalar(\"SELECT 1\") /* Dapper opens and closes a closed connection */;")]
    [InlineData("Log.Info(c.ConnectionString);")]
    [InlineData("NotReopen();")]
    public Task Connection_used_after_Close_and_a_call_that_does_not_open_it_is_reported(string call) => Verify.VerifyAnalyzerAsync($$"""
        using System;
        using Dapper;
        using MySqlConnector;
        using Prelude;

        class C
        {
            string M(string cs)
            {
                using var c = new MySqlConnection(cs);
                c.Open();
                {|#1:c.Close()|};
                {{call}}
                return {|#0:c.ServerVersion|};

                void NotReopen() => Log.Info(c.Database);
            }

            static void Describe(MySqlConnection connection) => Log.Info(connection.Database);
        }
        """ + OpenHelpers,
        Tdg004("'c'", "is used at line 14 after it was closed at line 12"));

    [Fact]
    public Task Connection_disposed_then_reopened_through_a_helper_is_reported() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        class C
        {
            string M(string cs)
            {
                var c = new MySqlConnection(cs);
                c.Open();
                {|#1:c.Dispose()|};
                {|#0:c.EnsureOpen()|};
                return {|#2:c.ServerVersion|};
            }
        }
        """ + OpenHelpers,
        Tdg004("'c'", "is used at line 10 after it was released at line 9"),
        Verify.Diagnostic(Descriptors.ConnectionUsedAfterRelease).WithLocation(2).WithLocation(1)
            .WithArguments("'c'", "is used at line 11 after it was released at line 9"));

    /// <summary>
    /// A wrapper struct in a <c>Lease?</c>: asking the nullable whether it has a value after the release is no use of the
    /// connection; reaching the connection through <c>.Value</c> is.
    /// </summary>
    [Fact]
    public Task Nullable_wrapper_struct_read_after_its_release() => Verify.VerifyAnalyzerAsync("""
        using System;
        using MySqlConnector;

        readonly struct Lease : IDisposable
        {
            public Lease(MySqlConnection c) => Connection = c;

            public MySqlConnection Connection { get; }

            public void Dispose() => Connection.Dispose();
        }

        class C
        {
            bool Asked(MySqlDataSource ds)
            {
                Lease? lease = new Lease(ds.OpenConnection());
                lease.Value.Dispose();
                return lease.HasValue;
            }

            bool Used(MySqlDataSource ds)
            {
                Lease? lease = new Lease(ds.OpenConnection());
                {|#1:lease.Value.Dispose()|};
                return {|#0:lease.Value.Connection|}.Ping();
            }
        }
        """,
        Verify.Diagnostic(Descriptors.ConnectionUsedAfterRelease).WithLocation(0).WithLocation(1).WithArguments("'lease'", "is used at line 26 after it was released at line 25"));
}
