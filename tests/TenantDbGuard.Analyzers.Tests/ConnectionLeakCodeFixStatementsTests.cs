using Microsoft.CodeAnalysis;
using TenantDbGuard.Analyzers.Tests.FixExecution;
using TenantDbGuard.Analyzers.Tests.Verifiers;
using Verify = TenantDbGuard.Analyzers.Tests.Verifiers.CSharpCodeFixVerifier<
    TenantDbGuard.Analyzers.ConnectionLeakAnalyzer,
    TenantDbGuard.CodeFixes.ConnectionLeakCodeFixProvider>;

namespace TenantDbGuard.Analyzers.Tests;

/// <summary>
/// What the fixes do to the statements they move: a <c>try</c> left with no handler keeps the comments written on its
/// own braces.
/// </summary>
[Collection(FixExecutionCollection.Name)]
public sealed class ConnectionLeakCodeFixStatementsTests
{
    private const string ReleaseInFinally = "TDG001.ReleaseInFinally";
    private const string DisposeOnFailure = "TDG001.DisposeOnFailure";
    private const string UseUsing = "TDG001.UseUsing";

    // ---------------------------------------------------------------- a try that goes keeps its comments

    [Fact]
    public Task A_try_that_goes_keeps_the_comment_above_its_closing_brace() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                var rows = conn.Execute("update a set b = 1");
                try
                {
                    rows += conn.Execute("update c set d = 1");
                    // table e is filled by a trigger on c
                }
                finally
                {
                    conn.Release();
                }

                return rows;
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
                    var rows = conn.Execute("update a set b = 1");
                    {
                        rows += conn.Execute("update c set d = 1");
                        // table e is filled by a trigger on c
                    }

                    return rows;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task A_try_whose_catch_goes_keeps_the_comment_after_its_closing_brace() => Verify.VerifyCodeFixAsync("""
        using System;
        using Prelude;

        class C
        {
            PooledConnection M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                try
                {
                    conn.Execute("set names utf8mb4");
                } // a server without utf8mb4 fails here
                catch (InvalidOperationException)
                {
                    conn.Release();
                    throw;
                }

                return conn;
            }
        }
        """, """
        using System;
        using Prelude;

        class C
        {
            PooledConnection M(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    {
                        conn.Execute("set names utf8mb4");
                    } // a server without utf8mb4 fails here

                    return conn;
                }
                catch
                {
                    conn.Release();
                    throw;
                }
            }
        }
        """, DisposeOnFailure);

    [Fact]
    public Task Releases_of_the_code_in_two_catches_written_differently_both_give_way_to_the_new_catch() => Verify.VerifyCodeFixAsync("""
        using System;
        using Prelude;

        class C
        {
            PooledConnection M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                try
                {
                    conn.Execute("set names utf8mb4");
                }
                catch (TimeoutException)
                {
                    conn.Release();
                    throw;
                }
                catch (InvalidOperationException)
                {
                    conn?.Release();
                    throw;
                }

                conn.Execute("set time_zone = '+00:00'");
                return conn;
            }
        }
        """, """
        using System;
        using Prelude;

        class C
        {
            PooledConnection M(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    conn.Execute("set names utf8mb4");

                    conn.Execute("set time_zone = '+00:00'");
                    return conn;
                }
                catch
                {
                    conn.Release();
                    throw;
                }
            }
        }
        """, DisposeOnFailure);

