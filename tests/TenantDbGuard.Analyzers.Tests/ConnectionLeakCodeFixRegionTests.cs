using Microsoft.CodeAnalysis;
using TenantDbGuard.Analyzers.Tests.FixExecution;
using TenantDbGuard.Analyzers.Tests.Verifiers;
using Verify = TenantDbGuard.Analyzers.Tests.Verifiers.CSharpCodeFixVerifier<
    TenantDbGuard.Analyzers.ConnectionLeakAnalyzer,
    TenantDbGuard.CodeFixes.ConnectionLeakCodeFixProvider>;

namespace TenantDbGuard.Analyzers.Tests;

/// <summary>
/// Which statements "Release in 'finally'" puts in its <c>try</c>: it stops before the variable takes another value,
/// keeps locals that later code reads visible, and offers nothing where the result would not compile or would change
/// what the code does.
/// </summary>
[Collection(FixExecutionCollection.Name)]
public sealed class ConnectionLeakCodeFixRegionTests
{
    private const string ReleaseInFinally = "TDG001.ReleaseInFinally";

    // ---------------------------------------------------------------- where the try ends

    [Fact]
    public Task A_new_value_as_the_last_use_stays_after_the_try() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                conn.Execute("update a set b = 1");
                conn = null;
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
                }
                finally
                {
                    conn.Release();
                }

                conn = null;
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task A_release_right_before_the_new_value_moves_into_the_finally_instead_of_staying_beside_it() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                conn.Execute("update a set b = 1");
                conn.Release();
                conn = null;
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
                    conn.Execute("update a set b = 1");
                }
                finally
                {
                    conn.Release();
                }

                conn = null;
                Log.Info("done");
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task Work_after_the_release_stays_after_the_try_and_the_locals_it_reads_are_declared_before_it() => Verify.VerifyCodeFixAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> M(Pool pool)
            {
                var conn = await [|pool.GetConnectionAsync()|];
                var rows = await conn.ExecuteAsync("update a set b = 1");
                conn.Release();
                await Task.Delay(10);
                Log.Info("updated");
                return rows;
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
                int rows;
                try
                {
                    rows = await conn.ExecuteAsync("update a set b = 1");
                }
                finally
                {
                    conn.Release();
                }

                await Task.Delay(10);
                Log.Info("updated");
                return rows;
            }
        }
        """, ReleaseInFinally);

    // One statement after the release that can take time is enough to end the try at the release, whatever quick work
    // comes before it.
    [Fact]
    public Task Quick_work_then_slow_work_after_the_release_stay_after_the_try() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool, bool fail)
            {
                var conn = [|pool.GetConnection()|];
                var rows = conn.Execute("select 1");
                if (fail)
                {
                    return -1;
                }

                conn.Release();
                var doubled = rows * 2;
                Log.Info("rows: " + doubled);
                return doubled;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(Pool pool, bool fail)
            {
                var conn = pool.GetConnection();
                int rows;
                try
                {
                    rows = conn.Execute("select 1");
                    if (fail)
                    {
                        return -1;
                    }
                }
                finally
                {
                    conn.Release();
                }

                var doubled = rows * 2;
                Log.Info("rows: " + doubled);
                return doubled;
            }
        }
        """, ReleaseInFinally);

    /// <summary>
    /// A disposable local made next to the connection and read after the release is not declared earlier (it is a
    /// resource with a life of its own): the try takes in the work after the release instead.
    /// </summary>
    [Fact]
    public Task Work_after_the_release_that_reads_a_disposable_local_of_the_try_stays_in_it() => Verify.VerifyCodeFixAsync("""
        using System.Threading;
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> M(Pool pool)
            {
                var conn = await [|pool.GetConnectionAsync()|];
                var timeout = new CancellationTokenSource();
                var rows = await conn.ExecuteAsync("update a set b = 1", timeout.Token);
                conn.Release();
                await Task.Delay(10, timeout.Token);
                return rows;
            }
        }
        """, """
        using System.Threading;
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> M(Pool pool)
            {
                var conn = await pool.GetConnectionAsync();
                try
                {
                    var timeout = new CancellationTokenSource();
                    var rows = await conn.ExecuteAsync("update a set b = 1", timeout.Token);
                    await Task.Delay(10, timeout.Token);
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
    public Task Work_after_a_statement_that_releases_inside_it_stays_after_the_try() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool, object gate)
            {
                var conn = [|pool.GetConnection()|];
                var rows = 0;
                lock (gate)
                {
                    rows = conn.Execute("update a set b = 1");
                    conn.Release();
                }

                Log.Info("updated");
                return rows;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(Pool pool, object gate)
            {
                var conn = pool.GetConnection();
                int rows;
                try
                {
                    rows = 0;
                    lock (gate)
                    {
                        rows = conn.Execute("update a set b = 1");
                    }
                }
                finally
                {
                    conn.Release();
                }

                Log.Info("updated");
                return rows;
            }
        }
        """, ReleaseInFinally);

    [Theory]
    [InlineData("rows = conn.Execute(\"update a set b = 1\");\nconn.Release();")] // released at the top
    [InlineData("lock (gate)\n{\n    rows = conn.Execute(\"update a set b = 1\");\n    conn.Release();\n}")] // released inside a lock
    public Task A_try_that_would_hold_the_connection_while_the_code_takes_another_gets_no_fix(string work) => NoFixVerifier.VerifyAsync($$"""
        using Prelude;

        class C
        {
            int M(Pool pool, object gate)
            {
                var conn = [|pool.GetConnection()|];
                int rows;
                {{work.Replace("\n", "\n        ")}}

                var audit = pool.GetConnection();
                try
                {
                    audit.Execute("insert into audit_log (action) values ('update')");
                }
                finally
                {
                    audit.Release();
                }

                return rows;
            }
        }
        """);

    [Theory]
    [InlineData("var summary = new { Rows = conn.Execute(\"select 1\") };", "summary.Rows")] // a type that cannot be named
    [InlineData("Span<int> rows = stackalloc int[1];\nrows[0] = conn.Execute(\"select 1\");", "rows[0]")] // a span on the stack
    [InlineData("var (rows, name) = (conn.Execute(\"select 1\"), \"a\");", "rows + name.Length")] // a deconstruction
    [InlineData("using var writer = new System.IO.StringWriter();\nwriter.Write(conn.Execute(\"select 1\"));", "writer.ToString().Length")] // a using declaration
    public Task A_try_that_would_hold_the_connection_while_a_method_of_the_code_takes_another_gets_no_fix(string work, string read) => NoFixVerifier.VerifyAsync($$"""
        using System;
        using Prelude;

        class C
        {
            int M(Pool pool, bool stop)
            {
                var conn = [|pool.GetConnection()|];
                {{work.Replace("\n", "\n        ")}}
                if (stop)
                {
                    return -1;
                }

                conn.Release();
                Audit(pool);
                return {{read}};
            }

            // Takes a connection of the same pool: a try held over this call would wait on itself with a pool of one.
            static void Audit(Pool pool)
            {
                var audit = pool.GetConnection();
                try
                {
                    audit.Execute("insert into audit_log (action) values ('update')");
                }
                finally
                {
                    audit.Release();
                }
            }
        }
        """);

    [Theory]
    [InlineData("""
        int Count(Pool pool, Pool replica)
        {
            var conn = [|pool.GetConnection()|];
            try
            {
                return conn.Execute("select count(*) from orders");
            }
            catch (Exception)
            {
                conn.Release();
                var other = replica.GetConnection();
                var n = other.Execute("select count(*) from orders");
                other.Release();
                return n;
            }
        }
        """)] // a fallback to another connection: the finally would hold both at once
    [InlineData("""
        int Count(LeasePool pool, Pool replica)
        {
            var lease = [|pool.GetConnection()|];
            try
            {
                return lease.Execute("select count(*) from orders");
            }
            catch (Exception)
            {
                lease.Dispose();
                var other = replica.GetConnection();
                var n = other.Execute("select count(*) from orders");
                other.Release();
                return n;
            }
        }
        """)] // the same with a disposable lease: a using would hold both at once too
    [InlineData("""
        async Task<int> CountAsync(Pool pool)
        {
            for (var attempt = 0; ; attempt++)
            {
                var conn = await [|pool.GetConnectionAsync()|].ConfigureAwait(false);
                try
                {
                    var n = await conn.ExecuteAsync("select count(*) from orders").ConfigureAwait(false);
                    conn.Release();
                    return n;
                }
                catch (Exception) when (attempt < 2)
                {
                    conn.Release();
                    Log.Info("backing off");
                    await Task.Delay(200).ConfigureAwait(false);
                }
            }
        }
        """)] // a retry: the finally would hold it through the back-off
    [InlineData("""
        void Touch(Pool pool)
        {
            var conn = [|pool.GetConnection()|];
            try
            {
                conn.Execute("update tenants set seen = now()");
            }
            catch (MySqlException ex)
            {
                conn.Release();
                Log.Info(ex.Message);
                throw;
            }
        }
        """)] // logged before the rethrow
    [InlineData("""
        int Count(Pool pool)
        {
            var conn = [|pool.GetConnection()|];
            var n = conn.Execute("select count(*) from orders");
            if (n == 0)
            {
                conn.Release();
                Log.Info("no orders");
                return 0;
            }

            var m = conn.Execute("select count(*) from invoices");
            conn.Release();
            return n + m;
        }
        """)] // released in a branch of the statements to protect, then work before the return
    public Task A_release_followed_by_more_work_on_its_path_gets_no_fix_that_would_move_it_later(string method) => NoFixVerifier.VerifyAsync($$"""
        using System;
        using System.Threading.Tasks;
        using MySqlConnector;
        using Prelude;

        class C
        {
            {{method.Replace("\n", "\n    ")}}
        }
        """);

    [Fact]
    public Task Releases_in_catches_followed_only_by_a_return_of_a_local_or_a_throw_move_into_the_finally() => Verify.VerifyCodeFixAsync("""
        using System;
        using MySqlConnector;
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var fallback = -1;
                var conn = [|pool.GetConnection()|];
                try
                {
                    var rows = conn.Execute("delete from sessions");
                    conn.Release();
                    return rows;
                }
                catch (MySqlException ex) when (ex.Number == 1213)
                {
                    conn.Release();
                    return fallback;
                }
                catch (MySqlException ex)
                {
                    conn.Release();
                    throw new InvalidOperationException("sessions are locked", ex);
                }
            }
        }
        """, """
        using System;
        using MySqlConnector;
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var fallback = -1;
                var conn = pool.GetConnection();
                try
                {
                    var rows = conn.Execute("delete from sessions");
                    return rows;
                }
                catch (MySqlException ex) when (ex.Number == 1213)
                {
                    return fallback;
                }
                catch (MySqlException ex)
                {
                    throw new InvalidOperationException("sessions are locked", ex);
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task A_constant_read_after_the_release_keeps_the_work_in_the_try_rather_than_losing_its_const() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool, int kind)
            {
                var conn = [|pool.GetConnection()|];
                const int Archived = 2;
                var rows = conn.Execute("update a set b = 1");
                conn.Release();
                switch (kind)
                {
                    case Archived:
                        Log.Info("archived");
                        return 0;
                    default:
                        return rows;
                }
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(Pool pool, int kind)
            {
                var conn = pool.GetConnection();
                try
                {
                    const int Archived = 2;
                    var rows = conn.Execute("update a set b = 1");
                    switch (kind)
                    {
                        case Archived:
                            Log.Info("archived");
                            return 0;
                        default:
                            return rows;
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
    public Task A_return_right_after_the_release_goes_into_the_try() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                var rows = conn.Execute("update a set b = 1");
                conn.Release();
                rows++;
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
                    rows++;
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
    public Task The_try_ends_before_the_first_of_several_new_values() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            void M(Pool primary, Pool replica)
            {
                var conn = [|primary.GetConnection()|];
                conn.Execute("update a set b = 1");
                conn = replica.GetConnection();
                try
                {
                    conn.Execute("update a set b = 2");
                }
                finally
                {
                    conn.Release();
                }
                conn = null;
            }
        }
        """, """
        using Prelude;

        class C
        {
            void M(Pool primary, Pool replica)
            {
                var conn = primary.GetConnection();
                try
                {
                    conn.Execute("update a set b = 1");
                }
                finally
                {
                    conn.Release();
                }

                conn = replica.GetConnection();
                try
                {
                    conn.Execute("update a set b = 2");
                }
                finally
                {
                    conn.Release();
                }
                conn = null;
            }
        }
        """, ReleaseInFinally);

    // ---------------------------------------------------------------- locals read after the try

    [Fact]
    public Task A_local_read_after_the_try_is_declared_before_it() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool primary, Pool replica)
            {
                var conn = [|primary.GetConnection()|];
                var count = conn.Execute("select count(*) from a");
                conn = replica.GetConnection();
                try
                {
                    return count + conn.Execute("select 1");
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
                int count;
                try
                {
                    count = conn.Execute("select count(*) from a");
                }
                finally
                {
                    conn.Release();
                }

                conn = replica.GetConnection();
                try
                {
                    return count + conn.Execute("select 1");
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task A_local_read_only_inside_the_try_stays_declared_there() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool primary, Pool replica)
            {
                var conn = [|primary.GetConnection()|];
                var count = conn.Execute("select count(*) from a");
                Log.Info(count.ToString());
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
                    var count = conn.Execute("select count(*) from a");
                    Log.Info(count.ToString());
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
        """, ReleaseInFinally);

    [Theory]
    [InlineData("int count = conn.Execute(\"select 1\"), total = 0;", "count + total")] // two variables in one declaration
    [InlineData("int count = conn.Execute(\"select 1\"), total = count + 1;", "count")] // two variables in one declaration, one read after
    [InlineData("int count; count = conn.Execute(\"select 1\");", "count")] // declared without a value
    [InlineData("var count = new { N = conn.Execute(\"select 1\") };", "count.N")] // a type that cannot be named
    [InlineData("using var command = new Command(); conn.Execute(\"select 1\");", "command.N")] // a using declaration (disposed at the end of the block)
    [InlineData("var count = new[] { new { N = conn.Execute(\"select 1\") } };", "count[0].N")] // an array of a type that cannot be named
    [InlineData("var count = (A: new { N = conn.Execute(\"select 1\") }, B: 1);", "count.A.N + count.B")] // a tuple holding one
    [InlineData("var count = System.Linq.Enumerable.ToList(new[] { new { N = conn.Execute(\"select 1\") } });", "count[0].N")] // a list of one
    [InlineData("var twice = (int n = 2) => n * conn.Execute(\"select 1\");", "twice()")] // a lambda's own delegate type
    public Task A_local_read_after_the_try_that_cannot_be_declared_before_it_gets_no_fix(string declaration, string read)
    {
        var source = $$"""
            using System;
            using Prelude;

            sealed class Command : IDisposable
            {
                public int N => 1;
                public void Dispose() { }
            }

            class C
            {
                int M(Pool primary, Pool replica)
                {
                    var conn = [|primary.GetConnection()|];
                    {{declaration}}
                    conn = replica.GetConnection();
                    try
                    {
                        return {{read}} + conn.Execute("select 1");
                    }
                    finally
                    {
                        conn.Release();
                    }
                }
            }
            """;
        return Verify.VerifyCodeFixAsync(source, source);
    }

    // ---------------------------------------------------------------- what the try cannot hold

    [Fact]
    public Task A_label_in_the_statements_that_use_the_connection_gets_no_fix()
    {
        // A goto from outside a try cannot reach a label inside it.
        const string source = """
            using Prelude;

            class C
            {
                void M(Pool pool, bool again)
                {
                    var conn = [|pool.GetConnection()|];
                retry:
                    conn.Execute("update a set b = 1");
                    if (again)
                    {
                        again = false;
                        goto retry;
                    }

                    conn.Execute("update a set b = 2");
                }
            }
            """;
        return Verify.VerifyCodeFixAsync(source, source);
    }

    [Fact]
    public Task A_release_under_a_condition_as_the_only_use_leaves_an_empty_try() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool, bool done)
            {
                var conn = [|pool.GetConnection()|];
                if (done)
                {
                    conn.Release();
                }
            }
        }
        """, """
        using Prelude;

        class C
        {
            void M(Pool pool, bool done)
            {
                var conn = pool.GetConnection();
                try
                {
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task A_connection_taken_in_top_level_statements_and_never_used_gets_no_try()
    {
        const string source = """
            using Prelude;

            var pool = new Pool();
            var conn = [|pool.GetConnection()|];
            """;
        var test = Verify.CreateTest(source, source);
        test.TestState.OutputKind = OutputKind.ConsoleApplication;
        test.FixedState.OutputKind = OutputKind.ConsoleApplication;
        return test.RunAsync();
    }

    // Kept in a list the program goes on with: no release in a finally, however the analyzer judged the hand-off.
    [Fact]
    public Task A_connection_taken_in_top_level_statements_and_kept_in_a_list_gets_no_fix() => NoFixVerifier.VerifyAsync("""
        using System.Collections.Generic;
        using Prelude;

        var pool = new Pool();
        var kept = new List<PooledConnection>();
        var conn = [|pool.GetConnection()|];
        kept.Add(conn);
        conn.Execute("select 1");
        Log.Info(kept.Count.ToString());
        """);

    [Fact]
    public Task Top_level_statements_after_a_new_value_stay_after_the_try()
    {
        var test = Verify.CreateTest("""
            using Prelude;

            var pool = new Pool();
            var conn = [|pool.GetConnection()|];
            conn.Execute("update a set b = 1");
            conn = pool.GetConnection();
            try
            {
                conn.Execute("update a set b = 2");
            }
            finally
            {
                conn.Release();
            }
            """, """
            using Prelude;

            var pool = new Pool();
            var conn = pool.GetConnection();
            try
            {
                conn.Execute("update a set b = 1");
            }
            finally
            {
                conn.Release();
            }
            conn = pool.GetConnection();
            try
            {
                conn.Execute("update a set b = 2");
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

    // A local the try declares is read by a later top-level statement: the try takes that statement in too.
    [Fact]
    public Task Top_level_statements_that_read_a_local_the_try_declares_go_into_the_try()
    {
        var test = Verify.CreateTest("""
            using Prelude;

            var pool = new Pool();
            var conn = [|pool.GetConnection()|];
            if (args.Length > 5)
            {
                return 1;
            }

            var rows = conn.Execute("select 1");
            conn.Release();
            Log.Info("rows");
            return rows;
            """, """
            using Prelude;

            var pool = new Pool();
            var conn = pool.GetConnection();
            try
            {
                if (args.Length > 5)
                {
                    return 1;
                }

                var rows = conn.Execute("select 1");
                Log.Info("rows");
                return rows;
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

    // Only a new value of the connection stands between the try and a later read of one of its locals: no fix.
    [Fact]
    public Task Top_level_statements_that_read_a_local_of_the_try_after_a_new_value_get_no_fix()
    {
        var test = Verify.CreateTest("""
            using Prelude;

            var pool = new Pool();
            var conn = [|pool.GetConnection()|];
            var rows = conn.Execute("select 1");
            conn = null!;
            return rows;
            """, """
            using Prelude;

            var pool = new Pool();
            var conn = [|pool.GetConnection()|];
            var rows = conn.Execute("select 1");
            conn = null!;
            return rows;
            """);
        test.TestState.OutputKind = OutputKind.ConsoleApplication;
        test.FixedState.OutputKind = OutputKind.ConsoleApplication;
        return test.RunAsync();
    }

    [Theory]
    [InlineData(" ")]
    [InlineData("\n                ")]
    [InlineData("\n                    ")]
    [InlineData("\n\n                ")]
    public Task Connections_declared_together_in_one_statement_get_a_statement_each_and_are_released_in_finally(string between) => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                PooledConnection first = [|pool.GetConnection()|],BETWEENsecond = [|pool.GetConnection()|];
                var rows = first.Execute("select 1") + second.Execute("select 2");
                second.Release();
                first.Release();
                return rows;
            }
        }
        """.Replace("BETWEEN", between), """
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                PooledConnection first = pool.GetConnection();
                try
                {
                    PooledConnection second = pool.GetConnection();
                    try
                    {
                        var rows = first.Execute("select 1") + second.Execute("select 2");
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

    [Theory]
    [InlineData("for (var i = 0; i < rounds; i++)\n        {\n            total += lease.Execute(\"select 1\");\n            if (i == failAt)\n            {\n                return -total;\n            }\n\n            lease.Release();\n            lease = [|pool.GetConnection()|];\n        }")]
    [InlineData("total += lease.Execute(\"select 1\");\n        if (total > failAt)\n        {\n            lease.Release();\n            lease = pool.GetConnection();\n        }\n\n        if (rounds == 0)\n        {\n            return -total;\n        }")]
    public Task A_local_that_takes_another_connection_inside_the_region_after_releasing_the_last_gets_no_fix(string work) => NoFixVerifier.VerifyAsync($$"""
        using Prelude;

        class C
        {
            int M(Pool pool, int rounds, int failAt)
            {
                var total = 0;
                var lease = [|pool.GetConnection()|];
                {{work.Replace("\n", "\n        ")}}

                lease.Release();
                return total;
            }
        }
        """);

    [Fact]
    public Task A_connection_taken_in_a_branch_after_releasing_the_one_before_gets_no_fix() => NoFixVerifier.VerifyAsync("""
        using Prelude;

        class C
        {
            int M(Pool primary, Pool replica, bool useReplica, bool quick)
            {
                var lease = [|primary.GetConnection()|];
                var rows = lease.Execute("select 1");
                if (useReplica)
                {
                    lease.Release();
                    lease = [|replica.GetConnection()|];
                    rows += lease.Execute("select 2");
                }

                if (quick)
                {
                    return rows;
                }

                lease.Release();
                return rows;
            }
        }
        """);

    // ---------------------------------------------------------------- a connection opened again

    [Fact]
    public Task A_connection_opened_again_after_its_close_is_closed_in_finally_not_disposed() => Verify.VerifyCodeFixAsync("""
        using MySqlConnector;

        class C
        {
            void M(string connectionString, bool quick)
            {
                var conn = new MySqlConnection(connectionString);
                [|conn.Open()|];
                if (quick)
                {
                    conn.Dispose();
                    return;
                }
                using (var cleanup = new MySqlCommand("delete from sessions", conn))
                {
                    cleanup.ExecuteNonQuery();
                }
                conn.Close();
                conn.Open();
                try
                {
                    using var audit = new MySqlCommand("insert into audit (event) values ('checked')", conn);
                    audit.ExecuteNonQuery();
                }
                finally
                {
                    conn.Close();
                }
            }
        }
        """, """
        using MySqlConnector;

        class C
        {
            void M(string connectionString, bool quick)
            {
                var conn = new MySqlConnection(connectionString);
                conn.Open();
                try
                {
                    if (quick)
                    {
                        return;
                    }
                    using (var cleanup = new MySqlCommand("delete from sessions", conn))
                    {
                        cleanup.ExecuteNonQuery();
                    }
                }
                finally
                {
                    conn.Close();
                }

                conn.Open();
                try
                {
                    using var audit = new MySqlCommand("insert into audit (event) values ('checked')", conn);
                    audit.ExecuteNonQuery();
                }
                finally
                {
                    conn.Close();
                }
            }
        }
        """, ReleaseInFinally);

    // ---------------------------------------------------------------- a handler left with nothing to do

    [Fact]
    public Task A_finally_that_only_released_goes_with_its_try_when_the_release_moves_out() => Verify.VerifyCodeFixAsync("""
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
                    rows += conn.Execute("update c set d = 1");

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
    public Task A_finally_that_only_released_inside_a_branch_gives_its_statements_to_the_branch() => Verify.VerifyCodeFixAsync("""
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
            int M(Pool pool, bool more)
            {
                var conn = pool.GetConnection();
                try
                {
                    var rows = conn.Execute("update a set b = 1");
                    if (more)
                    {
                        var extra = conn.Execute("update c set d = 1");
                        rows += extra;

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
    public Task A_finally_that_only_released_keeps_the_comment_written_in_it() => Verify.VerifyCodeFixAsync("""
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
                }
                finally
                { // always, even when the update fails
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
                    try
                    {
                        rows += conn.Execute("update c set d = 1");
                    }
                    finally
                    { // always, even when the update fails
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
    public Task An_else_that_only_released_goes_with_the_release() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool, bool keep)
            {
                var conn = [|pool.GetConnection()|];
                var rows = conn.Execute("update a set b = 1");
                if (keep)
                {
                    Log.Info("kept");
                }
                else
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
            int M(Pool pool, bool keep)
            {
                var conn = pool.GetConnection();
                try
                {
                    var rows = conn.Execute("update a set b = 1");
                    if (keep)
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
    public Task An_if_whose_condition_does_work_leaves_the_call_when_its_release_moves_out() => Verify.VerifyCodeFixAsync("""
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
                    Audited("released");

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
    public Task A_finally_that_only_released_goes_and_the_catch_beside_it_stays() => Verify.VerifyCodeFixAsync("""
        using System;
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
                }
                catch (InvalidOperationException)
                {
                    rows = -1;
                }
                finally
                {
                    conn.Release();
                }

                return rows;
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
                    try
                    {
                        rows += conn.Execute("update c set d = 1");
                    }
                    catch (InvalidOperationException)
                    {
                        rows = -1;
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
    public Task A_try_whose_catch_only_released_keeps_its_using_declarations_scoped_when_statements_follow_it() => Verify.VerifyCodeFixAsync("""
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            async Task M(MySqlDataSource ds)
            {
                var conn = await [|ds.OpenConnectionAsync()|];
                try
                {
                    // A dry run: the transaction is rolled back when it is disposed, at the end of this block.
                    using var tx = await conn.BeginTransactionAsync();
                    using var probe = new MySqlCommand("delete from sessions", conn, tx);
                    await probe.ExecuteNonQueryAsync();
                }
                catch (MySqlException)
                {
                    await conn.DisposeAsync();
                    throw;
                }

                using var audit = new MySqlCommand("insert into audit (event) values ('checked')", conn);
                await audit.ExecuteNonQueryAsync();
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
                {
                    // A dry run: the transaction is rolled back when it is disposed, at the end of this block.
                    using var tx = await conn.BeginTransactionAsync();
                    using var probe = new MySqlCommand("delete from sessions", conn, tx);
                    await probe.ExecuteNonQueryAsync();
                }

                using var audit = new MySqlCommand("insert into audit (event) values ('checked')", conn);
                await audit.ExecuteNonQueryAsync();
            }
        }
        """, "TDG001.UseUsing");

    // ---------------------------------------------------------------- names the statements in the try declare

    [Fact]
    public Task An_out_variable_that_later_code_reads_keeps_the_try_over_that_code() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool, string s)
            {
                var conn = [|pool.GetConnection()|];
                conn.Execute("update a set b = 1");
                if (s.Length == 0)
                {
                    return 0;
                }

                int.TryParse(s, out var n);
                conn.Release();
                Log.Info("released");
                return n;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(Pool pool, string s)
            {
                var conn = pool.GetConnection();
                try
                {
                    conn.Execute("update a set b = 1");
                    if (s.Length == 0)
                    {
                        return 0;
                    }

                    int.TryParse(s, out var n);
                    Log.Info("released");
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
    public Task A_pattern_variable_of_an_if_that_later_code_reads_keeps_the_try_over_that_code() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool, object o, bool early)
            {
                var conn = [|pool.GetConnection()|];
                conn.Execute("update a set b = 1");
                if (early)
                {
                    return 0;
                }

                if (!(o is string text))
                {
                    text = "none";
                }

                conn.Release();
                Log.Info("released");
                return text.Length;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(Pool pool, object o, bool early)
            {
                var conn = pool.GetConnection();
                try
                {
                    conn.Execute("update a set b = 1");
                    if (early)
                    {
                        return 0;
                    }

                    if (!(o is string text))
                    {
                        text = "none";
                    }

                    Log.Info("released");
                    return text.Length;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task Deconstructed_variables_that_later_code_reads_keep_the_try_over_that_code() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool, bool early)
            {
                var conn = [|pool.GetConnection()|];
                var (a, b) = (conn.Execute("select 1"), conn.Execute("select 2"));
                if (early)
                {
                    return 0;
                }

                conn.Release();
                Log.Info("released");
                return a + b;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(Pool pool, bool early)
            {
                var conn = pool.GetConnection();
                try
                {
                    var (a, b) = (conn.Execute("select 1"), conn.Execute("select 2"));
                    if (early)
                    {
                        return 0;
                    }

                    Log.Info("released");
                    return a + b;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task A_local_function_declared_among_the_statements_and_called_later_keeps_the_try_over_the_call() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool, bool early)
            {
                var conn = [|pool.GetConnection()|];
                int Twice(int x) => x * 2;
                var n = conn.Execute("select 1");
                if (early)
                {
                    return 0;
                }

                conn.Release();
                Log.Info("released");
                return Twice(n);
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(Pool pool, bool early)
            {
                var conn = pool.GetConnection();
                try
                {
                    int Twice(int x) => x * 2;
                    var n = conn.Execute("select 1");
                    if (early)
                    {
                        return 0;
                    }

                    Log.Info("released");
                    return Twice(n);
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task A_span_on_the_stack_that_later_code_reads_is_not_declared_before_the_try() => Verify.VerifyCodeFixAsync("""
        using System;
        using Prelude;

        class C
        {
            int M(Pool pool, bool early)
            {
                var conn = [|pool.GetConnection()|];
                Span<byte> buffer = stackalloc byte[4];
                buffer[0] = (byte)conn.Execute("select 1");
                if (early)
                {
                    return 0;
                }

                conn.Release();
                Log.Info("released");
                return buffer[0];
            }
        }
        """, """
        using System;
        using Prelude;

        class C
        {
            int M(Pool pool, bool early)
            {
                var conn = pool.GetConnection();
                try
                {
                    Span<byte> buffer = stackalloc byte[4];
                    buffer[0] = (byte)conn.Execute("select 1");
                    if (early)
                    {
                        return 0;
                    }

                    Log.Info("released");
                    return buffer[0];
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task A_discarded_connection_in_a_statement_that_declares_an_out_variable_is_released_after_the_variable_s_last_use() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                int.TryParse([|pool.GetConnection()|].Execute("select 1").ToString(), out var n);
                Log.Info("parsed");
                return n;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var connection = pool.GetConnection();
                try
                {
                    int.TryParse(connection.Execute("select 1").ToString(), out var n);
                    Log.Info("parsed");
                    return n;
                }
                finally
                {
                    connection.Release();
                }
            }
        }
        """, ReleaseInFinally);

    // Two anonymous objects of one shape share a type, and so the property the try's statement declares: the later
    // one reads that property, not anything the try declares, and nothing needs to be declared before the try.
    [Fact]
    public Task An_anonymous_object_after_the_try_with_the_shape_of_one_inside_it_reads_nothing_the_try_declares() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                var counted = new { Rows = conn.Execute("select 1") };
                Log.Info(counted.Rows.ToString());
                conn.Release();
                var total = new { Rows = 2 };
                return total.Rows;
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
                    var counted = new { Rows = conn.Execute("select 1") };
                    Log.Info(counted.Rows.ToString());
                }
                finally
                {
                    conn.Release();
                }

                var total = new { Rows = 2 };
                return total.Rows;
            }
        }
        """, ReleaseInFinally);

    // ---------------------------------------------------------------- preprocessor directives

    [Fact]
    public Task A_release_under_a_preprocessor_directive_gets_no_fix_that_would_move_it() => NoFixVerifier.VerifyAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool, bool early)
            {
                var conn = [|pool.GetConnection()|];
                var rows = conn.Execute("select 1");
                if (early)
                {
                    return 0;
                }

        #if !LEAK_CHECKS_OFF
                conn.Release();
        #endif
                return rows;
            }
        }
        """);

    [Fact]
    public Task Directives_around_statements_the_try_takes_in_stay_with_them_and_the_text_they_disable_stays_as_written() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool, bool early)
            {
                var conn = [|pool.GetConnection()|];
        #if DEBUG
                Log.Info("debug build");
        #endif
                var rows = conn.Execute("select 1");
                if (early)
                {
                    return 0;
                }

                conn.Release();
                return rows;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(Pool pool, bool early)
            {
                var conn = pool.GetConnection();
                try
                {
        #if DEBUG
                Log.Info("debug build");
        #endif
                    var rows = conn.Execute("select 1");
                    if (early)
                    {
                        return 0;
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
    public Task A_try_that_would_split_an_if_directive_group_between_two_blocks_is_not_offered() => NoFixVerifier.VerifyAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool, Pool replica)
            {
        #if READ_REPLICA
                var conn = replica.GetConnection();
        #else
                var conn = [|pool.GetConnection()|];
        #endif
                var rows = conn.Execute("select 1");
                conn.Release();
                return rows;
            }
        }
        """);

    [Fact]
    public Task A_directive_group_that_ends_above_the_release_stays_where_it_was_when_the_release_moves() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                var rows = conn.Execute("select 1");
        #if TRACE_SQL
                rows += conn.Execute("select 2");
        #endif
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
                    var rows = conn.Execute("select 1");
        #if TRACE_SQL
                rows += conn.Execute("select 2");
        #endif
                    return rows;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """, ReleaseInFinally);

    // The group ends the try's block, as it ended the statements before the release: its #if and #endif stay in one
    // block. Disabled, the whole group is trivia of the release, which moves to the finally without it, and its text
    // stays as written.
    [Theory]
    [InlineData("!TRACE_OFF", "    ")]
    [InlineData("TRACE_SQL", "")]
    public Task A_directive_group_that_ends_the_statements_before_the_release_ends_the_try(string symbol, string indented) => Verify.VerifyCodeFixAsync($$"""
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                conn.Execute("select 1");
        #if {{symbol}}
                conn.Execute("select 2");
        #endif
                conn.Release();
            }
        }
        """, $$"""
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    conn.Execute("select 1");
        #if {{symbol}}
                {{indented}}conn.Execute("select 2");
        #endif
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task A_release_under_a_directive_group_that_opens_right_after_another_one_ends_gets_no_fix_that_would_move_it() => NoFixVerifier.VerifyAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool, bool early)
            {
                var conn = [|pool.GetConnection()|];
                var rows = conn.Execute("select 1");
                if (early)
                {
                    return 0;
                }

        #if !NO_TRACE
                Log.Info("traced");
        #endif
        #if !LEAK_CHECKS_OFF
                conn.Release();
        #endif
                return rows;
            }
        }
        """);

    // Text a directive disables after the release runs after it in the builds that define the symbol: the try ends at
    // the release, as it does before other work, so that no build holds the connection through that text.
    [Fact]
    public Task A_directive_group_after_the_release_stays_after_the_try() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool, bool early)
            {
                var conn = [|pool.GetConnection()|];
                var rows = conn.Execute("select 1");
                if (early)
                {
                    return 0;
                }

                conn.Release();
        #if DEBUG
                System.Threading.Thread.Sleep(100);
        #endif
                return rows;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(Pool pool, bool early)
            {
                var conn = pool.GetConnection();
                int rows;
                try
                {
                    rows = conn.Execute("select 1");
                    if (early)
                    {
                        return 0;
                    }
                }
                finally
                {
                    conn.Release();
                }

        #if DEBUG
                System.Threading.Thread.Sleep(100);
        #endif
                return rows;
            }
        }
        """, ReleaseInFinally);

    // A using would dispose at the end of the block, after the text the directive disables: the first fix is a try that
    // ends at the dispose, not a using.
    [Fact]
    public Task A_directive_group_after_a_dispose_gets_a_try_that_ends_at_the_dispose_rather_than_a_using() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(LeasePool pool, bool early)
            {
                var lease = [|pool.GetConnection()|];
                var rows = lease.Execute("select 1");
                if (early)
                {
                    return 0;
                }

                lease.Dispose();
        #if DEBUG
                System.Threading.Thread.Sleep(100);
        #endif
                return rows;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(LeasePool pool, bool early)
            {
                var lease = pool.GetConnection();
                int rows;
                try
                {
                    rows = lease.Execute("select 1");
                    if (early)
                    {
                        return 0;
                    }
                }
                finally
                {
                    lease.Dispose();
                }

        #if DEBUG
                System.Threading.Thread.Sleep(100);
        #endif
                return rows;
            }
        }
        """);

    [Fact]
    public Task A_directive_group_before_the_end_of_the_block_after_a_dispose_gets_no_using() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            void M(LeasePool pool, bool early)
            {
                var lease = [|pool.GetConnection()|];
                if (early)
                {
                    return;
                }

                lease.Execute("select 1");
                lease.Dispose();
        #if DEBUG
                System.Threading.Thread.Sleep(100);
        #endif
            }
        }
        """, """
        using Prelude;

        class C
        {
            void M(LeasePool pool, bool early)
            {
                var lease = pool.GetConnection();
                try
                {
                    if (early)
                    {
                        return;
                    }

                    lease.Execute("select 1");
                }
                finally
                {
                    lease.Dispose();
                }
        #if DEBUG
                System.Threading.Thread.Sleep(100);
        #endif
            }
        }
        """);

    // Directives outside any method (around a using directive, around a member) are not the fix's business: the fix
    // in the method is offered as without them.
    [Fact]
    public Task Directives_outside_the_method_leave_its_fix_as_it_is() => Verify.VerifyCodeFixAsync("""
        #if TRACE_SQL
        using System.Diagnostics;
        #endif
        using Prelude;

        class C
        {
        #if TRACE_SQL
            static void Trace(string sql) => Debug.WriteLine(sql);
        #endif

            int M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                var rows = conn.Execute("select 1");
                conn.Release();
                return rows;
            }
        }
        """, """
        #if TRACE_SQL
        using System.Diagnostics;
        #endif
        using Prelude;

        class C
        {
        #if TRACE_SQL
            static void Trace(string sql) => Debug.WriteLine(sql);
        #endif

            int M(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    var rows = conn.Execute("select 1");
                    return rows;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """, ReleaseInFinally);

    // ---------------------------------------------------------------- a fallback: taken in a try, or in its catch

    // Declared with a value (null) before its fallback: the finally can read it on every path, and the try takes the
    // fallback in (a connection taken before a failing catch is released too); the release checks for null.
    [Fact]
    public Task A_fallback_into_a_local_declared_with_null_is_released_around_it() => Verify.VerifyCodeFixAsync("""
        using System;
        using Prelude;

        class C
        {
            int M(Pool primary, Pool backup, bool empty)
            {
                PooledConnection conn = null;
                try
                {
                    Log.Info("primary");
                    conn = [|primary.GetConnection()|];
                }
                catch (InvalidOperationException)
                {
                    conn = [|backup.GetConnection()|];
                }

                var n = conn.Execute("select 1");
                if (empty)
                {
                    return 0;
                }

                conn.Release();
                return n;
            }
        }
        """, """
        using System;
        using Prelude;

        class C
        {
            int M(Pool primary, Pool backup, bool empty)
            {
                PooledConnection conn = null;
                try
                {
                    try
                    {
                        Log.Info("primary");
                        conn = primary.GetConnection();
                    }
                    catch (InvalidOperationException)
                    {
                        conn = backup.GetConnection();
                    }

                    var n = conn.Execute("select 1");
                    if (empty)
                    {
                        return 0;
                    }

                    return n;
                }
                finally
                {
                    conn?.Release();
                }
            }
        }
        """);

    // Only a try and its catches make a fallback. An if whose other branch takes the caller's connection is none: a
    // release after it would give back a connection this method never took.
    [Fact]
    public Task A_connection_taken_in_one_branch_of_an_if_and_the_caller_s_in_the_other_gets_no_fix() => NoFixVerifier.VerifyAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool, PooledConnection shared, bool own)
            {
                PooledConnection conn;
                if (own)
                {
                    conn = [|pool.GetConnection()|];
                }
                else
                {
                    conn = shared;
                }

                return conn.Execute("select 1");
            }
        }
        """);

    [Fact]
    public Task A_connection_taken_in_a_try_or_else_in_its_catch_is_released_from_after_the_try() => Verify.VerifyCodeFixAsync("""
        using System;
        using Prelude;

        class C
        {
            int M(Pool primary, Pool backup, bool empty)
            {
                PooledConnection conn;
                try
                {
                    Log.Info("primary");
                    conn = [|primary.GetConnection()|];
                }
                catch (InvalidOperationException)
                {
                    conn = [|backup.GetConnection()|];
                }

                var n = conn.Execute("select 1");
                if (empty)
                {
                    return 0;
                }

                conn.Release();
                return n;
            }
        }
        """, """
        using System;
        using Prelude;

        class C
        {
            int M(Pool primary, Pool backup, bool empty)
            {
                PooledConnection conn;
                try
                {
                    Log.Info("primary");
                    conn = primary.GetConnection();
                }
                catch (InvalidOperationException)
                {
                    conn = backup.GetConnection();
                }

                try
                {
                    var n = conn.Execute("select 1");
                    if (empty)
                    {
                        return 0;
                    }

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
    public Task A_fallback_released_inside_a_branch_too_is_released_from_after_the_try() => Verify.VerifyCodeFixAsync("""
        using System;
        using Prelude;

        class C
        {
            int M(Pool primary, Pool backup)
            {
                PooledConnection conn;
                try
                {
                    conn = [|primary.GetConnection()|];
                }
                catch (InvalidOperationException)
                {
                    conn = [|backup.GetConnection()|];
                }

                var n = conn.Execute("select 1");
                if (n == 0)
                {
                    conn.Release();
                    return 0;
                }

                n += conn.Execute("select 2");
                conn.Release();
                return n;
            }
        }
        """, """
        using System;
        using Prelude;

        class C
        {
            int M(Pool primary, Pool backup)
            {
                PooledConnection conn;
                try
                {
                    conn = primary.GetConnection();
                }
                catch (InvalidOperationException)
                {
                    conn = backup.GetConnection();
                }

                try
                {
                    var n = conn.Execute("select 1");
                    if (n == 0)
                    {
                        return 0;
                    }

                    n += conn.Execute("select 2");
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
    public Task A_fallback_whose_other_catches_throw_or_return_is_released_from_after_the_try() => Verify.VerifyCodeFixAsync("""
        using System;
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> M(Pool primary, Pool backup, int limit)
            {
                PooledConnection conn;
                try
                {
                    conn = await [|primary.GetConnectionAsync()|];
                }
                catch (TimeoutException) when (limit > 0)
                {
                    conn = await [|backup.GetConnectionAsync()|];
                }
                catch (ArgumentException)
                {
                    Log.Info("no tenant");
                    return -1;
                }
                catch (InvalidOperationException ex)
                {
                    throw new ApplicationException("no pool", ex);
                }

                var n = await conn.ExecuteAsync("select 1");
                if (n > limit)
                {
                    return limit;
                }

                conn.Release();
                return n;
            }
        }
        """, """
        using System;
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> M(Pool primary, Pool backup, int limit)
            {
                PooledConnection conn;
                try
                {
                    conn = await primary.GetConnectionAsync();
                }
                catch (TimeoutException) when (limit > 0)
                {
                    conn = await backup.GetConnectionAsync();
                }
                catch (ArgumentException)
                {
                    Log.Info("no tenant");
                    return -1;
                }
                catch (InvalidOperationException ex)
                {
                    throw new ApplicationException("no pool", ex);
                }

                try
                {
                    var n = await conn.ExecuteAsync("select 1");
                    if (n > limit)
                    {
                        return limit;
                    }

                    return n;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """, ReleaseInFinally);

    [Theory]
    // The catch gives the local a connection the code already had: the finally would release that one too.
    [InlineData("conn = [|primary.GetConnection()|];", "conn = spare;", "")]
    // Work after the acquisition inside the try: if it fails, the catch overwrites a connection still held.
    [InlineData("conn = [|primary.GetConnection()|]; conn.Execute(\"select 1\");", "conn = [|backup.GetConnection()|];", "")]
    // Work after the acquisition inside the catch: if it fails, the backup connection leaves with the exception.
    [InlineData("conn = [|primary.GetConnection()|];", "conn = [|backup.GetConnection()|]; Log.Info(\"backup\");", "")]
    // The try has a finally of its own.
    [InlineData("conn = [|primary.GetConnection()|];", "Log.Info(\"no backup\"); throw;", "finally { Log.Info(\"tried\"); }")]
    public Task A_try_that_is_not_a_plain_fallback_gets_no_fix(string inTry, string inCatch, string finallyClause) => NoFixVerifier.VerifyAsync($$"""
        using System;
        using Prelude;

        class C
        {
            int M(Pool primary, Pool backup, PooledConnection spare, bool empty)
            {
                PooledConnection conn;
                try
                {
                    {{inTry}}
                }
                catch (InvalidOperationException)
                {
                    {{inCatch}}
                }
                {{finallyClause}}

                var n = conn.Execute("select 1");
                if (empty)
                {
                    return 0;
                }

                conn.Release();
                return n;
            }
        }
        """);

    [Fact]
    public Task A_choice_between_two_acquisition_methods_of_a_library_is_disposed_as_one() => Verify.VerifyCodeFixAsync("""
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            async Task<object?> M(MySqlDataSource primary, MySqlDataSource backup, bool useBackup)
            {
                var conn = useBackup ? await [|backup.OpenConnectionAsync()|] : [|primary.OpenConnection()|];
                var count = await new MySqlCommand("select count(*) from invoices", conn).ExecuteScalarAsync();
                await conn.DisposeAsync();
                return count;
            }
        }
        """, """
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            async Task<object?> M(MySqlDataSource primary, MySqlDataSource backup, bool useBackup)
            {
                await using var conn = useBackup ? await backup.OpenConnectionAsync() : primary.OpenConnection();
                var count = await new MySqlCommand("select count(*) from invoices", conn).ExecuteScalarAsync();
                return count;
            }
        }
        """);

    /// <summary>
    /// The other way to the connection is a method of the code named like an acquisition: it may hand out one connection
    /// it keeps (as here), so a release after the try or the choice would give back a connection the code still uses.
    /// </summary>
    [Theory]
    [InlineData("""
        PooledConnection conn;
        try
        {
            conn = [|primary.GetConnection()|];
        }
        catch (InvalidOperationException)
        {
            conn = shared.GetConnection();
        }
        """)]
    [InlineData("var conn = flag ? [|primary.GetConnection()|] : shared.GetConnection();")]
    [InlineData("var conn = [|primary.GetConnection()|] ?? shared.GetConnection();")]
    public Task A_fallback_or_choice_whose_other_connection_comes_from_a_method_of_the_code_gets_no_fix(string taking) => NoFixVerifier.VerifyAsync($$"""
        using System;
        using Prelude;

        sealed class SharedConnections
        {
            private readonly PooledConnection _one;

            public SharedConnections(Pool pool) => _one = pool.GetConnection();

            public PooledConnection GetConnection() => _one;
        }

        class C
        {
            int M(Pool primary, SharedConnections shared, bool flag, bool empty)
            {
                {{taking}}

                var n = conn.Execute("select 1");
                if (empty)
                {
                    return 0;
                }

                conn.Release();
                return n;
            }
        }
        """);

    // ---------------------------------------------------------------- a pattern that names the acquisition

    [Theory]
    [InlineData("{ } conn")]
    [InlineData("PooledConnection conn")]
    public Task A_connection_named_by_a_pattern_in_an_if_is_released_in_a_finally_inside_the_if(string pattern) => Verify.VerifyCodeFixAsync($$"""
        using Prelude;

        class C
        {
            int M(Pool pool, bool quick)
            {
                if ([|pool.GetConnection()|] is {{pattern}})
                {
                    var n = conn.Execute("select count(*) from orders");
                    if (quick)
                    {
                        return n;
                    }

                    conn.Release();
                    return n + 1;
                }

                return -1;
            }
        }
        """, $$"""
        using Prelude;

        class C
        {
            int M(Pool pool, bool quick)
            {
                if (pool.GetConnection() is {{pattern}})
                {
                    try
                    {
                        var n = conn.Execute("select count(*) from orders");
                        if (quick)
                        {
                            return n;
                        }

                        return n + 1;
                    }
                    finally
                    {
                        conn.Release();
                    }
                }

                return -1;
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task An_awaited_connection_named_by_a_pattern_and_returned_is_released_on_failure_only() => Verify.VerifyCodeFixAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<PooledConnection> M(Pool pool)
            {
                if (await [|pool.GetConnectionAsync()|] is { } conn)
                {
                    await conn.ExecuteAsync("set @warm = 1");
                    return conn;
                }

                return null;
            }
        }
        """, """
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<PooledConnection> M(Pool pool)
            {
                if (await pool.GetConnectionAsync() is { } conn)
                {
                    try
                    {
                        await conn.ExecuteAsync("set @warm = 1");
                        return conn;
                    }
                    catch
                    {
                        conn.Release();
                        throw;
                    }
                }

                return null;
            }
        }
        """, "TDG001.DisposeOnFailure");

    [Theory]
    // The pattern names only what is inside the connection.
    [InlineData(
        "if ([|pool.GetConnection()|] is { Inner: var inner }) { n = inner.ConnectionTimeout; }",
        "if (connection is { Inner: var inner }) { n = inner.ConnectionTimeout; }")]
    // The block is empty.
    [InlineData("if ([|pool.GetConnection()|] is { } conn) { }", "if (connection is { } conn) { }")]
    // The pattern names nothing.
    [InlineData(
        "if ([|pool.GetConnection()|] is not null) { n = 1; }",
        "if (connection is not null) { n = 1; }")]
    // The pattern's local is assigned after the if: the local around the if lives as long.
    [InlineData(
        "if ([|pool.GetConnection()|] is { } conn) { n = conn.Execute(\"select 1\"); } conn = null;",
        "if (connection is { } conn) { n = conn.Execute(\"select 1\"); }\n            conn = null;")]
    public Task A_pattern_on_the_acquisition_whose_if_is_not_the_connections_life_gets_a_local_around_what_uses_it(string body, string fixedBody) => Verify.VerifyCodeFixAsync($$"""
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var n = 0;
                {{body}}
                return n;
            }
        }
        """, $$"""
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var n = 0;
                var connection = pool.GetConnection();
                try
                {
                    {{fixedBody}}
                }
                finally
                {
                    connection.Release();
                }

                return n;
            }
        }
        """);

    [Theory]
    // An else: the pattern's local is in scope there too, and a type pattern narrower than the call's could fail.
    [InlineData("if ([|pool.GetConnection()|] is { } conn) { n = conn.Execute(\"select 1\"); if (quick) { return n; } conn.Release(); } else { Log.Info(\"none\"); }")]
    // The local is used after the if (an is-not pattern keeps it in scope).
    [InlineData("if ([|pool.GetConnection()|] is not { } conn) { return -1; } n = conn.Execute(\"select 1\"); if (quick) { return n; } conn.Release();")]
    // A pattern with a property test: a connection that does not match is lost on the other path.
    [InlineData("if ([|pool.GetConnection()|] is { Inner: not null } conn) { n = conn.Execute(\"select 1\"); if (quick) { return n; } conn.Release(); }")]
    public Task A_pattern_on_the_acquisition_that_does_not_hold_the_connections_whole_life_gets_no_fix(string body) => NoFixVerifier.VerifyAsync($$"""
        using Prelude;

        class C
        {
            int M(Pool pool, bool quick)
            {
                var n = 0;
                {{body}}
                return n;
            }
        }
        """);
}
