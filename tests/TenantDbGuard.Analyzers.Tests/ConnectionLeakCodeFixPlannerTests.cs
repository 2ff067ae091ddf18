using TenantDbGuard.Analyzers.Tests.FixExecution;
using TenantDbGuard.Analyzers.Tests.Verifiers;
using Verify = TenantDbGuard.Analyzers.Tests.Verifiers.CSharpCodeFixVerifier<
    TenantDbGuard.Analyzers.ConnectionLeakAnalyzer,
    TenantDbGuard.CodeFixes.ConnectionLeakCodeFixProvider>;

namespace TenantDbGuard.Analyzers.Tests;

/// <summary>
/// Which fix the planner picks for where the connection lives: a switch section that needs braces first, a
/// conditional acquisition whose other branch is empty, a value that is a pool rather than a connection, and a
/// connection a <c>try</c> already protects.
/// </summary>
[Collection(FixExecutionCollection.Name)]
public sealed class ConnectionLeakCodeFixPlannerTests
{
    private const string ReleaseInFinally = "TDG001.ReleaseInFinally";
    private const string DisposeOnFailure = "TDG001.DisposeOnFailure";

    // ---------------------------------------------------------------- switch sections

    [Fact]
    public Task An_acquisition_in_a_switch_section_gets_braces_and_a_finally() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool, int kind)
            {
                switch (kind)
                {
                    case 2:
                        var conn = [|pool.GetConnection()|];
                        var rows = conn.Execute("select 1");
                        conn.Release();
                        return rows;
                    default:
                        return 0;
                }
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(Pool pool, int kind)
            {
                switch (kind)
                {
                    case 2:
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
                    default:
                        return 0;
                }
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task A_comment_above_a_switch_section_s_statements_stays_once_when_they_get_braces() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool, int kind)
            {
                switch (kind)
                {
                    case 2:
                        // The second kind reads one row.
                        var conn = [|pool.GetConnection()|];
                        var rows = conn.Execute("select 1");
                        conn.Release();
                        return rows;
                    default:
                        return 0;
                }
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(Pool pool, int kind)
            {
                switch (kind)
                {
                    case 2:
                        {
                            // The second kind reads one row.
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
                    default:
                        return 0;
                }
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task A_comment_after_a_switch_section_s_last_statement_stays_after_its_braces() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool, int kind)
            {
                switch (kind)
                {
                    case 2:
                        var conn = [|pool.GetConnection()|];
                        var rows = conn.Execute("select 1"); // one row
                        conn.Release();
                        return rows; // the second kind's rows
                    default:
                        return 0;
                }
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(Pool pool, int kind)
            {
                switch (kind)
                {
                    case 2:
                        {
                            var conn = pool.GetConnection();
                            try
                            {
                                var rows = conn.Execute("select 1"); // one row
                                return rows;
                            }
                            finally
                            {
                                conn.Release();
                            }
                        } // the second kind's rows
                    default:
                        return 0;
                }
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task A_switch_section_whose_local_another_section_uses_gets_no_fix()
    {
        // The sections share one scope: braces around the first would hide 'conn' from the second.
        const string source = """
            using Prelude;

            class C
            {
                int M(Pool pool, int kind)
                {
                    switch (kind)
                    {
                        case 1:
                            var conn = [|pool.GetConnection()|];
                            var rows = conn.Execute("select 1");
                            conn.Release();
                            return rows;
                        case 2:
                            conn = pool.GetConnection();
                            try
                            {
                                return conn.Execute("select 2");
                            }
                            finally
                            {
                                conn.Release();
                            }
                        default:
                            return 0;
                    }
                }
            }
            """;
        return Verify.VerifyCodeFixAsync(source, source);
    }

    [Fact]
    public Task A_switch_section_whose_out_variable_another_section_uses_gets_no_fix()
    {
        // An out variable of a section's statement is in the switch block's scope too.
        const string source = """
            using Prelude;

            class C
            {
                int M(Pool pool, int kind, string text)
                {
                    switch (kind)
                    {
                        case 1:
                            var conn = [|pool.GetConnection()|];
                            int.TryParse(text, out var rows);
                            rows += conn.Execute("select 1");
                            conn.Release();
                            return rows;
                        case 2:
                            rows = 5;
                            return rows;
                        default:
                            return 0;
                    }
                }
            }
            """;
        return Verify.VerifyCodeFixAsync(source, source);
    }

    // ---------------------------------------------------------------- conditional acquisitions

    [Theory]
    [InlineData("flag ? ", " : null")]
    [InlineData("flag ? ", " : default")]
    [InlineData("flag ? ", " : default(PooledConnection)")]
    [InlineData("flag ? null : ", "")]
    [InlineData("!flag ? default : ", "")]
    public Task A_conditional_acquisition_whose_other_branch_is_empty_is_released_with_a_null_check(string before, string after) => Verify.VerifyCodeFixAsync($$"""
        using Prelude;

        class C
        {
            int M(Pool pool, bool flag)
            {
                var c = {{before}}[|pool.GetConnection()|]{{after}};
                var rows = c?.Execute("select 1") ?? 0;
                c?.Release();
                return rows;
            }
        }
        """, $$"""
        using Prelude;

        class C
        {
            int M(Pool pool, bool flag)
            {
                var c = {{before}}pool.GetConnection(){{after}};
                try
                {
                    var rows = c?.Execute("select 1") ?? 0;
                    return rows;
                }
                finally
                {
                    c?.Release();
                }
            }
        }
        """, ReleaseInFinally);

    [Theory]
    [InlineData("readOnly ? [|replica.GetConnection()|] : [|primary.GetConnection()|]")]
    [InlineData("(readOnly ? [|replica.GetConnection()|] : [|primary.GetConnection()|])")]
    [InlineData("kind switch { 0 => [|primary.GetConnection()|], 1 => null, _ => [|replica.GetConnection()|] }")]
    [InlineData("readOnly ? [|replica.GetConnection()|] : kind > 1 ? null : [|primary.GetConnection()|]")]
    [InlineData("kind switch { < 0 => throw new System.ArgumentOutOfRangeException(nameof(kind)), 0 => [|primary.GetConnection()|], _ => [|replica.GetConnection()|] }")]
    public Task A_choice_whose_every_branch_acquires_or_is_empty_is_released_in_finally(string choice) => Verify.VerifyCodeFixAsync($$"""
        using Prelude;

        class C
        {
            int M(Pool primary, Pool replica, bool readOnly, int kind)
            {
                var c = {{choice}};
                var rows = c?.Execute("select 1") ?? 0;
                if (rows > 100)
                {
                    return rows;
                }

                c?.Release();
                return 0;
            }
        }
        """, $$"""
        using Prelude;

        class C
        {
            int M(Pool primary, Pool replica, bool readOnly, int kind)
            {
                var c = {{choice.Replace("[|", string.Empty).Replace("|]", string.Empty)}};
                try
                {
                    var rows = c?.Execute("select 1") ?? 0;
                    if (rows > 100)
                    {
                        return rows;
                    }
                }
                finally
                {
                    c?.Release();
                }

                return 0;
            }
        }
        """, ReleaseInFinally);

    [Theory]
    [InlineData("fresh ? [|primary.GetConnection()|] : existing")]
    [InlineData("kind switch { 0 => [|primary.GetConnection()|], 1 => existing, _ => [|replica.GetConnection()|] }")]
    [InlineData("fresh ? [|primary.GetConnection()|] : Pick(existing)")]
    public Task A_choice_with_a_branch_that_gives_a_connection_the_code_already_had_gets_no_fix(string choice) => NoFixVerifier.VerifyAsync($$"""
        using Prelude;

        class C
        {
            int M(Pool primary, Pool replica, PooledConnection existing, bool fresh, int kind)
            {
                var c = {{choice}};
                var rows = c.Execute("select 1");
                if (rows > 100)
                {
                    return rows;
                }

                c.Release();
                return 0;
            }

            static PooledConnection Pick(PooledConnection connection) => connection;
        }
        """);

    // ---------------------------------------------------------------- several locals in one declaration

    [Fact]
    public Task Each_connection_of_a_declaration_with_several_locals_gets_a_declaration_of_its_own_and_is_released_in_finally() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool source, Pool target, bool skip)
            {
                PooledConnection from = [|source.GetConnection()|], to = [|target.GetConnection()|];
                var rows = from.Execute("select 1");
                if (skip)
                {
                    return 0;
                }

                rows += to.Execute("select 2");
                to.Release();
                from.Release();
                return rows;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(Pool source, Pool target, bool skip)
            {
                PooledConnection from = source.GetConnection();
                try
                {
                    PooledConnection to = target.GetConnection();
                    try
                    {
                        var rows = from.Execute("select 1");
                        if (skip)
                        {
                            return 0;
                        }

                        rows += to.Execute("select 2");
                        return rows;
                    }
                    finally
                    {
                        to.Release();
                    }
                }
                finally
                {
                    from.Release();
                }
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task A_declaration_with_several_locals_and_a_comment_keeps_the_comment_and_the_other_locals_order() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool, int start)
            {
                // the lease and a counter
                int before = start, after = before + 1;
                PooledConnection first = null, lease = [|pool.GetConnection()|];
                var rows = lease.Execute("select 1") + before + after;
                if (first != null || rows > 100)
                {
                    return rows;
                }

                lease.Release();
                return 0;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(Pool pool, int start)
            {
                // the lease and a counter
                int before = start, after = before + 1;
                PooledConnection first = null;
                PooledConnection lease = pool.GetConnection();
                try
                {
                    var rows = lease.Execute("select 1") + before + after;
                    if (first != null || rows > 100)
                    {
                        return rows;
                    }
                }
                finally
                {
                    lease.Release();
                }

                return 0;
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task A_declaration_with_several_locals_on_lines_of_their_own_keeps_the_comment_above_each() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                PooledConnection
                    // the one this method takes
                    lease = [|pool.GetConnection()|],
                    // set by a retry
                    spare = null,
                    other = null;
                var rows = lease.Execute("select 1");
                if (spare != null || other != null || rows > 100)
                {
                    return rows;
                }

                lease.Release();
                return 0;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                PooledConnection
                    // the one this method takes
                    lease = pool.GetConnection();
                try
                {
                    // set by a retry
                    PooledConnection spare = null;
                    PooledConnection other = null;
                    var rows = lease.Execute("select 1");
                    if (spare != null || other != null || rows > 100)
                    {
                        return rows;
                    }
                }
                finally
                {
                    lease.Release();
                }

                return 0;
            }
        }
        """, ReleaseInFinally);

    // ---------------------------------------------------------------- a pool is not released after use

    [Theory]
    [InlineData("IDisposable", "public Task<PooledConnection> GetConnectionAsync() => Task.FromResult(new PooledConnection());")]
    [InlineData("IDisposable", "public PooledConnection OpenConnection() => new PooledConnection();")]
    [InlineData("IDisposable", "public Task<PooledConnection> OpenConnectionAsync() => Task.FromResult(new PooledConnection());")]
    [InlineData("IDisposable", "public PooledConnection CreateConnection() => new PooledConnection();")]
    [InlineData("IDisposable", "public PooledConnection Rent() => new PooledConnection();")]
    [InlineData("IDisposable", "public Task<PooledConnection> RentAsync() => Task.FromResult(new PooledConnection());")]
    [InlineData("RentingBase, IDisposable", "")] // the pool method is inherited
    public Task A_pool_returned_by_a_GetConnection_method_gets_no_fix_whichever_way_it_hands_out_connections(string bases, string member) => NoFixVerifier.VerifyAsync($$"""
        using System;
        using System.Threading.Tasks;
        using Prelude;

        class RentingBase
        {
            public PooledConnection Rent() => new PooledConnection();
        }

        sealed class TenantPool : {{bases}}
        {
            {{member}}

            public void Dispose() { }
        }

        sealed class Pools
        {
            private readonly TenantPool _pool = new();

            public TenantPool GetConnection() => _pool;
        }

        class C
        {
            int M(Pools pools)
            {
                var pool = [|pools.GetConnection()|];
                return pool.GetHashCode();
            }
        }
        """);

    // ---------------------------------------------------------------- a connection a try already gives back

    [Fact]
    public Task A_connection_a_finally_right_after_it_releases_gets_no_second_release() => NoFixVerifier.VerifyAsync("""
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
                finally
                {
                    conn.Release();
                }
            }
        }
        """);

    [Fact]
    public Task A_connection_acquired_in_a_try_whose_finally_releases_it_gets_no_second_release() => NoFixVerifier.VerifyAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                PooledConnection conn = null;
                try
                {
                    conn = [|pool.GetConnection()|];
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
    public Task A_returned_connection_a_catch_releases_and_rethrows_gets_no_second_release() => NoFixVerifier.VerifyAsync("""
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
                catch
                {
                    conn.Release();
                    throw;
                }

                return conn;
            }
        }
        """);

    [Fact]
    public Task A_returned_connection_a_catch_of_one_error_type_releases_is_released_on_any_failure() => Verify.VerifyCodeFixAsync("""
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
                    conn.Execute("set names utf8mb4");

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
    public Task A_returned_connection_a_filtered_catch_releases_is_released_on_any_failure_and_the_catch_left_only_rethrowing_goes() => Verify.VerifyCodeFixAsync("""
        using System;
        using Prelude;

        class C
        {
            PooledConnection M(Pool pool, bool strict)
            {
                var conn = [|pool.GetConnection()|];
                try
                {
                    conn.Execute("set names utf8mb4");
                }
                catch when (strict)
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
            PooledConnection M(Pool pool, bool strict)
            {
                var conn = pool.GetConnection();
                try
                {
                    conn.Execute("set names utf8mb4");

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

    // ---------------------------------------------------------------- a local declared before the loop that acquires

    [Fact]
    public Task A_local_declared_before_the_loop_and_released_in_each_iteration_is_released_in_a_finally_inside_it() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            void M(Pool pool, string[] statements)
            {
                PooledConnection conn;
                foreach (var sql in statements)
                {
                    conn = [|pool.GetConnection()|];
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
                PooledConnection conn;
                foreach (var sql in statements)
                {
                    conn = pool.GetConnection();
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
        """, ReleaseInFinally);

    [Theory]
    [InlineData("\n\n        var rows = conn?.Execute(\"select 1\") ?? 0;\n        conn?.Release();\n        return rows;")]
    [InlineData("var rows = conn?.Execute(\"select 1\") ?? 0;\n        conn?.Release();\n        return rows;")]
    [InlineData("conn?.Execute(\"select 1\");\n        conn?.Release();\n        return 0;")]
    public Task A_connection_acquired_in_a_loop_and_used_after_it_gets_no_fix(string after)
    {
        // The last iteration's connection is still needed after the loop: a release in each iteration would break that use,
        // also one written right after the loop's brace.
        var source = $$"""
            using Prelude;

            class C
            {
                int M(Pool pool, string[] tenants)
                {
                    PooledConnection conn = null;
                    foreach (var tenant in tenants)
                    {
                        conn = [|pool.GetConnection()|];
                        conn.Execute("use " + tenant);
                    }{{after}}
                }
            }
            """;
        return Verify.VerifyCodeFixAsync(source, source);
    }

    [Fact]
    public Task A_connection_that_the_next_iteration_releases_gets_no_fix()
    {
        // Each iteration gives back the previous one's connection: it crosses iterations, and no finally inside the loop can hold that.
        const string source = """
            using Prelude;

            class C
            {
                void M(Pool pool, string[] tenants)
                {
                    PooledConnection conn = null;
                    foreach (var tenant in tenants)
                    {
                        conn?.Release();
                        conn = [|pool.GetConnection()|];
                        conn.Execute("use " + tenant);
                    }

                    conn?.Release();
                }
            }
            """;
        return Verify.VerifyCodeFixAsync(source, source);
    }

    // ---------------------------------------------------------------- acquired in a branch, used after it

    [Fact]
    public Task A_local_without_a_first_value_acquired_in_both_branches_and_used_after_them_gets_no_fix()
    {
        // A finally around the if could read the local before either branch gave it a value (CS0165).
        const string source = """
            using Prelude;

            class C
            {
                int M(Pool primary, Pool replica, bool write)
                {
                    PooledConnection conn;
                    if (write)
                    {
                        conn = [|primary.GetConnection()|];
                    }
                    else
                    {
                        conn = [|replica.GetConnection()|];
                    }

                    var rows = conn.Execute("select 1");
                    conn.Release();
                    return rows;
                }
            }
            """;
        return Verify.VerifyCodeFixAsync(source, source);
    }

    [Fact]
    public Task A_conditional_acquisition_with_no_release_of_its_own_gets_a_release_that_skips_null() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(Pool pool, bool flag)
            {
                var c = flag ? [|pool.GetConnection()|] : null;
                Log.Info("ready");
                return c?.Execute("select 1") ?? 0;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(Pool pool, bool flag)
            {
                var c = flag ? pool.GetConnection() : null;
                try
                {
                    Log.Info("ready");
                    return c?.Execute("select 1") ?? 0;
                }
                finally
                {
                    c?.Release();
                }
            }
        }
        """, ReleaseInFinally);

    [Fact]
    public Task A_conditional_acquisition_whose_branch_is_parenthesised_gets_the_same_fix() => Verify.VerifyCodeFixAsync("""
        using Prelude;
        using System.Threading.Tasks;

        class C
        {
            async Task<int> M(Pool pool, bool flag)
            {
                var c = flag ? (await [|pool.GetConnectionAsync()|]) : null;
                Log.Info("ready");
                return c?.Execute("select 1") ?? 0;
            }
        }
        """, """
        using Prelude;
        using System.Threading.Tasks;

        class C
        {
            async Task<int> M(Pool pool, bool flag)
            {
                var c = flag ? (await pool.GetConnectionAsync()) : null;
                try
                {
                    Log.Info("ready");
                    return c?.Execute("select 1") ?? 0;
                }
                finally
                {
                    c?.Release();
                }
            }
        }
        """, ReleaseInFinally);

    // What the analysis takes as a way out with the connection before it is returned, with no call or await on the way:
    // each gets the release on failure (and before the other return) that a call would.
    [Theory]
    [InlineData("if (_count > 0) { return null; }", "if (_count > 0) { conn.Release(); return null; }")]
    [InlineData("_count = checked(_count + 1);", "_count = checked(_count + 1);")]
    [InlineData("_count = checked((int)_total);", "_count = checked((int)_total);")]
    public Task A_returned_connection_with_a_way_out_that_calls_nothing_is_released_on_that_way(string between, string fixedBetween) => Verify.VerifyCodeFixAsync($$"""
        using Prelude;

        class C
        {
            private int _count;
            private long _total;

            PooledConnection M(Pool pool)
            {
                var conn = [|pool.GetConnection()|];
                {{between}}
                return conn;
            }
        }
        """, $$"""
        using Prelude;

        class C
        {
            private int _count;
            private long _total;

            PooledConnection M(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    {{fixedBetween}}
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
    public Task A_connection_stored_in_a_field_is_not_released_as_a_discarded_one() => NoFixVerifier.VerifyAsync("""
        using Prelude;

        class C
        {
            private PooledConnection _conn;

            void M(Pool pool)
            {
                _conn = [|pool.GetConnection()|];
            }
        }
        """);
}
