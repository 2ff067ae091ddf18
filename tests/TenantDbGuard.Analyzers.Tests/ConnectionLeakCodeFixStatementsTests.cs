using TenantDbGuard.Analyzers.Tests.FixExecution;
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
    public Task An_introduced_local_is_not_named_like_a_local_of_a_nested_block_further_down() => Verify.VerifyCodeFixAsync("""
        using Prelude;

        class C
        {
            int M(LeasePool pool, bool again)
            {
                var rows = [|pool.GetConnection()|].Execute("delete from sessions");
                if (again)
                {
                    var connection = "audit";
                    Log.Info(connection);
                }

                return rows;
            }
        }
        """, """
        using Prelude;

        class C
        {
            int M(LeasePool pool, bool again)
            {
                using var connection2 = pool.GetConnection();
                var rows = connection2.Execute("delete from sessions");
                if (again)
                {
                    var connection = "audit";
                    Log.Info(connection);
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
                    try
                    {
                        var extra = conn.Execute("update c set d = 1");
                        rows += extra;
                    }
                    finally
                    {
                        conn.Release();
                    }

                    foreach (var extra in ids)
                    {
                        rows += extra;
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
                        {
                            var extra = conn.Execute("update c set d = 1");
                            rows += extra;
                        }

                        foreach (var extra in ids)
                        {
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
                try
                {
                    var rows = conn.Execute("update a set b = 1");
                    {
                        int.TryParse(limit, out var extra);
                        rows += conn.Execute("update c set d = 1") + extra;
                    }

                    var total = 0;
                    foreach (var extra in new[] { rows })
                    {
                        total += extra;
                    }

                    return total;
                }
                finally
                {
                    conn.Release();
                }
            }
        }
        """, ReleaseInFinally);
}
