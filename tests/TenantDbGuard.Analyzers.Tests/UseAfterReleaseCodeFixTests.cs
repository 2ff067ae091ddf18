using Microsoft.CodeAnalysis.Testing;
using TenantDbGuard.Analyzers.Tests.FixExecution;
using TenantDbGuard.Analyzers.Tests.Verifiers;
using Verify = TenantDbGuard.Analyzers.Tests.Verifiers.CSharpCodeFixVerifier<
    TenantDbGuard.Analyzers.ConnectionLeakAnalyzer,
    TenantDbGuard.CodeFixes.UseAfterReleaseCodeFixProvider>;

namespace TenantDbGuard.Analyzers.Tests;

[Collection(FixExecutionCollection.Name)]
public sealed class UseAfterReleaseCodeFixTests
{
    private static DiagnosticResult Tdg004(string subject, string text) =>
        new DiagnosticResult(Descriptors.ConnectionUsedAfterRelease).WithLocation(0).WithLocation(1).WithArguments(subject, text);

    private static Task VerifyAsync(string source, string fixedSource, params DiagnosticResult[] expected)
    {
        var test = Verify.CreateTest(source, fixedSource);
        test.ExpectedDiagnostics.AddRange(expected);
        return test.RunAsync(CancellationToken.None);
    }

    [Fact]
    public Task Second_release_is_removed() => VerifyAsync("""
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
                    {|#1:conn.Release()|};
                }

                {|#0:conn.Release()|};
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

                Log.Info("done");
            }
        }
        """,
        Tdg004("'conn'", "is released again at line 17 after it was released at line 14"));

    [Fact]
    public Task Second_release_on_the_line_of_another_statement_is_removed_alone() => VerifyAsync("""
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
                    {|#1:conn.Release()|};
                }

                Log.Info("released"); {|#0:conn.Release()|};
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

                Log.Info("released");
                Log.Info("done");
            }
        }
        """,
        Tdg004("'conn'", "is released again at line 17 after it was released at line 14"));

    [Theory]
    [InlineData("{|#0:conn.Release()|}; // a second time, to be sure", "// a second time, to be sure")] // after it on its line
    [InlineData("// once more\n{|#0:conn.Release()|};", "// once more")] // on the line above it
    [InlineData("{|#0:conn.Release()|}; /* twice */ Log.Info(\"released\");", "/* twice */ Log.Info(\"released\");")] // before a statement on its line
    public Task Comments_of_a_removed_second_release_stay(string release, string kept) => VerifyAsync($$"""
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
                    {|#1:conn.Release()|};
                }

                {{release.Replace("\n", "\n        ")}}
                Log.Info("done");
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
                    conn.Execute("update a set b = 1");
                }
                finally
                {
                    conn.Release();
                }

                {{kept}}
                Log.Info("done");
            }
        }
        """,
        Tdg004("'conn'", $"is released again at line {(release.Contains('\n') ? 18 : 17)} after it was released at line 14"));