    [Fact]
    public Task A_try_that_goes_out_of_a_branch_keeps_the_comment_after_its_opening_brace() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool, bool more)
            {
                var conn = [|pool.GetConnection()|];
                var rows = conn.Execute("update a set b = 1");
                if (more)
                {
                    try
                    { // only when asked for
                        rows += conn.Execute("update c set d = 1");
                    }
                    finally
                    {
                        conn.Release();
                    }

                    return rows;
                }

                conn.Release();
                return rows;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(Pool pool, bool more)
            {
                var conn = pool.GetConnection();
                try
                {
                    var rows = conn.Execute("update a set b = 1");
                    if (more)
                    {
                        { // only when asked for
                            rows += conn.Execute("update c set d = 1");
                        }

                        return rows;
                    }

                    return rows;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task A_try_that_goes_keeps_the_comment_after_try() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                var rows = conn.Execute("update a set b = 1");
                try // the second update may time out
                {
                    rows += conn.Execute("update c set d = 1");
                }
                finally
                {
                    conn.Release();
                }

                return rows;
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
                    var rows = conn.Execute("update a set b = 1");
                    // the second update may time out
                    {
                        rows += conn.Execute("update c set d = 1");
                    }

                    return rows;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """, ReleaseInFinally);

    // ---------------------------------------------------------------- a method written on one line

    [Fact]
    public Task Statements_of_a_method_written_on_one_line_each_get_a_line_in_the_new_try() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool) { var conn = [|pool.GetConnection()|]; var n = conn.Execute("x"); Log.Info("counted"); conn.Release(); return n; }
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
                    var n = conn.Execute("x");
                    Log.Info("counted");
                    return n;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task Comments_between_statements_written_on_one_line_stay_at_the_end_of_their_statement_line() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool) { var conn = [|pool.GetConnection()|]; var n = conn.Execute("x"); /* counted */ /* twice */ Log.Info("counted"); conn.Release(); return n; }
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
                    var n = conn.Execute("x"); /* counted */ /* twice */
                    Log.Info("counted");
                    return n;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task A_comment_after_the_release_stays_with_it_and_a_blank_line_follows_the_try() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                conn.Execute("x");
                conn.Release(); // back to the pool
                Log.Info("done");
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
                    conn.Execute("x");
                }
                finally
                {
                    conn.Release(); // back to the pool
                }

                Log.Info("done");
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task Statements_of_a_method_written_on_one_line_each_get_a_line_in_the_try_that_disposes_on_failure() => Verify.VerifyCodeFixAsync("""
        using MySqlConnector;
        using Prelude;

        class C
        {
            MySqlConnection Open(string cs) { var c = new MySqlConnection(cs); [|c.Open()|]; Log.Info("opened"); return c; }
        }
        """, """
        using MySqlConnector;
        using Prelude;

        class C
        {
            MySqlConnection Open(string cs)
            {
                var c = new MySqlConnection(cs);
                try
                {
                    c.Open();
                    Log.Info("opened");
                    return c;
                }
                catch
                {
                    c.Dispose();
                    throw;
                }
            }
        }
        """, DisposeOnFailure);

    [Fact]
    public Task A_discarded_connection_in_a_method_written_on_one_line_gets_its_local_and_try_on_lines_of_their_own() => Verify.VerifyCodeFixAsync("""
        using MySqlConnector;
        using Prelude;

        class C
        {
            int Run(Pool pool) { Log.Info("a"); [|pool.GetConnection()|].Execute("x"); return 1; }
            void First(Pool pool) { [|pool.GetConnection()|].Execute("x"); }
            void Disposable(MySqlDataSource dataSource) { Log.Info("a"); [|dataSource.OpenConnection()|].Ping(); }
        }
        """, """
        using MySqlConnector;
        using Prelude;

        class C
        {
            int Run(Pool pool)
            {
                Log.Info("a");
                var connection = pool.GetConnection();
                try
                {
                    connection.Execute("x");
                }
                finally
                {
                    connection.Release();
                }

                return 1;
            }
            void First(Pool pool)
            {
                var connection = pool.GetConnection();
                try
                {
                    connection.Execute("x");
                }
                finally
                {
                    connection.Release();
                }
            }
            void Disposable(MySqlDataSource dataSource)
            {
                Log.Info("a");
                using var connection = dataSource.OpenConnection();
                connection.Ping();
            }
        }
        """);

    [Fact]
    public Task A_discarded_connection_in_the_body_of_an_if_on_the_same_line_gets_a_block_around_its_local_and_try() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int Run(Pool pool, bool purge)
            {
                if (purge) [|pool.GetConnection()|].Execute("delete from sessions");
                return 1;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int Run(Pool pool, bool purge)
            {
                if (purge)
                {
                    var connection = pool.GetConnection();
                    try
                    {
                        connection.Execute("delete from sessions");
                    }
                    finally
                    {
                        connection.Release();
                    }
                }

                return 1;
            }
        }
        """);

    // ---------------------------------------------------------------- a statement split over lines

    [Fact]
    public Task The_first_statement_moved_into_the_try_keeps_its_continuation_lines_under_it() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool, bool b)
            {
                var conn = [|pool.GetConnection()|];

                var n = conn.Execute(
                    "delete from queue " +
                    "where done = 1");
                if (b) return 0;
                conn.Release();
                return n;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(Pool pool, bool b)
            {
                var conn = pool.GetConnection();

                try
                {
                    var n = conn.Execute(
                        "delete from queue " +
                        "where done = 1");
                    if (b) return 0;
                    return n;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task The_first_statement_moved_into_the_try_of_a_release_on_failure_keeps_its_continuation_lines_under_it() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            PooledConnection M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                conn.Execute(
                    "delete from queue " +
                    "where done = 1");
                return conn;
            }
        }
        """, """
        using Prelude;

        class C
        {
            PooledConnection M(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    conn.Execute(
                        "delete from queue " +
                        "where done = 1");
                    return conn;
                }
                catch
                {
                    conn.Release();
                    throw;
                }
            }
        }
        """, DisposeOnFailure);

    [Fact]
    public Task The_first_top_level_statement_moved_into_the_try_keeps_its_continuation_lines_under_it()
    {
        var test = Verify.CreateTest("""
            using Prelude;

            var pool = new Pool();
            var conn = [|pool.GetConnection()|];
            var n = conn.Execute(
                "delete from queue " +
                "where done = 1");
            if (n > 3) return;
            conn.Release();
            """, """
            using Prelude;

            var pool = new Pool();
            var conn = pool.GetConnection();
            try
            {
                var n = conn.Execute(
                    "delete from queue " +
                    "where done = 1");
                if (n > 3) return;
            }
            finally
            {
                conn.Release();
            }
            """, ReleaseInFinally);
        test.TestState.OutputKind = OutputKind.ConsoleApplication;
        test.FixedState.OutputKind = OutputKind.ConsoleApplication;
        return test.RunAsync();
    }

    [Fact]
    public Task A_statement_that_shared_the_acquisitions_line_moves_into_the_try_on_a_line_of_its_own() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool, bool b)
            {
                var conn = [|pool.GetConnection()|]; var n = conn.Execute(
                    "delete from queue " +
                    "where done = 1");
                if (b) return 0;
                conn.Release();
                return n;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(Pool pool, bool b)
            {
                var conn = pool.GetConnection();
                try
                {
                    var n = conn.Execute(
                        "delete from queue " +
                        "where done = 1");
                    if (b) return 0;
                    return n;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task A_discarded_connection_given_a_local_keeps_the_statements_continuation_lines_under_it() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool, bool b)
            {
                if (b)
                    [|pool.GetConnection()|].Execute(
                        "delete from queue " +
                        "where done = 1");
                [|pool.GetConnection()|].Execute(
                    "delete from queue " +
                    "where done = 1");
            }
        }
        """, """
        using Prelude;

        class C
        {
            void M(Pool pool, bool b)
            {
                if (b)
                {
                    var connection = pool.GetConnection();
                    try
                    {
                        connection.Execute(
                            "delete from queue " +
                            "where done = 1");
                    }
                    finally
                    {
                        connection.Release();
                    }
                }

                var connection2 = pool.GetConnection();
                try
                {
                    connection2.Execute(
                        "delete from queue " +
                        "where done = 1");
                }
                finally
                {
                    connection2.Release();
                }
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task A_discarded_connection_given_a_using_local_keeps_the_statements_continuation_lines_under_it() => Verify.VerifyCodeFixAsync("""
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            async Task<int> M(MySqlDataSource ds)
            {
                // Ping first.
                (await [|ds.OpenConnectionAsync()|]).Ping(
                    );
                return 1;
            }
        }
        """, """
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            async Task<int> M(MySqlDataSource ds)
            {
                // Ping first.
                await using var connection = await ds.OpenConnectionAsync();
                connection.Ping(
                    );
                return 1;
            }
        }
        """, UseUsing);

    // ---------------------------------------------------------------- what gives the local a new value

    [Fact]
    public Task A_null_forgiving_use_is_not_a_new_value_and_the_lease_still_becomes_using() => Verify.VerifyCodeFixAsync("""
        #nullable enable
        using Prelude;

        class C
        {
            int M(LeasePool pool)
            {
                var lease = [|pool.GetConnection()|];
                var rows = lease!.Execute("delete from sessions");
                lease.Dispose();
                return rows;
            }
        }
        """, """
        #nullable enable
        using Prelude;

        class C
        {
            int M(LeasePool pool)
            {
                using var lease = pool.GetConnection();
                var rows = lease!.Execute("delete from sessions");
                return rows;
            }
        }
        """, UseUsing);

    // ---------------------------------------------------------------- the name of a new local

    [Fact]
    public Task An_introduced_local_is_not_named_like_a_local_of_a_nested_block_further_down_nor_like_a_parameter() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(LeasePool pool, bool again, string connection2)
            {
                var rows = [|pool.GetConnection()|].Execute("delete from sessions");
                if (again)
                {
                    var connection = "audit";
                    Log.Info(connection + connection2);
                }

                return rows;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(LeasePool pool, bool again, string connection2)
            {
                using var connection3 = pool.GetConnection();
                var rows = connection3.Execute("delete from sessions");
                if (again)
                {
                    var connection = "audit";
                    Log.Info(connection + connection2);
                }

                return rows;
            }
        }
        """);

    // ---------------------------------------------------------------- a try that goes keeps its names apart

    [Fact]
    public Task A_try_that_goes_out_of_a_branch_stays_a_block_when_a_loop_beside_it_declares_the_same_name() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool, bool more, int[] ids)
            {
                var conn = [|pool.GetConnection()|];
                var rows = conn.Execute("update a set b = 1");
                if (more)
                {
                    foreach (var extra in ids)
                    {
                        rows += extra;
                    }

                    try
                    {
                        var extra = conn.Execute("update c set d = 1");
                        rows += extra;
                    }
                    finally
                    {
                        conn.Release();
                    }

                    return rows;
                }

                conn.Release();
                return rows;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(Pool pool, bool more, int[] ids)
            {
                var conn = pool.GetConnection();
                try
                {
                    var rows = conn.Execute("update a set b = 1");
                    if (more)
                    {
                        foreach (var extra in ids)
                        {
                            rows += extra;
                        }

                        {
                            var extra = conn.Execute("update c set d = 1");
                            rows += extra;
                        }

                        return rows;
                    }

                    return rows;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task A_try_that_goes_stays_a_block_when_it_declares_an_out_variable() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool, string limit)
            {
                var conn = [|pool.GetConnection()|];
                var rows = conn.Execute("update a set b = 1");
                try
                {
                    int.TryParse(limit, out var extra);
                    rows += conn.Execute("update c set d = 1") + extra;
                }
                finally
                {
                    conn.Release();
                }

                var total = 0;
                foreach (var extra in new[] { rows })
                {
                    total += extra;
                }

                return total;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(Pool pool, string limit)
            {
                var conn = pool.GetConnection();
                int rows;
                try
                {
                    rows = conn.Execute("update a set b = 1");
                    {
                        int.TryParse(limit, out var extra);
                        rows += conn.Execute("update c set d = 1") + extra;
                    }
                }
                finally
                {
                    conn.Release();
                }

                var total = 0;
                foreach (var extra in new[] { rows })
                {
                    total += extra;
                }

                return total;
            }
        }
        """, ReleaseInFinally);

    // ---------------------------------------------------------------- where the uses end

    [Fact]
    public Task A_member_named_like_the_local_is_not_a_use_of_it() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class Info
        {
            public string conn = "primary";
        }

        class C
        {
            void M(Pool pool, Info info)
            {
                var conn = [|pool.GetConnection()|];
                conn.Execute("update a set b = 1");
                Log.Info(info.conn);
            }
        }
        """, """
        using Prelude;

        class Info
        {
            public string conn = "primary";
        }

        class C
        {
            void M(Pool pool, Info info)
            {
                var conn = pool.GetConnection();
                try
                {
                    conn.Execute("update a set b = 1");
                }
                finally
                {
                    conn.Release();
                }

                Log.Info(info.conn);
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task A_connection_nothing_uses_after_it_is_taken_goes_back_at_once() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                Log.Info("a");
                Log.Info("b");
                Log.Info("c");
            }
        }
        """, """
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                var conn = pool.GetConnection();
                conn.Release();
                Log.Info("a");
                Log.Info("b");
                Log.Info("c");
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task A_local_declared_after_the_last_use_does_not_pull_later_statements_into_the_try() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                Log.Info("start");
                var conn = [|pool.GetConnection()|];
                conn.Execute("update a set b = 1");
                var note = "done";
                Log.Info(note);
            }
        }
        """, """
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                Log.Info("start");
                var conn = pool.GetConnection();
                try
                {
                    conn.Execute("update a set b = 1");
                }
                finally
                {
                    conn.Release();
                }

                var note = "done";
                Log.Info(note);
            }
        }
        """, ReleaseInFinally);

    /// <summary>A release that shared its line with the next statement: that statement, now after the brace, gets a blank line and a line of its own.</summary>
    [Fact]
    public Task A_statement_that_shared_the_line_of_a_removed_release_after_a_closing_brace_starts_after_a_blank_line() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool, bool quick)
            {
                var conn = [|pool.GetConnection()|];
                if (quick)
                {
                    return 0;
                }

                var rows = 0;
                if (rows == 0)
                {
                    rows = conn.Execute("select 1");
                }
                conn.Release(); return rows;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(Pool pool, bool quick)
            {
                var conn = pool.GetConnection();
                try
                {
                    if (quick)
                    {
                        return 0;
                    }

                    var rows = 0;
                    if (rows == 0)
                    {
                        rows = conn.Execute("select 1");
                    }

                    return rows;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task A_statement_inside_the_try_that_followed_a_removed_release_after_a_closing_brace_keeps_a_blank_line_after_the_brace() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool master, Pool tenant, bool quick)
            {
                var first = [|master.GetConnection()|];
                var key = first.Execute("select 1");
                var second = [|tenant.GetConnection()|];
                var rows = second.Execute("select 2") + key;
                if (quick)
                {
                    return rows;
                }

                second.Release();
                first.Release();
                return rows;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(Pool master, Pool tenant, bool quick)
            {
                var first = master.GetConnection();
                try
                {
                    var key = first.Execute("select 1");
                    var second = tenant.GetConnection();
                    try
                    {
                        var rows = second.Execute("select 2") + key;
                        if (quick)
                        {
                            return rows;
                        }

                        return rows;
                    }
                    finally
                    {
                        second.Release();
                    }
                }
                finally
                {
                    first.Release();
                }
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task A_statement_that_followed_a_dispose_the_using_replaces_after_a_closing_brace_keeps_a_blank_line_after_the_brace() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(LeasePool pool, bool quick)
            {
                var lease = [|pool.GetConnection()|];
                var rows = lease.Execute("select 1");
                if (quick)
                {
                    return rows;
                }

                lease.Dispose();
                return rows;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(LeasePool pool, bool quick)
            {
                using var lease = pool.GetConnection();
                var rows = lease.Execute("select 1");
                if (quick)
                {
                    return rows;
                }

                return rows;
            }
        }
        """, UseUsing);

    [Fact]
    public Task The_statement_after_the_new_try_starts_after_a_blank_line_when_the_release_it_replaces_had_it() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool, bool strict)
            {
                PooledConnection conn;
                var total = 0;
                conn = [|pool.GetConnection()|];
                total += conn.Execute("select count(*) from orders");
                if (strict && total == 0)
                {
                    return -1;
                }

                conn.Release();
                return total;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(Pool pool, bool strict)
            {
                PooledConnection conn;
                var total = 0;
                conn = pool.GetConnection();
                try
                {
                    total += conn.Execute("select count(*) from orders");
                    if (strict && total == 0)
                    {
                        return -1;
                    }
                }
                finally
                {
                    conn.Release();
                }

                return total;
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task The_statement_after_a_new_try_and_catch_starts_after_a_blank_line() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            PooledConnection _conn;

            void M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                conn.Execute("set names utf8mb4");
                _conn = conn;
                Log.Info("opened");
            }
        }
        """, """
        using Prelude;

        class C
        {
            PooledConnection _conn;

            void M(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    conn.Execute("set names utf8mb4");
                }
                catch
                {
                    conn.Release();
                    throw;
                }

                _conn = conn;
                Log.Info("opened");
            }
        }
        """, DisposeOnFailure, Execution.Skip("Called twice, M overwrites the field that keeps the connection: the type's own leak (TDG005), the same before and after the fix."));

    [Fact]
    public Task The_try_covers_a_chain_of_locals_made_from_the_connections_results() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                var rows = conn.Execute("update a set b = 1");
                Log.Info("updated");
                var text = rows.ToString();
                Log.Info(text);
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
                    var rows = conn.Execute("update a set b = 1");
                    Log.Info("updated");
                    var text = rows.ToString();
                    Log.Info(text);
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task The_try_covers_the_call_of_a_local_function_that_uses_the_connection() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                conn.Execute("update a set b = 1");
                Log.Info("updated");
                Audit();

                void Audit() => conn.Execute("insert into audit (event) values ('update')");
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
                    conn.Execute("update a set b = 1");
                    Log.Info("updated");
                    Audit();
                }
                finally
                {
                    conn.Release();
                }

                void Audit() => conn.Execute("insert into audit (event) values ('update')");
            }
        }
        """, ReleaseInFinally);

    // ---------------------------------------------------------------- the statements a try that goes gives out

    [Fact]
    public Task A_try_that_goes_gives_its_comment_to_its_first_statement_and_keeps_the_first_statements_own() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                var rows = conn.Execute("update a set b = 1");
                // the second pass
                try
                {
                    // c first
                    rows += conn.Execute("update c set d = 1");
                    rows += conn.Execute("update e set f = 1");
                }
                finally
                {
                    conn.Release();
                }

                return rows;
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
                    var rows = conn.Execute("update a set b = 1");
                    // the second pass
                    // c first
                    rows += conn.Execute("update c set d = 1");
                    rows += conn.Execute("update e set f = 1");

                    return rows;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """, ReleaseInFinally);

    // ---------------------------------------------------------------- what goes with a release

    [Fact]
    public Task Comments_after_the_release_and_after_the_last_statement_are_each_written_once_where_they_were() => Verify.VerifyCodeFixAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> M(Pool pool)
            {
                var conn = await [|pool.GetConnectionAsync()|];
                var n = await conn.ExecuteAsync("select 1");

                // give it back
                conn.Release(); // released once: a second release throws
                return n; // the row count
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
                    var n = await conn.ExecuteAsync("select 1");
                    return n; // the row count
                }
                finally
                {
                    // give it back
                    conn.Release(); // released once: a second release throws
                }
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task A_release_that_is_the_body_of_an_if_with_an_else_leaves_the_else_under_the_opposite_condition() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool, bool keep)
            {
                var conn = [|pool.GetConnection()|];
                var rows = conn.Execute("update a set b = 1");
                if (!keep)
                    conn.Release();
                else
                    Log.Info("kept");

                return rows;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(Pool pool, bool keep)
            {
                var conn = pool.GetConnection();
                try
                {
                    var rows = conn.Execute("update a set b = 1");
                    if (keep)
                        Log.Info("kept");

                    return rows;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task An_else_without_braces_that_only_released_goes_with_the_release() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool, bool keep)
            {
                var conn = [|pool.GetConnection()|];
                var rows = conn.Execute("update a set b = 1");
                if (keep)
                    Log.Info("kept");
                else
                    conn.Release();

                return rows;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(Pool pool, bool keep)
            {
                var conn = pool.GetConnection();
                try
                {
                    var rows = conn.Execute("update a set b = 1");
                    if (keep)
                        Log.Info("kept");

                    return rows;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """, ReleaseInFinally);

    [Theory]
    [InlineData("attempts++ > 0")]
    [InlineData("attempts-- > 0")]
    [InlineData("++attempts > 1")]
    [InlineData("--attempts > 1")]
    public Task An_if_whose_condition_counts_leaves_its_condition_when_its_release_moves_out(string condition) => Verify.VerifyCodeFixAsync($$"""
        using Prelude;

        class C
        {
            int attempts;

            int M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                var rows = conn.Execute("update a set b = 1");
                if ({{condition}})
                {
                    conn.Release();
                }

                return rows + attempts;
            }
        }
        """, $$"""
        using Prelude;

        class C
        {
            int attempts;

            int M(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    var rows = conn.Execute("update a set b = 1");
                    _ = {{condition}};

                    return rows + attempts;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """, ReleaseInFinally);

    // ---------------------------------------------------------------- no new local where the value runs under a condition

    [Theory]
    [InlineData("var rows = ready ? [|pool.GetConnection()|].Execute(\"delete from sessions\") : 0;")]
    [InlineData("var rows = ready && [|pool.GetConnection()|].Execute(\"delete from sessions\") > 0;")]
    [InlineData("var rows = cached ?? [|pool.GetConnection()|].Execute(\"delete from sessions\");")]
    [InlineData("cached ??= [|pool.GetConnection()|].Execute(\"delete from sessions\");")]
    [InlineData("var rows = info?.Substring([|pool.GetConnection()|].Execute(\"delete from sessions\"));")]
    [InlineData("var rows = cached switch { null => [|pool.GetConnection()|].Execute(\"delete from sessions\"), _ => 0 };")]
    [InlineData("while ([|pool.GetConnection()|].Execute(\"delete from sessions\") > 0) { }")]
    [InlineData("do { } while ([|pool.GetConnection()|].Execute(\"delete from sessions\") > 0);")]
    [InlineData("for (var i = 0; i < [|pool.GetConnection()|].Execute(\"delete from sessions\"); i++) { }")]
    public Task A_value_that_runs_under_a_condition_or_again_gets_no_local(string statement) => NoFixVerifier.VerifyAsync($$"""
        using Prelude;

        class C
        {
            void M(LeasePool pool, bool ready, int? cached, string? info)
            {
                {{statement}}
            }
        }
        """);

    // ---------------------------------------------------------------- an early return releases first

    [Fact]
    public Task An_early_return_after_other_work_in_its_block_releases_right_before_it() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            PooledConnection Rent(Pool pool, string tenant)
            {
                var conn = [|pool.GetConnection()|];
                if (tenant.Length == 0)
                {
                    Log.Info("no tenant");
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
                        Log.Info("no tenant");
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
    public Task An_if_without_braces_that_only_released_goes_with_the_release() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool, bool done)
            {
                var conn = [|pool.GetConnection()|];
                var rows = conn.Execute("update a set b = 1");
                if (done)
                    conn.Release();

                return rows;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(Pool pool, bool done)
            {
                var conn = pool.GetConnection();
                try
                {
                    var rows = conn.Execute("update a set b = 1");
                    return rows;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """, ReleaseInFinally);

    // ---------------------------------------------------------------- where the code's own release reaches

    [Theory]
    [InlineData("for (var i = 0; i < ids.Length; i++)", "")]
    [InlineData("foreach (var id in ids)", "")]
    [InlineData("while (ids.Length > 0)", "")]
    [InlineData("do", "while (ids.Length > 0);")]
    public Task A_return_a_loop_brings_the_code_s_own_release_back_to_gets_no_fix(string head, string tail) => NoFixVerifier.VerifyAsync($$"""
        using Prelude;

        class C
        {
            PooledConnection? Open(Pool pool, int[] ids)
            {
                var conn = [|pool.GetConnection()|];
                var released = false;
                {{head}}
                {
                    if (released)
                    {
                        return null;
                    }

                    if (conn.Execute("select 1") == 0)
                    {
                        conn.Release();
                        released = true;
                    }
                }
                {{tail}}

                return released ? null : conn;
            }
        }
        """);

    [Fact]
    public Task A_return_before_a_loop_that_releases_gets_its_own_release() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            PooledConnection? Open(Pool pool, int[] ids, bool early)
            {
                var conn = [|pool.GetConnection()|];
                conn.Execute("set names utf8mb4");
                if (early)
                {
                    return null;
                }

                foreach (var id in ids)
                {
                    if (conn.Execute("select " + id) == 0)
                    {
                        conn.Release();
                        return null;
                    }
                }

                return conn;
            }
        }
        """, """
        using Prelude;

        class C
        {
            PooledConnection? Open(Pool pool, int[] ids, bool early)
            {
                var conn = pool.GetConnection();
                try
                {
                    conn.Execute("set names utf8mb4");
                    if (early)
                    {
                        conn.Release();
                        return null;
                    }

                    foreach (var id in ids)
                    {
                        if (conn.Execute("select " + id) == 0)
                        {
                            conn.Release();
                            return null;
                        }
                    }

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
    public Task A_return_a_goto_brings_the_code_s_own_release_back_to_gets_no_fix() => NoFixVerifier.VerifyAsync("""
        using Prelude;

        class C
        {
            PooledConnection? Open(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                var released = false;
            again:
                if (released)
                {
                    return null;
                }

                if (conn.Execute("select 1") == 0)
                {
                    conn.Release();
                    released = true;
                }

                if (released)
                {
                    goto again;
                }

                return conn;
            }
        }
        """);

    [Fact]
    public Task A_return_a_goto_jumps_forward_to_after_the_code_s_own_release_gets_no_fix() => NoFixVerifier.VerifyAsync("""
        using Prelude;

        class C
        {
            PooledConnection? Open(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                if (conn.Execute("select 1") == 0)
                {
                    conn.Release();
                    goto none;
                }

                return conn;
            none:
                return null;
            }
        }
        """);

    [Fact]
    public Task A_return_in_a_catch_after_a_try_that_releases_gets_no_fix() => NoFixVerifier.VerifyAsync("""
        using System;
        using Prelude;

        class C
        {
            PooledConnection? Open(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                var ok = false;
                try
                {
                    ok = conn.Execute("select 1") > 0;
                    if (!ok)
                    {
                        conn.Release();
                    }
                }
                catch (InvalidOperationException)
                {
                    return null;
                }

                return ok ? conn : null;
            }
        }
        """);

    [Theory]
    [InlineData("if (early)\n            {\n                return null;\n            }\n\n            conn.Execute(\"select 1\");\n            ok = true;\n        }")]
    [InlineData("conn.Execute(\"select 1\");\n            ok = true;\n        }\n        catch (InvalidOperationException)\n        {\n            return null;\n        }")]
    public Task A_return_in_a_try_whose_finally_releases_gets_no_fix(string tryAndCatches) => NoFixVerifier.VerifyAsync($$"""
        using System;
        using Prelude;

        class C
        {
            PooledConnection? Open(Pool pool, bool early)
            {
                var conn = [|pool.GetConnection()|];
                var ok = false;
                try
                {
                    {{tryAndCatches}}
                finally
                {
                    if (!ok)
                    {
                        conn.Release();
                    }
                }

                return conn;
            }
        }
        """);

    // The release was the only statement of a block in a switch section: the emptied block goes with it, and the rest
    // of the section stays in its order.
    [Fact]
    public Task A_block_in_a_switch_section_left_empty_by_the_moved_release_goes() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool, int mode)
            {
                var conn = [|pool.GetConnection()|];
                var rows = conn.Execute("select 1");
                switch (mode)
                {
                    case 0:
                        Log.Info("zero");
                        {
                            conn.Release();
                        }
                        rows += 1;
                        return rows;
                    default:
                        conn.Release();
                        return -1;
                }
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(Pool pool, int mode)
            {
                var conn = pool.GetConnection();
                try
                {
                    var rows = conn.Execute("select 1");
                    switch (mode)
                    {
                        case 0:
                            Log.Info("zero");
                            rows += 1;
                            return rows;
                        default:
                            return -1;
                    }
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task A_return_in_another_switch_section_than_the_release_gets_its_own_release() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            PooledConnection? Open(Pool pool, int mode)
            {
                var conn = [|pool.GetConnection()|];
                var released = false;
                switch (conn.Execute("select 1"))
                {
                    case 0:
                        conn.Release();
                        released = true;
                        break;
                    case 1:
                        return null;
                }

                return released ? null : conn;
            }
        }
        """, """
        using Prelude;

        class C
        {
            PooledConnection? Open(Pool pool, int mode)
            {
                var conn = pool.GetConnection();
                try
                {
                    var released = false;
                    switch (conn.Execute("select 1"))
                    {
                        case 0:
                            conn.Release();
                            released = true;
                            break;
                        case 1:
                            conn.Release();
                            return null;
                    }

                    return released ? null : conn;
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
    public Task A_return_a_goto_case_brings_the_code_s_own_release_to_gets_no_fix() => NoFixVerifier.VerifyAsync("""
        using Prelude;

        class C
        {
            PooledConnection? Open(Pool pool, int mode)
            {
                var conn = [|pool.GetConnection()|];
                var released = false;
                switch (conn.Execute("select 1"))
                {
                    case 0:
                        conn.Release();
                        released = true;
                        goto case 1;
                    case 1:
                        return null;
                }

                return released ? null : conn;
            }
        }
        """);

    [Fact]
    public Task An_early_return_without_braces_gets_braces_around_its_release() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            PooledConnection? Open(Pool pool, bool early)
            {
                var conn = [|pool.GetConnection()|];
                conn.Execute("set names utf8mb4");
                if (early)
                    return null;

                return conn;
            }
        }
        """, """
        using Prelude;

        class C
        {
            PooledConnection? Open(Pool pool, bool early)
            {
                var conn = pool.GetConnection();
                try
                {
                    conn.Execute("set names utf8mb4");
                    if (early)
                    {
                        conn.Release();
                        return null;
                    }

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

    // ---------------------------------------------------------------- shapes the other helpers tell apart

    [Fact]
    public Task A_value_assigned_to_a_local_declared_before_gets_a_new_local() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var rows = 0;
                rows = [|pool.GetConnection()|].Execute("delete from sessions");
                return rows;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var rows = 0;
                var connection = pool.GetConnection();
                try
                {
                    rows = connection.Execute("delete from sessions");
                }
                finally
                {
                    connection.Release();
                }

                return rows;
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task An_if_without_braces_whose_condition_runs_code_leaves_its_condition_when_its_release_moves_out() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                var rows = conn.Execute("update a set b = 1");
                if (conn.Execute("select 1") > 0)
                    conn.Release();

                return rows;
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
                    var rows = conn.Execute("update a set b = 1");
                    _ = conn.Execute("select 1") > 0;

                    return rows;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task A_catch_that_only_released_goes_from_a_try_that_is_the_body_of_an_if_and_its_finally_stays() => Verify.VerifyCodeFixAsync("""
        using System;
        using Prelude;

        class C
        {
            int M(Pool pool, bool audit)
            {
                var conn = [|pool.GetConnection()|];
                var rows = conn.Execute("update a set b = 1");
                if (audit)
                    try
                    {
                        rows += conn.Execute("insert into audit values (1)");
                    }
                    catch (InvalidOperationException)
                    {
                        conn.Release();
                        throw;
                    }
                    finally
                    {
                        Log.Info("audited");
                    }

                conn.Release();
                return rows;
            }
        }
        """, """
        using System;
        using Prelude;

        class C
        {
            int M(Pool pool, bool audit)
            {
                var conn = pool.GetConnection();
                try
                {
                    var rows = conn.Execute("update a set b = 1");
                    if (audit)
                        try
                        {
                            rows += conn.Execute("insert into audit values (1)");
                        }
                        finally
                        {
                            Log.Info("audited");
                        }

                    return rows;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """, ReleaseInFinally);

    // ---------------------------------------------------------------- what a removed release leaves empty goes

    [Fact]
    public Task An_else_if_in_the_middle_of_a_chain_that_only_released_gives_its_else_the_opposite_condition() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                var rows = conn.Execute("update a set b = 1");
                if (rows > 10)
                {
                    Log.Info("many");
                }
                else if (rows == 0)
                {
                    conn.Release();
                }
                else
                {
                    Log.Info("some");
                }

                return rows;
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
                    var rows = conn.Execute("update a set b = 1");
                    if (rows > 10)
                    {
                        Log.Info("many");
                    }
                    else if (rows != 0)
                    {
                        Log.Info("some");
                    }

                    return rows;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task An_if_with_an_else_that_only_released_becomes_the_else_under_the_opposite_condition() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool, bool keep, string? tenant)
            {
                var conn = [|pool.GetConnection()|];
                var rows = conn.Execute("update a set b = 1");
                if (tenant is null || rows > 3)
                {
                    conn.Release();
                }
                else
                {
                    Log.Info("kept");
                }

                return rows;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(Pool pool, bool keep, string? tenant)
            {
                var conn = pool.GetConnection();
                try
                {
                    var rows = conn.Execute("update a set b = 1");
                    if (!(tenant is null || rows > 3))
                    {
                        Log.Info("kept");
                    }

                    return rows;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task An_else_if_at_the_end_whose_condition_does_work_keeps_the_work_in_the_else() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            static bool Audited(string what)
            {
                Log.Info(what);
                return true;
            }

            int M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                var rows = conn.Execute("update a set b = 1");
                if (rows > 10)
                {
                    Log.Info("many");
                }
                else if (Audited("released"))
                {
                    conn.Release();
                }

                return rows;
            }
        }
        """, """
        using Prelude;

        class C
        {
            static bool Audited(string what)
            {
                Log.Info(what);
                return true;
            }

            int M(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    var rows = conn.Execute("update a set b = 1");
                    if (rows > 10)
                    {
                        Log.Info("many");
                    }
                    else
                    {
                        Audited("released");
                    }

                    return rows;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task An_if_whose_condition_declares_a_variable_stays_empty() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            static bool TryCount(string what, out int count)
            {
                count = what.Length;
                return count > 0;
            }

            int M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                var rows = conn.Execute("update a set b = 1");
                if (TryCount("released", out var count))
                {
                    conn.Release();
                }

                return rows;
            }
        }
        """, """
        using Prelude;

        class C
        {
            static bool TryCount(string what, out int count)
            {
                count = what.Length;
                return count > 0;
            }

            int M(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    var rows = conn.Execute("update a set b = 1");
                    if (TryCount("released", out var count))
                    {
                    }

                    return rows;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task A_block_that_only_released_goes_and_the_next_statement_keeps_a_blank_line_after_the_brace_before_it() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool, bool quick)
            {
                var conn = [|pool.GetConnection()|];
                var rows = conn.Execute("update a set b = 1");
                if (quick)
                {
                    rows++;
                }
                {
                    conn.Release();
                }

                return rows;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(Pool pool, bool quick)
            {
                var conn = pool.GetConnection();
                try
                {
                    var rows = conn.Execute("update a set b = 1");
                    if (quick)
                    {
                        rows++;
                    }

                    return rows;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task A_release_right_after_a_closing_brace_leaves_a_blank_line_after_the_brace() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool, bool quick)
            {
                var conn = [|pool.GetConnection()|];
                var rows = conn.Execute("update a set b = 1");
                if (quick)
                {
                    rows++;
                }
                conn.Release();

                return rows;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(Pool pool, bool quick)
            {
                var conn = pool.GetConnection();
                try
                {
                    var rows = conn.Execute("update a set b = 1");
                    if (quick)
                    {
                        rows++;
                    }

                    return rows;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task A_release_removed_from_an_existing_try_after_a_closing_brace_leaves_a_blank_line_after_the_brace() => Verify.VerifyCodeFixAsync("""
        using System;
        using Prelude;

        class C
        {
            int M(Pool pool, bool quick)
            {
                var conn = [|pool.GetConnection()|];
                try
                {
                    var rows = conn.Execute("update a set b = 1");
                    if (quick)
                    {
                        rows++;
                    }

                    conn.Release();
                    return rows;
                }
                catch (InvalidOperationException)
                {
                    Log.Info("failed");
                    return -1;
                }
            }
        }
        """, """
        using System;
        using Prelude;

        class C
        {
            int M(Pool pool, bool quick)
            {
                var conn = pool.GetConnection();
                try
                {
                    var rows = conn.Execute("update a set b = 1");
                    if (quick)
                    {
                        rows++;
                    }

                    return rows;
                }
                catch (InvalidOperationException)
                {
                    Log.Info("failed");
                    return -1;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """, ReleaseInFinally);

    // ---------------------------------------------------------------- a catch left with only 'throw;'

    [Fact]
    public Task A_filtered_catch_that_only_released_and_rethrew_goes_when_its_filter_only_reads() => Verify.VerifyCodeFixAsync("""
        using System;
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                try
                {
                    var rows = conn.Execute("update a set b = 1");
                    conn.Release();
                    return rows;
                }
                catch (InvalidOperationException e) when (e.Message.Length > 0)
                {
                    conn.Release();
                    throw;
                }
            }
        }
        """, """
        using System;
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    var rows = conn.Execute("update a set b = 1");
                    return rows;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task A_filtered_catch_whose_filter_does_work_stays_with_its_rethrow() => Verify.VerifyCodeFixAsync("""
        using System;
        using Prelude;

        class C
        {
            static bool Logged(Exception e)
            {
                Log.Info(e.Message);
                return true;
            }

            int M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                try
                {
                    var rows = conn.Execute("update a set b = 1");
                    conn.Release();
                    return rows;
                }
                catch (InvalidOperationException e) when (Logged(e))
                {
                    conn.Release();
                    throw;
                }
            }
        }
        """, """
        using System;
        using Prelude;

        class C
        {
            static bool Logged(Exception e)
            {
                Log.Info(e.Message);
                return true;
            }

            int M(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    var rows = conn.Execute("update a set b = 1");
                    return rows;
                }
                catch (InvalidOperationException e) when (Logged(e))
                {
                    throw;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """, ReleaseInFinally);

    [Theory]
    [InlineData("catch (Exception)")]
    [InlineData("catch")]
    [InlineData("catch (SystemException)")]
    public Task A_catch_that_only_released_and_rethrew_stays_when_a_later_catch_would_take_its_exceptions(string later) => Verify.VerifyCodeFixAsync($$"""
        using System;
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                try
                {
                    var rows = conn.Execute("update a set b = 1");
                    conn.Release();
                    return rows;
                }
                catch (InvalidOperationException)
                {
                    conn.Release();
                    throw;
                }
                {{later}}
                {
                    Log.Info("failed");
                    return -1;
                }
            }
        }
        """, $$"""
        using System;
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    var rows = conn.Execute("update a set b = 1");
                    return rows;
                }
                catch (InvalidOperationException)
                {
                    throw;
                }
                {{later}}
                {
                    Log.Info("failed");
                    return -1;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task A_catch_that_only_released_and_rethrew_goes_when_no_later_catch_takes_its_exceptions() => Verify.VerifyCodeFixAsync("""
        using System;
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                try
                {
                    var rows = conn.Execute("update a set b = 1");
                    conn.Release();
                    return rows;
                }
                catch (InvalidOperationException)
                {
                    conn.Release();
                    throw;
                }
                catch (FormatException)
                {
                    Log.Info("failed");
                    return -1;
                }
            }
        }
        """, """
        using System;
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    var rows = conn.Execute("update a set b = 1");
                    return rows;
                }
                catch (FormatException)
                {
                    Log.Info("failed");
                    return -1;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task A_release_removed_from_a_catch_the_new_catch_replaces_leaves_a_blank_line_after_the_brace() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            PooledConnection M(Pool pool, bool strict, bool verbose)
            {
                var conn = [|pool.GetConnection()|];
                try
                {
                    conn.Execute("set names utf8mb4");
                }
                catch when (strict)
                {
                    if (verbose)
                    {
                        Log.Info("failed");
                    }
                    conn.Release();
                    throw;
                }

                return conn;
            }
        }
        """, """
        using Prelude;

        class C
        {
            PooledConnection M(Pool pool, bool strict, bool verbose)
            {
                var conn = pool.GetConnection();
                try
                {
                    try
                    {
                        conn.Execute("set names utf8mb4");
                    }
                    catch when (strict)
                    {
                        if (verbose)
                        {
                            Log.Info("failed");
                        }

                        throw;
                    }

                    return conn;
                }
                catch
                {
                    conn.Release();
                    throw;
                }
            }
        }
        """, DisposeOnFailure);

    [Fact]
    public Task An_if_that_only_released_before_an_else_if_holds_the_rest_of_the_chain_under_the_opposite_condition() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            static bool Audited(string what)
            {
                Log.Info(what);
                return true;
            }

            int M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                var rows = conn.Execute("update a set b = 1");
                if (Audited("released"))
                {
                    conn.Release();
                }
                else if (rows > 10)
                {
                    Log.Info("many");
                }

                return rows;
            }
        }
        """, """
        using Prelude;

        class C
        {
            static bool Audited(string what)
            {
                Log.Info(what);
                return true;
            }

            int M(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    var rows = conn.Execute("update a set b = 1");
                    if (!Audited("released"))
                    {
                        if (rows > 10)
                        {
                            Log.Info("many");
                        }
                    }

                    return rows;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task A_lock_that_only_released_stays_as_it_still_waits_for_its_gate() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            readonly object gate = new();

            int M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                var rows = conn.Execute("update a set b = 1");
                lock (gate)
                {
                    conn.Release();
                }

                return rows;
            }
        }
        """, """
        using Prelude;

        class C
        {
            readonly object gate = new();

            int M(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    var rows = conn.Execute("update a set b = 1");
                    lock (gate)
                    {
                    }

                    return rows;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """, ReleaseInFinally);
}
