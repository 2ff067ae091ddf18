using Microsoft.CodeAnalysis;
using TenantDbGuard.Analyzers.Tests.FixExecution;
using TenantDbGuard.Analyzers.Tests.Verifiers;
using Verify = TenantDbGuard.Analyzers.Tests.Verifiers.CSharpCodeFixVerifier<
    TenantDbGuard.Analyzers.ConnectionLeakAnalyzer,
    TenantDbGuard.CodeFixes.ConnectionLeakCodeFixProvider>;

namespace TenantDbGuard.Analyzers.Tests;

[Collection(FixExecutionCollection.Name)]
public sealed class ConnectionLeakCodeFixTests
{
    private const string UseUsing = "TDG001.UseUsing";
    private const string ReleaseInFinally = "TDG001.ReleaseInFinally";
    private const string DisposeOnFailure = "TDG001.DisposeOnFailure";
    private const string ReleaseDiscarded = "TDG001.ReleaseDiscarded";

    // ---------------------------------------------------------------- released at the end without finally

    // Also in a file written with CRLF line ends (Windows, or git's autocrlf): the lines the fix writes end the same way,
    // whatever the machine the fix runs on.
    [Theory]
    [InlineData("\n")]
    [InlineData("\r\n")]
    [InlineData("\r")]
    public Task Pool_release_at_the_end_moves_into_finally(string lineEnd) => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                var rows = conn.Execute("delete from sessions");
                conn.Release();
                return rows;
            }
        }
        """.ReplaceLineEndings(lineEnd), """
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    var rows = conn.Execute("delete from sessions");
                    return rows;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """.ReplaceLineEndings(lineEnd));

    [Fact]
    public Task Pool_release_at_the_end_keeps_the_statements_after_it_outside_the_try() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                conn.Execute("delete from sessions");
                conn.Release();
                Log.Info("sessions purged");
            }
        }
        """, """
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    conn.Execute("delete from sessions");
                }
                finally
                {
                    conn.Release();
                }

                Log.Info("sessions purged");
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task Pool_async_release_at_the_end_moves_into_finally() => Verify.VerifyCodeFixAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> M(Pool pool)
            {
                var conn = await [|pool.GetConnectionAsync()|];
                var count = await conn.QueryFirstAsync<int>("select count(*) from tenants");
                conn.Release();
                return count;
            }
        }
        """, """
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> M(Pool pool)
            {
                var conn = await pool.GetConnectionAsync();
                try
                {
                    var count = await conn.QueryFirstAsync<int>("select count(*) from tenants");
                    return count;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """);

    [Fact]
    public Task Lease_disposed_async_at_the_end_becomes_await_using() => Verify.VerifyCodeFixAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task M(LeasePool pool)
            {
                var lease = await [|pool.GetConnectionAsync("tenant-1")|];
                await lease.ExecuteAsync("delete from sessions");
                await lease.DisposeAsync();
            }
        }
        """, """
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task M(LeasePool pool)
            {
                await using var lease = await pool.GetConnectionAsync("tenant-1");
                await lease.ExecuteAsync("delete from sessions");
            }
        }
        """);

    /// <summary>A connection opened in a constructor and given to a method of the type that only uses it.</summary>
    private const string OpenedInConstructor = """
        using MySqlConnector;

        class Sink
        {
            private readonly string _connectionString;
            private readonly string _tableName;

            public Sink(string connectionString, string tableName)
            {
                _connectionString = connectionString;
                _tableName        = tableName;

                var conn = new MySqlConnection(_connectionString);
                [|conn.Open()|];
                CreateTable(conn);
            }

            private void CreateTable(MySqlConnection conn)
            {
                using var command = conn.CreateCommand();
                command.CommandText = "create table if not exists " + _tableName + " (id int)";
                command.ExecuteNonQuery();
            }
        }
        """;

    [Fact]
    public Task Using_declaration_keeps_the_layout_of_the_other_statements_of_the_block() => Verify.VerifyCodeFixAsync(OpenedInConstructor, """
        using MySqlConnector;

        class Sink
        {
            private readonly string _connectionString;
            private readonly string _tableName;

            public Sink(string connectionString, string tableName)
            {
                _connectionString = connectionString;
                _tableName        = tableName;

                using var conn = new MySqlConnection(_connectionString);
                conn.Open();
                CreateTable(conn);
            }

            private void CreateTable(MySqlConnection conn)
            {
                using var command = conn.CreateCommand();
                command.CommandText = "create table if not exists " + _tableName + " (id int)";
                command.ExecuteNonQuery();
            }
        }
        """, UseUsing);

    /// <summary>
    /// The same code, as a diagnostic that says the connection may be handed off on a path the analyzer could not follow
    /// (a flag a virtual method set by reference): whether it was is unknown, so the fix adds no release of its own, for an
    /// opened connection as for one a call returned.
    /// </summary>
    [Fact]
    public Task Connection_the_analyzer_says_may_be_handed_off_gets_no_release_of_the_fix() =>
        NoFixVerifier.VerifyHandedOffAsync(OpenedInConstructor, ["Dispose on failure"]);

    [Fact]
    public Task Lease_disposed_async_at_the_end_can_be_released_in_finally_instead() => Verify.VerifyCodeFixAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task M(LeasePool pool)
            {
                var lease = await [|pool.GetConnectionAsync("tenant-1")|];
                await lease.ExecuteAsync("delete from sessions");
                await lease.DisposeAsync();
            }
        }
        """, """
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task M(LeasePool pool)
            {
                var lease = await pool.GetConnectionAsync("tenant-1");
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
        """, ReleaseInFinally);

    [Fact]
    public Task Lease_disposed_at_the_end_of_a_sync_method_becomes_using() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(LeasePool pool)
            {
                var lease = [|pool.GetConnection()|];
                var rows = lease.Execute("delete from sessions");
                lease.Dispose();
                return rows;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(LeasePool pool)
            {
                using var lease = pool.GetConnection();
                var rows = lease.Execute("delete from sessions");
                return rows;
            }
        }
        """, UseUsing);

    [Fact]
    public Task Lease_in_a_block_with_a_goto_after_it_gets_no_fix() => NoFixVerifier.VerifyAsync("""
        using Prelude;

        class C
        {
            int M(LeasePool pool, bool skip)
            {
                var lease = [|pool.GetConnection()|];
                var rows = 0;
                if (skip) goto done;
                rows = lease.Execute("delete from sessions");
            done:
                lease.Dispose();
                return rows;
            }
        }
        """);

    [Fact]
    public Task Lease_declared_after_a_goto_that_jumps_over_it_gets_no_using() => NoFixVerifier.VerifyOnlyAsync("""
        using Prelude;

        class C
        {
            int M(LeasePool pool, bool skip)
            {
                var rows = 0;
                if (skip) goto done;
                var lease = [|pool.GetConnection()|];
                try
                {
                    rows = lease.Execute("delete from sessions");
                }
                catch
                {
                    lease.Dispose();
                    throw;
                }

            done:
                return rows;
            }
        }
        """, ["Release in 'finally'", "Dispose on failure"]);

    [Fact]
    public Task Lease_disposed_inside_an_if_with_work_after_it_gets_no_using() => NoFixVerifier.VerifyOnlyAsync("""
        using Prelude;

        class C
        {
            int M(LeasePool pool)
            {
                var lease = [|pool.GetConnection()|];
                var rows = lease.Execute("delete from sessions");
                if (rows > 0)
                {
                    lease.Dispose();
                    Log.Info("deleted");
                }

                Log.Info("done");
                return rows;
            }
        }
        """, ["Release in 'finally'", "Dispose on failure"]);

    [Fact]
    public Task Lease_disposed_before_the_return_and_a_local_function_becomes_using() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(LeasePool pool)
            {
                var lease = [|pool.GetConnection()|];
                var rows = lease.Execute("delete from sessions");
                lease.Dispose();
                return Twice(rows);

                static int Twice(int n) => n * 2;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(LeasePool pool)
            {
                using var lease = pool.GetConnection();
                var rows = lease.Execute("delete from sessions");
                return Twice(rows);

                static int Twice(int n) => n * 2;
            }
        }
        """, UseUsing);

    [Fact]
    public Task Lease_disposed_at_the_end_of_a_sync_method_can_be_released_in_finally_instead() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(LeasePool pool)
            {
                var lease = [|pool.GetConnection()|];
                var rows = lease.Execute("delete from sessions");
                lease.Dispose();
                return rows;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(LeasePool pool)
            {
                var lease = pool.GetConnection();
                try
                {
                    var rows = lease.Execute("delete from sessions");
                    return rows;
                }
                finally
                {
                    lease.Dispose();
                }
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task MySqlConnection_opened_and_closed_becomes_using() => Verify.VerifyCodeFixAsync("""
        using MySqlConnector;

        class C
        {
            void M(string connectionString)
            {
                var conn = new MySqlConnection(connectionString);
                [|conn.Open()|];
                using var cmd = new MySqlCommand("delete from sessions", conn);
                cmd.ExecuteNonQuery();
                conn.Close();
            }
        }
        """, """
        using MySqlConnector;

        class C
        {
            void M(string connectionString)
            {
                using var conn = new MySqlConnection(connectionString);
                conn.Open();
                using var cmd = new MySqlCommand("delete from sessions", conn);
                cmd.ExecuteNonQuery();
            }
        }
        """);

    [Fact]
    public Task MySqlConnection_opened_and_closed_can_be_closed_in_finally_instead() => Verify.VerifyCodeFixAsync("""
        using MySqlConnector;

        class C
        {
            void M(string connectionString)
            {
                var conn = new MySqlConnection(connectionString);
                [|conn.Open()|];
                using var cmd = new MySqlCommand("delete from sessions", conn);
                cmd.ExecuteNonQuery();
                conn.Close();
            }
        }
        """, """
        using MySqlConnector;

        class C
        {
            void M(string connectionString)
            {
                var conn = new MySqlConnection(connectionString);
                conn.Open();
                try
                {
                    using var cmd = new MySqlCommand("delete from sessions", conn);
                    cmd.ExecuteNonQuery();
                }
                finally
                {
                    conn.Close();
                }
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task MySqlConnection_opened_async_and_closed_async_becomes_await_using() => Verify.VerifyCodeFixAsync("""
        using System.Threading.Tasks;
        using Dapper;
        using MySqlConnector;

        class C
        {
            async Task M(string connectionString)
            {
                var conn = new MySqlConnection(connectionString);
                await [|conn.OpenAsync()|];
                await conn.ExecuteAsync("delete from sessions");
                await conn.CloseAsync();
            }
        }
        """, """
        using System.Threading.Tasks;
        using Dapper;
        using MySqlConnector;

        class C
        {
            async Task M(string connectionString)
            {
                await using var conn = new MySqlConnection(connectionString);
                await conn.OpenAsync();
                await conn.ExecuteAsync("delete from sessions");
            }
        }
        """, UseUsing);

    [Fact]
    public Task MySqlConnection_opened_async_can_be_closed_async_in_finally_instead() => Verify.VerifyCodeFixAsync("""
        using System.Threading.Tasks;
        using Dapper;
        using MySqlConnector;

        class C
        {
            async Task M(string connectionString)
            {
                var conn = new MySqlConnection(connectionString);
                await [|conn.OpenAsync()|];
                await conn.ExecuteAsync("delete from sessions");
                await conn.CloseAsync();
            }
        }
        """, """
        using System.Threading.Tasks;
        using Dapper;
        using MySqlConnector;

        class C
        {
            async Task M(string connectionString)
            {
                var conn = new MySqlConnection(connectionString);
                await conn.OpenAsync();
                try
                {
                    await conn.ExecuteAsync("delete from sessions");
                }
                finally
                {
                    await conn.CloseAsync();
                }
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task DataSource_connection_with_ConfigureAwait_false_is_disposed_in_finally_with_ConfigureAwait_false() => Verify.VerifyCodeFixAsync("""
        using System.Threading.Tasks;
        using Dapper;
        using MySqlConnector;

        class C
        {
            async Task<int> M(MySqlDataSource dataSource)
            {
                var conn = await [|dataSource.OpenConnectionAsync()|].ConfigureAwait(false);
                var count = await conn.ExecuteScalarAsync<int>("select count(*) from tenants").ConfigureAwait(false);
                await conn.DisposeAsync().ConfigureAwait(false);
                return count;
            }
        }
        """, """
        using System.Threading.Tasks;
        using Dapper;
        using MySqlConnector;

        class C
        {
            async Task<int> M(MySqlDataSource dataSource)
            {
                var conn = await dataSource.OpenConnectionAsync().ConfigureAwait(false);
                try
                {
                    var count = await conn.ExecuteScalarAsync<int>("select count(*) from tenants").ConfigureAwait(false);
                    return count;
                }
                finally
                {
                    await conn.DisposeAsync().ConfigureAwait(false);
                }
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task DataSource_connection_never_disposed_gets_DisposeAsync_with_ConfigureAwait_false() => Verify.VerifyCodeFixAsync("""
        using System.Threading;
        using System.Threading.Tasks;
        using Dapper;
        using MySqlConnector;

        class C
        {
            async Task<int> M(MySqlDataSource dataSource, CancellationToken ct)
            {
                var conn = await [|dataSource.OpenConnectionAsync(ct)|].ConfigureAwait(false);
                return await conn.ExecuteScalarAsync<int>("select count(*) from tenants").ConfigureAwait(false);
            }
        }
        """, """
        using System.Threading;
        using System.Threading.Tasks;
        using Dapper;
        using MySqlConnector;

        class C
        {
            async Task<int> M(MySqlDataSource dataSource, CancellationToken ct)
            {
                var conn = await dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);
                try
                {
                    return await conn.ExecuteScalarAsync<int>("select count(*) from tenants").ConfigureAwait(false);
                }
                finally
                {
                    await conn.DisposeAsync().ConfigureAwait(false);
                }
            }
        }
        """, ReleaseInFinally);

    /// <summary>A call with one <c>false</c> argument that is not <c>ConfigureAwait</c> does not make the fix write one.</summary>
    [Fact]
    public Task DataSource_connection_in_code_without_ConfigureAwait_is_disposed_without_it() => Verify.VerifyCodeFixAsync("""
        using System;
        using System.Threading.Tasks;
        using Dapper;
        using MySqlConnector;

        class C
        {
            async Task<int> M(MySqlDataSource dataSource)
            {
                var conn = await [|dataSource.OpenConnectionAsync()|];
                Console.WriteLine(false);
                return await conn.ExecuteScalarAsync<int>("select count(*) from tenants");
            }
        }
        """, """
        using System;
        using System.Threading.Tasks;
        using Dapper;
        using MySqlConnector;

        class C
        {
            async Task<int> M(MySqlDataSource dataSource)
            {
                var conn = await dataSource.OpenConnectionAsync();
                try
                {
                    Console.WriteLine(false);
                    return await conn.ExecuteScalarAsync<int>("select count(*) from tenants");
                }
                finally
                {
                    await conn.DisposeAsync();
                }
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task DataSource_connection_with_ConfigureAwait_false_gets_no_await_using_as_its_first_fix() => Verify.VerifyCodeFixAsync("""
        using System.Threading.Tasks;
        using Dapper;
        using MySqlConnector;

        class C
        {
            async Task<int> M(MySqlDataSource dataSource)
            {
                var conn = await [|dataSource.OpenConnectionAsync()|].ConfigureAwait(false);
                var count = await conn.ExecuteScalarAsync<int>("select count(*) from tenants").ConfigureAwait(false);
                await conn.DisposeAsync().ConfigureAwait(false);
                return count;
            }
        }
        """, """
        using System.Threading.Tasks;
        using Dapper;
        using MySqlConnector;

        class C
        {
            async Task<int> M(MySqlDataSource dataSource)
            {
                var conn = await dataSource.OpenConnectionAsync().ConfigureAwait(false);
                try
                {
                    var count = await conn.ExecuteScalarAsync<int>("select count(*) from tenants").ConfigureAwait(false);
                    return count;
                }
                finally
                {
                    await conn.DisposeAsync().ConfigureAwait(false);
                }
            }
        }
        """);

    [Fact]
    public Task Release_under_a_null_check_at_the_end_moves_into_finally() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                conn.Execute("delete from sessions");
                if (conn != null)
                {
                    conn.Release();
                }
            }
        }
        """, """
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    conn.Execute("delete from sessions");
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """);

    [Fact]
    public Task Connection_assigned_to_an_existing_variable_is_released_in_finally() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                PooledConnection conn;
                conn = [|pool.GetConnection()|];
                conn.Execute("delete from sessions");
                conn.Release();
            }
        }
        """, """
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                PooledConnection conn;
                conn = pool.GetConnection();
                try
                {
                    conn.Execute("delete from sessions");
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """);

    // ---------------------------------------------------------------- early return, continue, break

    [Fact]
    public Task Early_return_before_release_is_fixed_with_finally() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool, bool dryRun)
            {
                var conn = [|pool.GetConnection()|];
                if (dryRun)
                {
                    return 0;
                }

                var rows = conn.Execute("delete from sessions");
                conn.Release();
                return rows;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(Pool pool, bool dryRun)
            {
                var conn = pool.GetConnection();
                try
                {
                    if (dryRun)
                    {
                        return 0;
                    }

                    var rows = conn.Execute("delete from sessions");
                    return rows;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """);

    [Fact]
    public Task Early_return_before_dispose_is_fixed_with_using() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(LeasePool pool, bool dryRun)
            {
                var lease = [|pool.GetConnection()|];
                if (dryRun)
                {
                    return 0;
                }

                var rows = lease.Execute("delete from sessions");
                lease.Dispose();
                return rows;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(LeasePool pool, bool dryRun)
            {
                using var lease = pool.GetConnection();
                if (dryRun)
                {
                    return 0;
                }

                var rows = lease.Execute("delete from sessions");
                return rows;
            }
        }
        """);

    [Fact]
    public Task Continue_before_release_is_fixed_with_finally_inside_the_loop() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool, string[] statements)
            {
                foreach (var sql in statements)
                {
                    var conn = [|pool.GetConnection()|];
                    if (sql.Length == 0)
                    {
                        continue;
                    }

                    conn.Execute(sql);
                    conn.Release();
                }
            }
        }
        """, """
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
    public Task Break_before_dispose_is_fixed_with_using_inside_the_loop() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            void M(LeasePool pool, string[] statements)
            {
                for (var i = 0; i < statements.Length; i++)
                {
                    var lease = [|pool.GetConnection()|];
                    if (statements[i] == "stop")
                    {
                        break;
                    }

                    lease.Execute(statements[i]);
                    lease.Dispose();
                }
            }
        }
        """, """
        using Prelude;

        class C
        {
            void M(LeasePool pool, string[] statements)
            {
                for (var i = 0; i < statements.Length; i++)
                {
                    using var lease = pool.GetConnection();
                    if (statements[i] == "stop")
                    {
                        break;
                    }

                    lease.Execute(statements[i]);
                }
            }
        }
        """);

    // The dispose a using replaces goes; the comments written at it stay, each on a line of its own.
    [Fact]
    public Task Comments_at_a_dispose_that_a_using_replaces_stay_above_what_follows() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(LeasePool pool, string sql)
            {
                var lease = [|pool.GetConnection()|];
                var rows = lease.Execute(sql);
                if (rows < 0)
                {
                    throw new System.ArgumentException(sql);
                }

                // done with it
                lease.Dispose(); // back to the pool before the caller runs
                return rows;
            }

            void N(LeasePool pool, bool skip)
            {
                var lease = [|pool.GetConnection()|];
                if (skip)
                {
                    return;
                }

                lease.Execute("select 1");
                lease.Dispose(); /* the last use */
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(LeasePool pool, string sql)
            {
                using var lease = pool.GetConnection();
                var rows = lease.Execute(sql);
                if (rows < 0)
                {
                    throw new System.ArgumentException(sql);
                }

                // done with it
                // back to the pool before the caller runs
                return rows;
            }

            void N(LeasePool pool, bool skip)
            {
                using var lease = pool.GetConnection();
                if (skip)
                {
                    return;
                }

                lease.Execute("select 1");
                /* the last use */
            }
        }
        """);

    // The release at the end moves into the finally with its comment; the one in the catch goes, and its own comment,
    // though the two calls read the same, stays where it was.
    [Fact]
    public Task A_comment_of_a_removed_release_stays_when_another_release_like_it_moves_into_the_finally() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool, bool skip)
            {
                var conn = [|pool.GetConnection()|];
                int rows;
                try
                {
                    rows = conn.Execute("select 1");
                }
                catch (System.InvalidOperationException)
                {
                    Log.Info("failed");
                    conn.Release(); // failed: give it back
                    throw;
                }

                if (skip)
                {
                    return 0;
                }

                conn.Release(); // normal path
                return rows;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(Pool pool, bool skip)
            {
                var conn = pool.GetConnection();
                try
                {
                    int rows;
                    try
                    {
                        rows = conn.Execute("select 1");
                    }
                    catch (System.InvalidOperationException)
                    {
                        Log.Info("failed");
                        // failed: give it back
                        throw;
                    }

                    if (skip)
                    {
                        return 0;
                    }

                    return rows;
                }
                finally
                {
                    conn.Release(); // normal path
                }
            }
        }
        """);

    [Fact]
    public Task Continue_before_an_existing_try_finally_is_wrapped_in_a_new_try() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool, string[] statements)
            {
                foreach (var sql in statements)
                {
                    var conn = [|pool.GetConnection()|];
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
        """, """
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
    public Task Throw_before_an_existing_try_finally_is_wrapped_in_a_new_try() => Verify.VerifyCodeFixAsync("""
        using System;
        using Prelude;

        class C
        {
            int M(Pool pool, int tenantId)
            {
                var conn = [|pool.GetConnection()|];
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
        """, """
        using System;
        using Prelude;

        class C
        {
            int M(Pool pool, int tenantId)
            {
                var conn = pool.GetConnection();
                try
                {
                    if (tenantId <= 0)
                    {
                        throw new ArgumentOutOfRangeException(nameof(tenantId));
                    }

                    return conn.Execute("select 1");
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """);

    // ---------------------------------------------------------------- catch and finally that do not release

    [Fact]
    public Task Release_only_in_catch_moves_into_finally_of_the_same_try() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
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
        """, """
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
    public Task Release_only_in_catch_MySqlException_keeps_the_comment_in_the_catch() => Verify.VerifyCodeFixAsync("""
        using MySqlConnector;
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                try
                {
                    conn.Execute("delete from sessions");
                }
                catch (MySqlException ex)
                {
                    Log.Info(ex.Message);

                    // The server may have dropped it.
                    conn.Release();
                    throw;
                }
            }
        }
        """, """
        using MySqlConnector;
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    conn.Execute("delete from sessions");
                }
                catch (MySqlException ex)
                {
                    Log.Info(ex.Message);

                    // The server may have dropped it.
                    throw;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """);

    [Fact]
    public Task Dispose_in_catch_MySqlException_and_at_the_end_becomes_await_using() => Verify.VerifyCodeFixAsync("""
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            async Task M(MySqlDataSource ds)
            {
                var conn = await [|ds.OpenConnectionAsync()|];
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
        """, """
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            async Task M(MySqlDataSource ds)
            {
                await using var conn = await ds.OpenConnectionAsync();
                using var cmd = new MySqlCommand("delete from sessions", conn);
                await cmd.ExecuteNonQueryAsync();
            }
        }
        """);

    [Fact]
    public Task Swallowing_catch_gets_a_finally() => Verify.VerifyCodeFixAsync("""
        using System;
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
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
        """, """
        using System;
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    conn.Execute("update tenants set seen = now()");
                }
                catch (Exception ex)
                {
                    Log.Info(ex.Message);
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """);

    [Fact]
    public Task Catch_that_returns_gets_a_finally() => Verify.VerifyCodeFixAsync("""
        using MySqlConnector;
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
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
        """, """
        using MySqlConnector;
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    var rows = conn.Execute("delete from sessions");
                    return rows;
                }
                catch (MySqlException)
                {
                    return -1;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """);

    [Fact]
    public Task Release_under_an_if_in_finally_becomes_unconditional() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool, bool release)
            {
                var conn = [|pool.GetConnection()|];
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
        """, """
        using Prelude;

        class C
        {
            int M(Pool pool, bool release)
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
    public Task Dispose_under_an_if_in_finally_of_a_lease_becomes_using() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(LeasePool pool, bool release)
            {
                var lease = [|pool.GetConnection()|];
                try
                {
                    return lease.Execute("select 1");
                }
                finally
                {
                    if (release)
                    {
                        lease.Dispose();
                    }
                }
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(LeasePool pool, bool release)
            {
                using var lease = pool.GetConnection();
                return lease.Execute("select 1");
            }
        }
        """, UseUsing);

    [Fact]
    public Task Empty_finally_gets_the_release() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                try
                {
                    conn.Execute("update tenants set seen = now()");
                }
                finally
                {
                }
            }
        }
        """, """
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    conn.Execute("update tenants set seen = now()");
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """);

    [Fact]
    public Task Empty_finally_followed_by_the_release_is_wrapped_in_a_new_try() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
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
        """, """
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    try
                    {
                        conn.Execute("update tenants set seen = now()");
                    }
                    finally
                    {
                    }
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """);

    // ---------------------------------------------------------------- two connections, overwritten variables

    [Fact]
    public Task Second_acquisition_before_the_try_goes_inside_a_try_for_the_first() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool live, Pool archive)
            {
                var current = [|live.GetConnection()|];
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
        """, """
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
    public Task Fix_All_releases_two_connections_acquired_before_a_try_that_only_releases_in_catch_and_keeps_its_comment() => Verify.VerifyFixAllAsync(
        new[]
        {
            """
            using MySqlConnector;
            using Prelude;

            class C
            {
                void M(Pool pool)
                {
                    var a = [|pool.GetConnection()|];
                    var b = [|pool.GetConnection()|];
                    try
                    {
                        a.Execute("delete from sessions");
                        b.Execute("delete from audit");
                    }
                    catch (MySqlException)
                    {
                        // Give them back.
                        a.Release();
                        b.Release();
                        throw;
                    }
                }
            }
            """,
        },
        new[]
        {
            """
            using MySqlConnector;
            using Prelude;

            class C
            {
                void M(Pool pool)
                {
                    var a = pool.GetConnection();
                    try
                    {
                        var b = pool.GetConnection();
                        try
                        {
                            a.Execute("delete from sessions");
                            b.Execute("delete from audit");
                        }
                        catch (MySqlException)
                        {
                            // Give them back.
                            throw;
                        }
                        finally
                        {
                            b.Release();
                        }
                    }
                    finally
                    {
                        a.Release();
                    }
                }
            }
            """,
        });

    [Fact]
    public Task Fix_All_gives_two_data_source_connections_in_one_method_their_own_finally() => Verify.VerifyFixAllAsync(
        new[]
        {
            """
            using System.Threading.Tasks;
            using MySqlConnector;

            class C
            {
                async Task M(MySqlDataSource ds)
                {
                    var conn = await [|ds.OpenConnectionAsync()|];
                    var conn2 = await [|ds.OpenConnectionAsync()|];
                    await conn.PingAsync();
                    await conn2.PingAsync();
                    conn.Dispose();
                    conn2.Dispose();
                }
            }
            """,
        },
        new[]
        {
            """
            using System.Threading.Tasks;
            using MySqlConnector;

            class C
            {
                async Task M(MySqlDataSource ds)
                {
                    var conn = await ds.OpenConnectionAsync();
                    try
                    {
                        var conn2 = await ds.OpenConnectionAsync();
                        try
                        {
                            await conn.PingAsync();
                            await conn2.PingAsync();
                        }
                        finally
                        {
                            conn2.Dispose();
                        }
                    }
                    finally
                    {
                        conn.Dispose();
                    }
                }
            }
            """,
        },
        ReleaseInFinally);

    [Fact]
    public Task Fix_All_turns_two_leases_in_one_method_into_using_declarations() => Verify.VerifyFixAllAsync(
        new[]
        {
            """
            using Prelude;

            class C
            {
                int M(LeasePool pool)
                {
                    var primary = [|pool.GetConnection()|];
                    var replica = [|pool.GetConnection()|];
                    return primary.Execute("select 1") + replica.Execute("select 1");
                }
            }
            """,
        },
        new[]
        {
            """
            using Prelude;

            class C
            {
                int M(LeasePool pool)
                {
                    using var primary = pool.GetConnection();
                    using var replica = pool.GetConnection();
                    return primary.Execute("select 1") + replica.Execute("select 1");
                }
            }
            """,
        });

    [Fact]
    public Task Fix_All_gives_two_leases_in_one_statement_their_own_using_locals() => Verify.VerifyFixAllAsync(
        new[]
        {
            """
            using Prelude;

            class C
            {
                int M(LeasePool pool)
                {
                    var total = [|pool.GetConnection()|].Execute("select 1") + [|pool.GetConnection()|].Execute("select 2");
                    return total;
                }
            }
            """,
        },
        new[]
        {
            """
            using Prelude;

            class C
            {
                int M(LeasePool pool)
                {
                    using var connection = pool.GetConnection();
                    using var connection2 = pool.GetConnection();
                    var total = connection.Execute("select 1") + connection2.Execute("select 2");
                    return total;
                }
            }
            """,
        });

    [Fact]
    public Task Fix_All_gives_two_pool_connections_in_one_statement_nested_finally_blocks() => Verify.VerifyFixAllAsync(
        new[]
        {
            """
            using Prelude;

            class C
            {
                void M(Pool pool)
                {
                    Log.Info([|pool.GetConnection()|].Inner.Database + [|pool.GetConnection()|].Inner.Database);
                }
            }
            """,
        },
        new[]
        {
            """
            using Prelude;

            class C
            {
                void M(Pool pool)
                {
                    var connection = pool.GetConnection();
                    try
                    {
                        var connection2 = pool.GetConnection();
                        try
                        {
                            Log.Info(connection.Inner.Database + connection2.Inner.Database);
                        }
                        finally
                        {
                            connection2.Release();
                        }
                    }
                    finally
                    {
                        connection.Release();
                    }
                }
            }
            """,
        });

    [Fact]
    public Task Overwritten_variable_is_released_before_it_is_overwritten() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool primary, Pool replica)
            {
                var conn = [|primary.GetConnection()|];
                conn.Execute("set @checked = 1");
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
        """, """
        using Prelude;

        class C
        {
            int M(Pool primary, Pool replica)
            {
                var conn = primary.GetConnection();
                try
                {
                    conn.Execute("set @checked = 1");
                }
                finally
                {
                    conn.Release();
                }

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
        """);

    // ---------------------------------------------------------------- connections handed to the caller

    [Fact]
    public Task Overwritten_lease_is_disposed_before_it_is_overwritten() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(LeasePool pool)
            {
                var lease = [|pool.GetConnection()|];
                lease.Execute("set @checked = 1");
                lease = pool.GetConnection();
                using (lease)
                {
                    return lease.Execute("select 1");
                }
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(LeasePool pool)
            {
                var lease = pool.GetConnection();
                try
                {
                    lease.Execute("set @checked = 1");
                }
                finally
                {
                    lease.Dispose();
                }

                lease = pool.GetConnection();
                using (lease)
                {
                    return lease.Execute("select 1");
                }
            }
        }
        """);

    [Fact]
    public Task Acquisition_in_a_loop_released_once_after_it_is_released_in_each_iteration_only() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool, string[] tenants)
            {
                PooledConnection conn = null;
                foreach (var tenant in tenants)
                {
                    conn = [|pool.GetConnection()|];
                    conn.Execute("use " + tenant);
                }

                conn?.Release();
            }
        }
        """, """
        using Prelude;

        class C
        {
            void M(Pool pool, string[] tenants)
            {
                PooledConnection conn = null;
                foreach (var tenant in tenants)
                {
                    conn = pool.GetConnection();
                    try
                    {
                        conn.Execute("use " + tenant);
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
    public Task Release_through_a_pool_method_taking_the_connection_moves_into_finally() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        sealed class TenantPool
        {
            private readonly Pool _pool = new Pool();

            public PooledConnection GetConnection() => _pool.GetConnection();

            public void Release(PooledConnection connection) => connection.Release();
        }

        class C
        {
            void M(TenantPool pool)
            {
                var conn = [|pool.GetConnection()|];
                conn.Execute("delete from sessions");
                pool.Release(conn);
            }
        }
        """, """
        using Prelude;

        sealed class TenantPool
        {
            private readonly Pool _pool = new Pool();

            public PooledConnection GetConnection() => _pool.GetConnection();

            public void Release(PooledConnection connection) => connection.Release();
        }

        class C
        {
            void M(TenantPool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    conn.Execute("delete from sessions");
                }
                finally
                {
                    pool.Release(conn);
                }
            }
        }
        """);

    [Fact]
    public Task Configured_release_method_at_the_end_moves_into_finally() => Verify.VerifyCodeFixWithEditorConfigAsync("""
        using Prelude;

        static class PoolExtensions
        {
            public static void GiveBack(this PooledConnection connection) => connection.Release();
        }

        class C
        {
            int M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                var rows = conn.Execute("delete from sessions");
                conn.GiveBack();
                return rows;
            }
        }
        """, """
        using Prelude;

        static class PoolExtensions
        {
            public static void GiveBack(this PooledConnection connection) => connection.Release();
        }

        class C
        {
            int M(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    var rows = conn.Execute("delete from sessions");
                    return rows;
                }
                finally
                {
                    conn.GiveBack();
                }
            }
        }
        """, "tenantdbguard.release_methods = GiveBack\n");

    [Fact]
    public Task Connection_with_only_a_configured_release_method_is_returned_in_finally() => Verify.VerifyCodeFixWithEditorConfigAsync("""
        using Prelude;

        sealed class LegacyConnection
        {
            private readonly PooledConnection _inner = new Pool().GetConnection();

            public int Execute(string sql) => _inner.Execute(sql);
            public void Return() => _inner.Release();
        }

        sealed class LegacyPool
        {
            public LegacyConnection Rent(string tenant) => new LegacyConnection();
        }

        class C
        {
            void M(LegacyPool pool)
            {
                var conn = [|pool.Rent("tenant-1")|];
                conn.Execute("delete from queue where done = 1");
                conn.Return();
            }
        }
        """, """
        using Prelude;

        sealed class LegacyConnection
        {
            private readonly PooledConnection _inner = new Pool().GetConnection();

            public int Execute(string sql) => _inner.Execute(sql);
            public void Return() => _inner.Release();
        }

        sealed class LegacyPool
        {
            public LegacyConnection Rent(string tenant) => new LegacyConnection();
        }

        class C
        {
            void M(LegacyPool pool)
            {
                var conn = pool.Rent("tenant-1");
                try
                {
                    conn.Execute("delete from queue where done = 1");
                }
                finally
                {
                    conn.Return();
                }
            }
        }
        """, "tenantdbguard.acquire_methods = LegacyPool.Rent\ntenantdbguard.release_methods = Return\n");

    [Fact]
    public Task Configured_acquire_method_gets_a_using() => Verify.VerifyCodeFixWithEditorConfigAsync("""
        using System;
        using Prelude;

        sealed class Handle : IDisposable
        {
            private readonly PooledConnection _connection = new Pool().GetConnection();

            public void Work() => _connection.Execute("select 1");
            public void Dispose() => _connection.Release();
        }

        sealed class Renter
        {
            public Handle Rent() => new Handle();
        }

        class C
        {
            void M(Renter renter)
            {
                var handle = [|renter.Rent()|];
                handle.Work();
            }
        }
        """, """
        using System;
        using Prelude;

        sealed class Handle : IDisposable
        {
            private readonly PooledConnection _connection = new Pool().GetConnection();

            public void Work() => _connection.Execute("select 1");
            public void Dispose() => _connection.Release();
        }

        sealed class Renter
        {
            public Handle Rent() => new Handle();
        }

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
    public Task Factory_that_opens_async_then_runs_a_command_disposes_on_failure() => Verify.VerifyCodeFixAsync("""
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            async Task<MySqlConnection> OpenAsync(string connectionString)
            {
                var conn = new MySqlConnection(connectionString);
                await [|conn.OpenAsync()|];
                using var cmd = new MySqlCommand("SET time_zone = '+00:00'", conn);
                await cmd.ExecuteNonQueryAsync();
                return conn;
            }
        }
        """, """
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            async Task<MySqlConnection> OpenAsync(string connectionString)
            {
                var conn = new MySqlConnection(connectionString);
                try
                {
                    await conn.OpenAsync();
                    using var cmd = new MySqlCommand("SET time_zone = '+00:00'", conn);
                    await cmd.ExecuteNonQueryAsync();
                    return conn;
                }
                catch
                {
                    await conn.DisposeAsync();
                    throw;
                }
            }
        }
        """, DisposeOnFailure);

    [Fact]
    public Task Sync_factory_that_opens_then_runs_a_command_disposes_on_failure() => Verify.VerifyCodeFixAsync("""
        using MySqlConnector;

        class C
        {
            MySqlConnection Open(string connectionString)
            {
                var conn = new MySqlConnection(connectionString);
                [|conn.Open()|];
                using var cmd = new MySqlCommand("SET time_zone = '+00:00'", conn);
                cmd.ExecuteNonQuery();
                return conn;
            }
        }
        """, """
        using MySqlConnector;

        class C
        {
            MySqlConnection Open(string connectionString)
            {
                var conn = new MySqlConnection(connectionString);
                try
                {
                    conn.Open();
                    using var cmd = new MySqlCommand("SET time_zone = '+00:00'", conn);
                    cmd.ExecuteNonQuery();
                    return conn;
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
    public Task Pool_factory_that_runs_a_setup_command_releases_on_failure() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            PooledConnection Rent(Pool pool, string tenant)
            {
                var conn = [|pool.GetConnection()|];
                conn.Execute("use " + tenant);
                return conn;
            }
        }
        """, """
        using Prelude;

        class C
        {
            PooledConnection Rent(Pool pool, string tenant)
            {
                var conn = pool.GetConnection();
                try
                {
                    conn.Execute("use " + tenant);
                    return conn;
                }
                catch
                {
                    conn.Release();
                    throw;
                }
            }
        }
        """);

    [Fact]
    public Task Data_source_factory_with_ConfigureAwait_false_disposes_on_failure_with_ConfigureAwait_false() => Verify.VerifyCodeFixAsync("""
        using System.Threading.Tasks;
        using Dapper;
        using MySqlConnector;

        class C
        {
            async Task<MySqlConnection> OpenTenantAsync(MySqlDataSource dataSource, string tenant)
            {
                var conn = await [|dataSource.OpenConnectionAsync()|].ConfigureAwait(false);
                await conn.ExecuteAsync("use " + tenant).ConfigureAwait(false);
                return conn;
            }
        }
        """, """
        using System.Threading.Tasks;
        using Dapper;
        using MySqlConnector;

        class C
        {
            async Task<MySqlConnection> OpenTenantAsync(MySqlDataSource dataSource, string tenant)
            {
                var conn = await dataSource.OpenConnectionAsync().ConfigureAwait(false);
                try
                {
                    await conn.ExecuteAsync("use " + tenant).ConfigureAwait(false);
                    return conn;
                }
                catch
                {
                    await conn.DisposeAsync().ConfigureAwait(false);
                    throw;
                }
            }
        }
        """);

    // ---------------------------------------------------------------- discarded results

    [Fact]
    public Task Factory_with_an_early_return_that_keeps_the_connection_releases_it_there_too() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            PooledConnection Rent(Pool pool, string tenant)
            {
                var conn = [|pool.GetConnection()|];
                if (tenant.Length == 0)
                {
                    return null;
                }

                conn.Execute("use " + tenant);
                return conn;
            }
        }
        """, """
        using Prelude;

        class C
        {
            PooledConnection Rent(Pool pool, string tenant)
            {
                var conn = pool.GetConnection();
                try
                {
                    if (tenant.Length == 0)
                    {
                        conn.Release();
                        return null;
                    }

                    conn.Execute("use " + tenant);
                    return conn;
                }
                catch
                {
                    conn.Release();
                    throw;
                }
            }
        }
        """);

    [Fact]
    public Task Connection_stored_in_a_field_by_a_constructor_is_released_on_failure() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        sealed class Session
        {
            private readonly PooledConnection _conn;

            public Session(Pool pool, string tenant)
            {
                var conn = [|pool.GetConnection()|];
                conn.Execute("use " + tenant);
                _conn = conn;
            }
        }
        """, """
        using Prelude;

        sealed class Session
        {
            private readonly PooledConnection _conn;

            public Session(Pool pool, string tenant)
            {
                var conn = pool.GetConnection();
                try
                {
                    conn.Execute("use " + tenant);
                }
                catch
                {
                    conn.Release();
                    throw;
                }

                _conn = conn;
            }
        }
        """);

    [Fact]
    public Task Iterator_that_yields_the_connection_releases_on_failure_outside_the_yield() => Verify.VerifyCodeFixAsync("""
        using System.Collections.Generic;
        using Prelude;

        class C
        {
            IEnumerable<PooledConnection> Rent(Pool pool, string[] tenants)
            {
                foreach (var tenant in tenants)
                {
                    var conn = [|pool.GetConnection()|];
                    conn.Execute("use " + tenant);
                    yield return conn;
                }
            }
        }
        """, """
        using System.Collections.Generic;
        using Prelude;

        class C
        {
            IEnumerable<PooledConnection> Rent(Pool pool, string[] tenants)
            {
                foreach (var tenant in tenants)
                {
                    var conn = pool.GetConnection();
                    try
                    {
                        conn.Execute("use " + tenant);
                    }
                    catch
                    {
                        conn.Release();
                        throw;
                    }

                    yield return conn;
                }
            }
        }
        """);

    [Fact]
    public Task Discarded_pool_connection_is_released() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                // Warm the pool up.
                [|pool.GetConnection()|];
                Log.Info("warm");
            }
        }
        """, """
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                // Warm the pool up.
                pool.GetConnection().Release();
                Log.Info("warm");
            }
        }
        """);

    // An async lambda that returns a plain Task drops the value of its body: the connection it awaits is discarded,
    // not returned (a lambda that returns a Task of the connection hands it to its caller).
    [Fact]
    public Task Connection_awaited_as_the_body_of_an_async_lambda_that_returns_a_plain_task_is_released() => Verify.VerifyCodeFixAsync("""
        using System;
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            Func<Task> M(Pool pool) => async () => await [|pool.GetConnectionAsync()|];
        }
        """, """
        using System;
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            Func<Task> M(Pool pool) => async () => (await pool.GetConnectionAsync()).Release();
        }
        """);

    // A type that is disposable but has a release of its own: the discarded value is given back with that release,
    // not disposed by a using.
    [Fact]
    public Task Discarded_connection_of_a_disposable_type_with_its_own_release_is_released_with_it()
    {
        const string Types = """
            using System;
            using Prelude;

            sealed class Lease : IDisposable
            {
                private readonly PooledConnection _inner = new Pool().GetConnection();

                public void Release() => _inner.Release();
                public void Dispose() => _inner.Release();
            }

            sealed class Leases
            {
                public Lease Rent() => new Lease();
            }


            """;
        return Verify.VerifyCodeFixWithEditorConfigAsync(Types + """
            class C
            {
                void M(Leases leases)
                {
                    _ = [|leases.Rent()|];
                }
            }
            """, Types + """
            class C
            {
                void M(Leases leases)
                {
                    leases.Rent().Release();
                }
            }
            """, "tenantdbguard.acquire_methods = Leases.Rent\n");
    }

    // 'conn' in a local function is that function's parameter: its release is not the local's, and stays where it is.
    [Fact]
    public Task A_release_of_a_local_function_s_parameter_of_the_same_name_is_not_the_local_s() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                var rows = conn.Execute("delete from sessions");
                Finish(pool.GetConnection());
                return rows;

                static void Finish(PooledConnection conn) => conn.Release();
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    var rows = conn.Execute("delete from sessions");
                    Finish(pool.GetConnection());
                    return rows;
                }
                finally
                {
                    conn.Release();
                }

                static void Finish(PooledConnection conn) => conn.Release();
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task Discard_assignment_of_a_pool_connection_is_released() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                _ = [|pool.GetConnection()|];
            }
        }
        """, """
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                pool.GetConnection().Release();
            }
        }
        """);

    [Fact]
    public Task Discard_assignment_of_a_lease_becomes_a_using_statement() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            void M(LeasePool pool)
            {
                _ = [|pool.GetConnection()|];
                Log.Info("checked");
            }
        }
        """, """
        using Prelude;

        class C
        {
            void M(LeasePool pool)
            {
                using (pool.GetConnection())
                {
                }
                Log.Info("checked");
            }
        }
        """, ReleaseDiscarded);

    [Fact]
    public Task Discarded_await_of_a_pool_connection_is_released() => Verify.VerifyCodeFixAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task M(Pool pool)
            {
                await [|pool.GetConnectionAsync()|];
            }
        }
        """, """
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task M(Pool pool)
            {
                (await pool.GetConnectionAsync()).Release();
            }
        }
        """);

    [Fact]
    public Task Discarded_await_of_a_lease_with_ConfigureAwait_false_is_disposed_with_ConfigureAwait_false() => Verify.VerifyCodeFixAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task M(LeasePool pool)
            {
                await [|pool.GetConnectionAsync("tenant-1")|].ConfigureAwait(false);
            }
        }
        """, """
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task M(LeasePool pool)
            {
                await (await pool.GetConnectionAsync("tenant-1").ConfigureAwait(false)).DisposeAsync().ConfigureAwait(false);
            }
        }
        """);

    [Fact]
    public Task Discarded_data_source_connection_becomes_a_using_statement() => Verify.VerifyCodeFixAsync("""
        using MySqlConnector;

        class C
        {
            void M(MySqlDataSource dataSource)
            {
                [|dataSource.OpenConnection()|];
            }
        }
        """, """
        using MySqlConnector;

        class C
        {
            void M(MySqlDataSource dataSource)
            {
                using (dataSource.OpenConnection())
                {
                }
            }
        }
        """);

    [Fact]
    public Task Acquisition_inside_a_larger_expression_gets_a_local_released_in_finally() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                Log.Info([|pool.GetConnection()|].Inner.Database);
            }
        }
        """, """
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                var connection = pool.GetConnection();
                try
                {
                    Log.Info(connection.Inner.Database);
                }
                finally
                {
                    connection.Release();
                }
            }
        }
        """);

    [Fact]
    public Task Lease_inside_a_larger_expression_gets_a_using_local() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(LeasePool pool)
            {
                var rows = [|pool.GetConnection()|].Execute("delete from sessions");
                return rows;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(LeasePool pool)
            {
                using var connection = pool.GetConnection();
                var rows = connection.Execute("delete from sessions");
                return rows;
            }
        }
        """);

    [Fact]
    public Task Local_declared_from_a_larger_expression_stays_visible_after_the_fix() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                var database = [|pool.GetConnection()|].Inner.Database;
                Log.Info(database);
            }
        }
        """, """
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                var connection = pool.GetConnection();
                try
                {
                    var database = connection.Inner.Database;
                    Log.Info(database);
                }
                finally
                {
                    connection.Release();
                }
            }
        }
        """);

    [Fact]
    public Task Introduced_local_gets_a_name_that_is_not_taken() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(LeasePool pool, string connection)
            {
                return [|pool.GetConnection()|].Execute(connection);
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(LeasePool pool, string connection)
            {
                using var connection2 = pool.GetConnection();
                return connection2.Execute(connection);
            }
        }
        """);

    [Fact]
    public Task Awaited_lease_inside_a_larger_expression_gets_an_await_using_local_with_its_parentheses() => Verify.VerifyCodeFixAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task M(LeasePool pool)
            {
                await (await [|pool.GetConnectionAsync("tenant-1")|]).ExecuteAsync("delete from sessions");
            }
        }
        """, """
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task M(LeasePool pool)
            {
                await using var connection = await pool.GetConnectionAsync("tenant-1");
                await connection.ExecuteAsync("delete from sessions");
            }
        }
        """);

    [Fact]
    public Task Acquisition_evaluated_only_under_a_condition_is_not_moved_in_front_of_it()
    {
        // Hoisting the call out of `enabled && ...` would take a connection even when the feature is off.
        const string source = """
            using Prelude;

            class C
            {
                void M(LeasePool pool, bool enabled)
                {
                    if (enabled && [|pool.GetConnection()|].Execute("select 1") > 0)
                    {
                        Log.Info("up");
                    }
                }
            }
            """;
        return Verify.VerifyCodeFixAsync(source, source);
    }

    [Fact]
    public Task Acquisition_in_an_embedded_statement_gets_a_block() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool, bool verbose)
            {
                if (verbose)
                    Log.Info([|pool.GetConnection()|].Inner.Database);
            }
        }
        """, """
        using Prelude;

        class C
        {
            void M(Pool pool, bool verbose)
            {
                if (verbose)
                {
                    var connection = pool.GetConnection();
                    try
                    {
                        Log.Info(connection.Inner.Database);
                    }
                    finally
                    {
                        connection.Release();
                    }
                }
            }
        }
        """);

    // ---------------------------------------------------------------- comments and blank lines

    [Fact]
    public Task Acquisition_in_an_expression_bodied_lambda_is_fixed_inside_the_lambda() => Verify.VerifyCodeFixAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            Task<int> M(Pool pool)
            {
                return Task.Run(() => [|pool.GetConnection()|].Execute("delete from sessions"));
            }
        }
        """, """
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            Task<int> M(Pool pool)
            {
                return Task.Run(() =>
                {
                    var connection = pool.GetConnection();
                    try
                    {
                        return connection.Execute("delete from sessions");
                    }
                    finally
                    {
                        connection.Release();
                    }
                });
            }
        }
        """);

    [Fact]
    public Task Discarded_result_in_an_expression_bodied_lambda_is_released_inside_the_lambda() => Verify.VerifyCodeFixAsync("""
        using System;
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                Action warmUp = () => [|pool.GetConnection()|];
                warmUp();
            }
        }
        """, """
        using System;
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                Action warmUp = () => pool.GetConnection().Release();
                warmUp();
            }
        }
        """);

    [Fact]
    public Task Leak_in_top_level_statements_is_released_in_finally()
    {
        var test = Verify.CreateTest("""
            using Prelude;

            var pool = new Pool();
            var conn = [|pool.GetConnection()|];
            conn.Execute("select 1");
            """, """
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
        test.FixedState.OutputKind = OutputKind.ConsoleApplication;
        return test.RunAsync();
    }

    [Fact]
    public Task Comments_and_blank_lines_are_kept_when_the_release_moves_into_finally() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                // Borrow a connection for the cleanup.
                var conn = [|pool.GetConnection()|];

                // Stale sessions first.
                conn.Execute("delete from sessions"); // may take a while

                /* then the audit trail */
                conn.Execute("delete from audit");
                conn.Release();
            }
        }
        """, """
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                // Borrow a connection for the cleanup.
                var conn = pool.GetConnection();

                try
                {
                    // Stale sessions first.
                    conn.Execute("delete from sessions"); // may take a while

                    /* then the audit trail */
                    conn.Execute("delete from audit");
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """);

    [Fact]
    public Task Comment_above_a_release_that_moves_into_finally_is_kept() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                conn.Execute("delete from sessions");
                // Back to the pool before the slow logging.
                conn.Release();
            }
        }
        """, """
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    conn.Execute("delete from sessions");
                }
                finally
                {
                    // Back to the pool before the slow logging.
                    conn.Release();
                }
            }
        }
        """);

    // '///' inside a method body is a documentation comment to the parser, one that holds its line's end: at a release
    // that moves into a finally it was dropped, and at one a using replaced it lost its line. The release stays.
    [Theory]
    [InlineData("Pool", "        /// Back to the pool.\n        conn.Release();")]
    [InlineData("LeasePool", "        conn.Dispose(); /// the last use")]
    [InlineData("LeasePool", "        /// Back to the pool.\n        conn.Dispose();")]
    public Task A_release_with_a_triple_slash_comment_gets_no_fix_that_moves_or_removes_it(string pool, string release) => NoFixVerifier.VerifyAsync($$"""
        using Prelude;

        class C
        {
            int M({{pool}} pool)
            {
                var conn = [|pool.GetConnection()|];
                /// the work
                var rows = conn.Execute("select 1");
        {{release}}
                return rows;
            }
        }
        """);

    // A release in an #if group that opens after the acquisition runs in some builds only; another build may keep the
    // connection instead (the code it compiles is not there to read). A try or a using would release it in every build.
    [Theory]
    [InlineData("Pool", "#if !KEEP_OPEN\n        Log.Info(\"releasing\");\n        conn.Release();\n#endif")]
    [InlineData("LeasePool", "#if !KEEP_OPEN\n        Log.Info(\"releasing\");\n        conn.Dispose();\n#endif")]
    [InlineData("LeasePool", "#if !KEEP_OPEN\n        conn.Dispose();\n#endif")]
    [InlineData("LeasePool", "#if KEEP_OPEN\n        Kept.Add(conn);\n#else\n        conn.Dispose();\n#endif")]
    [InlineData("Pool", "#if KEEP_OPEN\n        Kept.Add(conn);\n#else\n        conn.Release();\n#endif")]
    public Task A_release_in_an_if_group_that_opens_after_the_acquisition_gets_no_fix(string pool, string release) => NoFixVerifier.VerifyAsync($$"""
        using Prelude;

        class C
        {
            static readonly System.Collections.Generic.List<object> Kept = new();

            int M({{pool}} pool)
            {
                var conn = [|pool.GetConnection()|];
                var rows = conn.Execute("select 1");
        {{release}}
                return rows;
            }
        }
        """);

    [Fact]
    public Task Comments_and_blank_lines_are_kept_when_the_dispose_becomes_a_using() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            void M(LeasePool pool)
            {
                // One lease for both statements.
                var lease = [|pool.GetConnection()|]; // tenant-scoped

                lease.Execute("delete from sessions");

                // The audit trail too.
                lease.Execute("delete from audit");
                lease.Dispose();
            }
        }
        """, """
        using Prelude;

        class C
        {
            void M(LeasePool pool)
            {
                // One lease for both statements.
                using var lease = pool.GetConnection(); // tenant-scoped

                lease.Execute("delete from sessions");

                // The audit trail too.
                lease.Execute("delete from audit");
            }
        }
        """);

    // ---------------------------------------------------------------- lambdas, local functions, constructors, accessors

    [Fact]
    public Task Leak_in_Task_Run_lambda_is_released_in_finally() => Verify.VerifyCodeFixAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            Task M(Pool pool)
            {
                return Task.Run(() =>
                {
                    var conn = [|pool.GetConnection()|];
                    conn.Execute("update tenants set seen = now()");
                });
            }
        }
        """, """
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            Task M(Pool pool)
            {
                return Task.Run(() =>
                {
                    var conn = pool.GetConnection();
                    try
                    {
                        conn.Execute("update tenants set seen = now()");
                    }
                    finally
                    {
                        conn.Release();
                    }
                });
            }
        }
        """);

    [Fact]
    public Task Leak_in_Parallel_ForEachAsync_body_becomes_await_using() => Verify.VerifyCodeFixAsync("""
        using System.Collections.Generic;
        using System.Threading.Tasks;
        using Dapper;
        using MySqlConnector;

        class C
        {
            async Task M(MySqlDataSource dataSource, IEnumerable<int> ids)
            {
                await Parallel.ForEachAsync(ids, async (id, ct) =>
                {
                    var conn = await [|dataSource.OpenConnectionAsync(ct)|];
                    await conn.ExecuteAsync("delete from sessions where id = @id", new { id });
                });
            }
        }
        """, """
        using System.Collections.Generic;
        using System.Threading.Tasks;
        using Dapper;
        using MySqlConnector;

        class C
        {
            async Task M(MySqlDataSource dataSource, IEnumerable<int> ids)
            {
                await Parallel.ForEachAsync(ids, async (id, ct) =>
                {
                    await using var conn = await dataSource.OpenConnectionAsync(ct);
                    await conn.ExecuteAsync("delete from sessions where id = @id", new { id });
                });
            }
        }
        """);

    [Fact]
    public Task Leak_in_Parallel_ForEachAsync_body_is_released_in_finally() => Verify.VerifyCodeFixAsync("""
        using System.Collections.Generic;
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            Task M(Pool pool, IEnumerable<string> tenants) =>
                Parallel.ForEachAsync(tenants, async (tenant, ct) =>
                {
                    var conn = await [|pool.GetConnectionAsync(ct)|];
                    await conn.ExecuteAsync("delete from sessions where tenant = @tenant", ct);
                    conn.Release();
                });
        }
        """, """
        using System.Collections.Generic;
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            Task M(Pool pool, IEnumerable<string> tenants) =>
                Parallel.ForEachAsync(tenants, async (tenant, ct) =>
                {
                    var conn = await pool.GetConnectionAsync(ct);
                    try
                    {
                        await conn.ExecuteAsync("delete from sessions where tenant = @tenant", ct);
                    }
                    finally
                    {
                        conn.Release();
                    }
                });
        }
        """);

    [Fact]
    public Task Leak_in_local_function_is_fixed_inside_the_local_function() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(LeasePool pool)
            {
                return Count();

                int Count()
                {
                    var lease = [|pool.GetConnection()|];
                    return lease.Execute("select count(*) from tenants");
                }
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(LeasePool pool)
            {
                return Count();

                int Count()
                {
                    using var lease = pool.GetConnection();
                    return lease.Execute("select count(*) from tenants");
                }
            }
        }
        """);

    [Fact]
    public Task Leak_in_constructor_is_released_in_finally() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        sealed class SchemaInfo
        {
            private readonly int _version;

            public SchemaInfo(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                _version = conn.Execute("select version from schema_info");
            }
        }
        """, """
        using Prelude;

        sealed class SchemaInfo
        {
            private readonly int _version;

            public SchemaInfo(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    _version = conn.Execute("select version from schema_info");
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """);

    [Fact]
    public Task Leak_in_property_getter_is_released_in_finally() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        sealed class TenantStats
        {
            private readonly Pool _pool = new Pool();

            public int SessionCount
            {
                get
                {
                    var conn = [|_pool.GetConnection()|];
                    return conn.Execute("select count(*) from sessions");
                }
            }
        }
        """, """
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
    public Task Lease_inside_lock_of_an_async_method_gets_a_sync_using() => Verify.VerifyCodeFixAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            private readonly object _gate = new object();

            async Task M(LeasePool pool)
            {
                await Task.Yield();
                lock (_gate)
                {
                    var lease = [|pool.GetConnection()|];
                    lease.Execute("delete from sessions");
                    lease.Dispose();
                }
            }
        }
        """, """
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            private readonly object _gate = new object();

            async Task M(LeasePool pool)
            {
                await Task.Yield();
                lock (_gate)
                {
                    using var lease = pool.GetConnection();
                    lease.Execute("delete from sessions");
                }
            }
        }
        """);

    [Fact]
    public Task Lease_in_an_unsafe_block_of_an_async_method_gets_a_sync_using()
    {
        // 'await' cannot stand in an unsafe context (CS4004), which an async method may hold since C# 13.
        var test = Verify.CreateTest("""
            using System;
            using System.Threading.Tasks;
            using Prelude;

            class C
            {
                async Task<int> M(LeasePool pool, bool stop)
                {
                    await Task.Yield();
                    unsafe
                    {
                        int* first = stackalloc int[1];
                        var lease = [|pool.GetConnection()|];
                        var rows = lease.Execute("select 1");
                        if (stop)
                        {
                            return rows;
                        }

                        lease.Dispose();
                        return rows + first[0];
                    }
                }
            }
            """, """
            using System;
            using System.Threading.Tasks;
            using Prelude;

            class C
            {
                async Task<int> M(LeasePool pool, bool stop)
                {
                    await Task.Yield();
                    unsafe
                    {
                        int* first = stackalloc int[1];
                        using var lease = pool.GetConnection();
                        var rows = lease.Execute("select 1");
                        if (stop)
                        {
                            return rows;
                        }

                        return rows + first[0];
                    }
                }
            }
            """);
        test.SolutionTransforms.Add((solution, projectId) =>
            solution.WithProjectCompilationOptions(projectId, ((Microsoft.CodeAnalysis.CSharp.CSharpCompilationOptions)solution.GetProject(projectId)!.CompilationOptions!).WithAllowUnsafe(true)));
        return test.RunAsync();
    }

    // ---------------------------------------------------------------- Fix All across documents

    [Fact]
    public Task Fix_All_fixes_every_shape_in_three_documents_in_one_pass() => Verify.VerifyFixAllAsync(
        new[]
        {
            """
            using System.Threading.Tasks;
            using Prelude;

            class Audit
            {
                async Task Trim(LeasePool pool)
                {
                    var lease = await [|pool.GetConnectionAsync("tenant-1")|];
                    await lease.ExecuteAsync("delete from audit");
                    await lease.DisposeAsync();
                }
            }
            """,
            """
            using Prelude;

            class Sessions
            {
                int Purge(Pool pool)
                {
                    var conn = [|pool.GetConnection()|];
                    var rows = conn.Execute("delete from sessions");
                    conn.Release();
                    return rows;
                }

                void Touch(Pool pool)
                {
                    [|pool.GetConnection()|];
                }
            }
            """,
            """
            using MySqlConnector;

            class Schema
            {
                void Migrate(string connectionString)
                {
                    var conn = new MySqlConnection(connectionString);
                    [|conn.Open()|];
                    using var cmd = new MySqlCommand("alter table t add c int", conn);
                    cmd.ExecuteNonQuery();
                    conn.Close();
                }

                MySqlConnection Open(string connectionString)
                {
                    var conn = new MySqlConnection(connectionString);
                    [|conn.Open()|];
                    using var cmd = new MySqlCommand("SET time_zone = '+00:00'", conn);
                    cmd.ExecuteNonQuery();
                    return conn;
                }
            }
            """,
        },
        new[]
        {
            """
            using System.Threading.Tasks;
            using Prelude;

            class Audit
            {
                async Task Trim(LeasePool pool)
                {
                    await using var lease = await pool.GetConnectionAsync("tenant-1");
                    await lease.ExecuteAsync("delete from audit");
                }
            }
            """,
            """
            using Prelude;

            class Sessions
            {
                int Purge(Pool pool)
                {
                    var conn = pool.GetConnection();
                    try
                    {
                        var rows = conn.Execute("delete from sessions");
                        return rows;
                    }
                    finally
                    {
                        conn.Release();
                    }
                }

                void Touch(Pool pool)
                {
                    pool.GetConnection().Release();
                }
            }
            """,
            """
            using MySqlConnector;

            class Schema
            {
                void Migrate(string connectionString)
                {
                    using var conn = new MySqlConnection(connectionString);
                    conn.Open();
                    using var cmd = new MySqlCommand("alter table t add c int", conn);
                    cmd.ExecuteNonQuery();
                }

                MySqlConnection Open(string connectionString)
                {
                    var conn = new MySqlConnection(connectionString);
                    try
                    {
                        conn.Open();
                        using var cmd = new MySqlCommand("SET time_zone = '+00:00'", conn);
                        cmd.ExecuteNonQuery();
                        return conn;
                    }
                    catch
                    {
                        conn.Dispose();
                        throw;
                    }
                }
            }
            """,
        });

    [Fact]
    public Task Fix_All_with_release_in_finally_applies_it_in_every_document() => Verify.VerifyFixAllAsync(
        new[]
        {
            """
            using Prelude;

            class A
            {
                void M(LeasePool pool)
                {
                    var lease = [|pool.GetConnection()|];
                    lease.Execute("delete from a");
                    lease.Dispose();
                }
            }
            """,
            """
            using Prelude;

            class B
            {
                void M(LeasePool pool)
                {
                    var lease = [|pool.GetConnection()|];
                    lease.Execute("delete from b");
                    lease.Dispose();
                }
            }
            """,
            """
            using Prelude;

            class D
            {
                void M(Pool pool)
                {
                    var conn = [|pool.GetConnection()|];
                    conn.Execute("delete from d");
                    conn.Release();
                }
            }
            """,
        },
        new[]
        {
            """
            using Prelude;

            class A
            {
                void M(LeasePool pool)
                {
                    var lease = pool.GetConnection();
                    try
                    {
                        lease.Execute("delete from a");
                    }
                    finally
                    {
                        lease.Dispose();
                    }
                }
            }
            """,
            """
            using Prelude;

            class B
            {
                void M(LeasePool pool)
                {
                    var lease = pool.GetConnection();
                    try
                    {
                        lease.Execute("delete from b");
                    }
                    finally
                    {
                        lease.Dispose();
                    }
                }
            }
            """,
            """
            using Prelude;

            class D
            {
                void M(Pool pool)
                {
                    var conn = pool.GetConnection();
                    try
                    {
                        conn.Execute("delete from d");
                    }
                    finally
                    {
                        conn.Release();
                    }
                }
            }
            """,
        },
        ReleaseInFinally);
}