    [Fact]
    public Task Second_release_on_the_line_of_its_block_s_opening_brace_is_removed_alone() => VerifyAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool, bool audit)
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

                if (audit) { {|#0:conn.Release()|};
                    Log.Info("done");
                }
            }
        }
        """, """
        using Prelude;

        class C
        {
            void M(Pool pool, bool audit)
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

                if (audit) {
                    Log.Info("done");
                }
            }
        }
        """,
        Tdg004("'conn'", "is released again at line 17 after it was released at line 14"));

    [Fact]
    public Task Second_release_in_a_file_with_CRLF_line_ends_goes_with_its_line_and_the_rest_keeps_CRLF() => VerifyAsync(
        "using Prelude;\r\n\r\nclass C\r\n{\r\n    void M(Pool pool)\r\n    {\r\n        var conn = pool.GetConnection();\r\n        try\r\n        {\r\n            conn.Execute(\"update a set b = 1\");\r\n        }\r\n        finally\r\n        {\r\n            {|#1:conn.Release()|};\r\n        }\r\n\r\n        {|#0:conn.Release()|};\r\n        Log.Info(\"done\");\r\n    }\r\n}\r\n",
        "using Prelude;\r\n\r\nclass C\r\n{\r\n    void M(Pool pool)\r\n    {\r\n        var conn = pool.GetConnection();\r\n        try\r\n        {\r\n            conn.Execute(\"update a set b = 1\");\r\n        }\r\n        finally\r\n        {\r\n            conn.Release();\r\n        }\r\n\r\n        Log.Info(\"done\");\r\n    }\r\n}\r\n",
        Tdg004("'conn'", "is released again at line 17 after it was released at line 14"));

    [Fact]
    public Task Second_null_conditional_release_is_removed() => VerifyAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                var conn = pool.GetConnection();
                {|#1:conn.Release()|};
                {|#0:conn?.Release()|};
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
            }
        }
        """,
        Tdg004("'conn'", "is released again at line 9 after it was released at line 8"));

    [Fact]
    public Task Explicit_dispose_of_a_using_variable_is_removed() => VerifyAsync("""
        using Prelude;

        class C
        {
            void M(LeasePool pool)
            {
                using var {|#1:lease = pool.GetConnection()|};
                lease.Execute("update a set b = 1");
                {|#0:lease.Dispose()|};
            }
        }
        """, """
        using Prelude;

        class C
        {
            void M(LeasePool pool)
            {
                using var lease = pool.GetConnection();
                lease.Execute("update a set b = 1");
            }
        }
        """,
        Tdg004("'lease'", "is released at line 9 and again by its 'using' at line 7"));

    [Fact]
    public Task Awaited_explicit_DisposeAsync_of_an_await_using_variable_is_removed() => VerifyAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task M(LeasePool pool)
            {
                await using var {|#1:lease = await pool.GetConnectionAsync("t1")|};
                await lease.ExecuteAsync("update a set b = 1");
                await {|#0:lease.DisposeAsync()|}.ConfigureAwait(false);
                Log.Info("done");
            }
        }
        """, """
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task M(LeasePool pool)
            {
                await using var lease = await pool.GetConnectionAsync("t1");
                await lease.ExecuteAsync("update a set b = 1");
                Log.Info("done");
            }
        }
        """,
        Tdg004("'lease'", "is released at line 10 and again by its 'using' at line 8"));

    [Fact]
    public Task Release_in_try_repeated_by_the_finally_is_removed() => VerifyAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    conn.Execute("update a set b = 1");
                    {|#0:conn.Release()|};
                }
                finally
                {
                    {|#1:conn.Release()|};
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
                    conn.Execute("update a set b = 1");
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """,
        Tdg004("'conn'", "is released at line 11 and again in the 'finally' at line 15"));

    [Fact]
    public Task Second_release_that_is_the_only_one_on_another_path_is_not_fixed()
    {
        const string Source = """
            using Prelude;

            class C
            {
                void M(Pool pool, bool early)
                {
                    var conn = pool.GetConnection();
                    if (early)
                    {
                        {|#1:conn.Release()|};
                    }

                    {|#0:conn.Release()|};
                }
            }
            """;
        return VerifyAsync(Source, Source, Tdg004("'conn'", "is released again at line 13 after it was released at line 10"));
    }

    [Fact]
    public Task Second_release_under_an_if_without_a_block_is_not_fixed()
    {
        const string Source = """
            using Prelude;

            class C
            {
                void M(Pool pool, bool twice)
                {
                    var conn = pool.GetConnection();
                    {|#1:conn.Release()|};
                    if (twice)
                        {|#0:conn.Release()|};
                }
            }
            """;
        return VerifyAsync(Source, Source, Tdg004("'conn'", "is released again at line 10 after it was released at line 8"));
    }

    [Fact]
    public Task Release_in_try_is_not_removed_when_the_finally_releases_only_under_a_condition()
    {
        const string Source = """
            using Prelude;

            class C
            {
                void M(Pool pool, bool pooled)
                {
                    var conn = [|pool.GetConnection()|];
                    try
                    {
                        conn.Execute("update a set b = 1");
                        {|#0:conn.Release()|};
                    }
                    finally
                    {
                        if (pooled)
                        {
                            {|#1:conn.Release()|};
                        }
                    }
                }
            }
            """;
        return VerifyAsync(Source, Source, Tdg004("'conn'", "is released at line 11 and again in the 'finally' at line 17"));
    }

    [Fact]
    public Task Use_after_release_is_not_fixed()
    {
        const string Source = """
            using Prelude;

            class C
            {
                int M(Pool pool)
                {
                    var conn = pool.GetConnection();
                    {|#1:conn.Release()|};
                    return {|#0:conn.Execute("select 1")|};
                }
            }
            """;
        return VerifyAsync(Source, Source, Tdg004("'conn'", "is used at line 9 after it was released at line 8"));
    }

    [Fact]
    public Task Release_in_a_retry_catch_followed_by_a_new_acquisition_is_not_removed() => NoFixVerifier.VerifyUseAfterReleaseAsync("""
        using System;
        using Prelude;

        class C
        {
            int M(LeasePool pool)
            {
                var lease = pool.GetConnection();
                try
                {
                    for (var attempt = 0; ; attempt++)
                    {
                        try
                        {
                            return lease.Execute("select 1");
                        }
                        catch (Exception) when (attempt < 2)
                        {
                            {|#0:lease.Dispose()|};
                            lease = pool.GetConnection();
                        }
                    }
                }
                finally
                {
                    {|#1:lease.Dispose()|};
                }
            }
        }
        """);

    [Fact]
    public Task Release_through_a_wrapper_of_the_using_variable_is_not_removed() => NoFixVerifier.VerifyUseAfterReleaseAsync("""
        using System;
        using System.Data;
        using MySqlConnector;

        sealed class Session : IDisposable
        {
            private readonly MySqlConnection _connection;

            public Session(MySqlConnection connection) => _connection = connection;

            public void Dispose() => _connection.Dispose();
        }

        class C
        {
            bool M(string connectionString)
            {
                using (var {|#1:connection = new MySqlConnection(connectionString)|})
                {
                    connection.Open();
                    var session = new Session(connection);
                    {|#0:session.Dispose()|};
                    return connection.State == ConnectionState.Closed;
                }
            }
        }
        """);

    // The explicit dispose is the one that does the work; the using's own, after it, finds nothing left to do. Where every
    // other await of the function is configured, removing it would leave that work to the using's unconfigured await: a
    // deadlock for a caller that blocks on the task under a synchronization context, and CA2007 where it is enforced.
    [Fact]
    public Task Configured_DisposeAsync_before_an_unconfigured_await_using_in_a_configured_function_is_not_removed() => NoFixVerifier.VerifyUseAfterReleaseAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> M(LeasePool pool)
            {
                await using var {|#1:lease = await pool.GetConnectionAsync("t1").ConfigureAwait(false)|};
                var n = await lease.ExecuteAsync("select 1").ConfigureAwait(false);
                await {|#0:lease.DisposeAsync()|}.ConfigureAwait(false);
                return n;
            }
        }
        """);

    [Fact]
    public Task Release_followed_by_a_read_of_the_state_is_not_removed() => NoFixVerifier.VerifyUseAfterReleaseAsync("""
        using System.Data;
        using MySqlConnector;

        class C
        {
            bool M(string connectionString)
            {
                using (var {|#1:connection = new MySqlConnection(connectionString)|})
                {
                    connection.Open();
                    {|#0:connection.Dispose()|};
                    return connection.State == ConnectionState.Closed;
                }
            }
        }
        """);

    [Fact]
    public Task Release_before_a_reassignment_in_a_loop_is_not_removed() => NoFixVerifier.VerifyUseAfterReleaseAsync("""
        using System;
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    for (var attempt = 0; attempt < 3; attempt++)
                    {
                        {|#0:conn.Release()|};
                        Log.Info("reconnecting");
                        conn = pool.GetConnection();
                        conn.Execute("select 1");
                    }
                }
                finally
                {
                    {|#1:conn.Release()|};
                }
            }
        }
        """);

    [Fact]
    public Task Release_after_an_earlier_reassignment_is_removed() => VerifyAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool)
            {
                var conn = pool.GetConnection();
                conn.Release();
                conn = pool.GetConnection();
                try
                {
                    conn.Execute("update a set b = 1");
                }
                finally
                {
                    {|#1:conn.Release()|};
                }

                {|#0:conn.Release()|};
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
                conn = pool.GetConnection();
                try
                {
                    conn.Execute("update a set b = 1");
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """,
        Tdg004("'conn'", "is released again at line 19 after it was released at line 16"));

    [Fact]
    public Task Release_in_a_lambda_inside_a_loop_is_removed_when_the_lambda_assigns_before_it() => VerifyAsync("""
        using System;
        using Prelude;

        class C
        {
            void M(Pool pool, int[] ids)
            {
                foreach (var id in ids)
                {
                    Action work = () =>
                    {
                        var conn = pool.GetConnection();
                        conn.Release();
                        conn = pool.GetConnection();
                        try
                        {
                            conn.Execute("update a set b = 1");
                        }
                        finally
                        {
                            {|#1:conn.Release()|};
                        }

                        {|#0:conn.Release()|};
                    };
                    work();
                }
            }
        }
        """, """
        using System;
        using Prelude;

        class C
        {
            void M(Pool pool, int[] ids)
            {
                foreach (var id in ids)
                {
                    Action work = () =>
                    {
                        var conn = pool.GetConnection();
                        conn.Release();
                        conn = pool.GetConnection();
                        try
                        {
                            conn.Execute("update a set b = 1");
                        }
                        finally
                        {
                            conn.Release();
                        }
                    };
                    work();
                }
            }
        }
        """,
        Tdg004("'conn'", "is released again at line 24 after it was released at line 21"));

    [Fact]
    public Task Release_followed_by_a_reassignment_is_not_removed() => NoFixVerifier.VerifyUseAfterReleaseAsync("""
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
                    {|#1:conn.Release()|};
                }

                {|#0:conn.Release()|};
                conn = pool.GetConnection();
                conn.Release();
            }
        }
        """);

    [Fact]
    public Task Release_after_a_reassignment_in_a_loop_around_it_is_not_removed() => NoFixVerifier.VerifyUseAfterReleaseAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool, int rounds)
            {
                var conn = pool.GetConnection();
                try
                {
                    while (rounds-- > 0)
                    {
                        conn = pool.GetConnection();
                        conn.Execute("select 1");
                        {|#0:conn.Release()|};
                    }
                }
                finally
                {
                    {|#1:conn.Release()|};
                }
            }
        }
        """);

    [Fact]
    public Task Fix_all_removes_every_redundant_release_in_the_document() => VerifyAsync("""
        using Prelude;

        class C
        {
            void A(LeasePool pool)
            {
                using var {|#1:lease = pool.GetConnection()|};
                {|#0:lease.Dispose()|};
            }

            void B(Pool pool)
            {
                var conn = pool.GetConnection();
                {|#3:conn.Release()|};
                {|#2:conn.Release()|};
            }
        }
        """, """
        using Prelude;

        class C
        {
            void A(LeasePool pool)
            {
                using var lease = pool.GetConnection();
            }

            void B(Pool pool)
            {
                var conn = pool.GetConnection();
                conn.Release();
            }
        }
        """,
        Tdg004("'lease'", "is released at line 8 and again by its 'using' at line 7"),
        new DiagnosticResult(Descriptors.ConnectionUsedAfterRelease).WithLocation(2).WithLocation(3)
            .WithArguments("'conn'", "is released again at line 15 after it was released at line 14"));

    // ---------------------------------------------------------------- an early release before another connection

    [Fact]
    public Task An_early_dispose_of_a_using_lease_before_the_code_takes_another_stays() => VerifyAsync("""
        using Prelude;

        class C
        {
            int M(LeasePool pool)
            {
                using var {|#1:lease = pool.GetConnection()|};
                var n = lease.Execute("select 1");
                {|#0:lease.Dispose()|};
                using var audit = pool.GetConnection();
                return n + audit.Execute("insert into audit values (1)");
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(LeasePool pool)
            {
                using var {|#1:lease = pool.GetConnection()|};
                var n = lease.Execute("select 1");
                {|#0:lease.Dispose()|};
                using var audit = pool.GetConnection();
                return n + audit.Execute("insert into audit values (1)");
            }
        }
        """,
        Tdg004("'lease'", "is released at line 9 and again by its 'using' at line 7"));

    [Theory]
    [InlineData("var audit = pool.GetConnection();")]
    [InlineData("var audit = await pool.GetConnectionAsync();")]
    [InlineData("PooledConnection audit; audit = Next(pool);")]
    [InlineData("var audit = Task.Run(() => pool.GetConnection()).Result;")]
    public Task An_early_release_in_a_try_before_the_code_takes_another_stays(string take) => VerifyAsync($$"""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            static PooledConnection Next(Pool pool) => pool.GetConnection();

            async Task<int> M(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    var n = conn.Execute("select 1");
                    {|#0:conn.Release()|};
                    {{take}}
                    try
                    {
                        return n + audit.Execute("insert into audit values (1)");
                    }
                    finally
                    {
                        audit.Release();
                    }
                }
                finally
                {
                    {|#1:conn.Release()|};
                }
            }
        }
        """, $$"""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            static PooledConnection Next(Pool pool) => pool.GetConnection();

            async Task<int> M(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    var n = conn.Execute("select 1");
                    {|#0:conn.Release()|};
                    {{take}}
                    try
                    {
                        return n + audit.Execute("insert into audit values (1)");
                    }
                    finally
                    {
                        audit.Release();
                    }
                }
                finally
                {
                    {|#1:conn.Release()|};
                }
            }
        }
        """,
        Tdg004("'conn'", "is released at line 14 and again in the 'finally' at line 27"));

    [Fact]
    public Task An_early_release_in_a_try_is_removed_when_the_other_connection_is_taken_after_the_finally() => VerifyAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var conn = pool.GetConnection();
                int n;
                try
                {
                    n = conn.Execute("select 1");
                    {|#0:conn.Release()|};
                }
                finally
                {
                    {|#1:conn.Release()|};
                }

                var audit = pool.GetConnection();
                try
                {
                    return n + audit.Execute("insert into audit values (1)");
                }
                finally
                {
                    audit.Release();
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
                int n;
                try
                {
                    n = conn.Execute("select 1");
                }
                finally
                {
                    conn.Release();
                }

                var audit = pool.GetConnection();
                try
                {
                    return n + audit.Execute("insert into audit values (1)");
                }
                finally
                {
                    audit.Release();
                }
            }
        }
        """,
        Tdg004("'conn'", "is released at line 12 and again in the 'finally' at line 16"));

    // Audit takes a connection of the same pool through Write: without the explicit release the method would hold two,
    // and a pool of one would wait for itself.
    [Fact]
    public Task No_fix_when_a_method_called_before_the_finally_takes_another_connection()
    {
        const string source = """
            using Prelude;
            
            class C
            {
                private readonly Pool _pool = new Pool();
            
                void M()
                {
                    var conn = _pool.GetConnection();
                    try
                    {
                        conn.Execute("update a set b = 1");
                        {|#0:conn.Release()|};
                        Audit("updated");
                    }
                    finally
                    {
                        {|#1:conn.Release()|};
                    }
                }
            
                void Audit(string what) => Write(what);
            
                void Write(string what)
                {
                    var other = _pool.GetConnection();
                    try
                    {
                        other.Execute(what);
                    }
                    finally
                    {
                        other.Release();
                    }
                }
            }
            """;
        return VerifyAsync(
            source, source, Tdg004("'conn'", "is released at line 13 and again in the 'finally' at line 18"));
    }

    // The '#region' above the release is its trivia: removing the release alone would leave the '#endregion' unmatched.
    [Fact]
    public Task No_fix_for_a_release_under_a_directive()
    {
        const string source = """
            using Prelude;

            class C
            {
                void M(Pool pool)
                {
                    var conn = pool.GetConnection();
                    try
                    {
                        conn.Execute("update a set b = 1");
                        #region Early release
                        {|#0:conn.Release()|};
                        #endregion
                    }
                    finally
                    {
                        {|#1:conn.Release()|};
                    }
                }
            }
            """;
        return VerifyAsync(
            source, source, Tdg004("'conn'", "is released at line 12 and again in the 'finally' at line 17"));
    }
}
